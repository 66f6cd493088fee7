/**
 * The producer client: what a controller, provisioner or job uses to hand API calls to Sluice and
 * to read how they ended.
 *
 * Requests are validated here with the same contract the dispatcher applies, so a producer learns
 * about a malformed request from an exception at the call site instead of from a `rejected` result
 * minutes later. Results are read from the requests table that the dispatcher writes.
 */

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoSender } from '../admission/bucket-store.js';
import { type QueueUrls, queueUrlPerPriority } from '../config/queue-urls.js';
import {
  describeProblems,
  type Problem,
  problem,
  problemsFromIssues,
} from '../contract/problems.js';
import {
  effectivePriority,
  idSchema,
  MAX_MESSAGE_BYTES,
  type Priority,
  type SluiceRequest,
  validateRequest,
} from '../contract/request.js';
import { parseResult, type SluiceResult } from '../contract/result.js';
import { REQUEST_ATTRIBUTES } from '../storage/tables.js';
import { isRecord } from '../util/objects.js';
import { sleep } from '../util/sleep.js';

/** What the client needs of an SQS client: `send`. An `SQSClient` fits. */
export type SqsSender = Pick<SQSClient, 'send'>;

/** What the client needs of a DynamoDB client: `send`. A `DynamoDBClient` fits. */
export type { DynamoSender, QueueUrls };

/** Settings of a {@link SluiceClient}. Clients are passed in, never built from configuration. */
export interface SluiceClientOptions {
  readonly sqs: SqsSender;
  readonly dynamodb: DynamoSender;
  /** Needed to submit. */
  readonly queueUrls?: QueueUrls;
  /** Needed to read results. */
  readonly requestsTableName?: string;
  /** Epoch milliseconds; injected so tests control time. @default Date.now */
  readonly clock?: () => number;
}

/** A request accepted by SQS. */
export interface SentRequest {
  readonly id: string;
  readonly messageId: string;
}

/** A request of a batch accepted by SQS; `index` is its position in the input. */
export interface SentBatchEntry extends SentRequest {
  readonly index: number;
}

/** A request of a batch that was not sent. */
export interface FailedBatchEntry {
  /** The request's `id`, when it has a usable one. */
  readonly id?: string;
  /** Position in the input. */
  readonly index: number;
  /** {@link INVALID_REQUEST_CODE} for a request that broke the contract; otherwise SQS's or the SDK's code. */
  readonly code: string;
  readonly message: string;
  /** Every contract problem, for {@link INVALID_REQUEST_CODE}. */
  readonly problems?: readonly Problem[];
  /** From SQS: true when the request itself is at fault, so sending it again cannot help. */
  readonly senderFault?: boolean;
}

/** Outcome of {@link SluiceClient.submitBatch}: every input request is in exactly one list, in input order. */
export interface SubmitBatchResult {
  readonly sent: SentBatchEntry[];
  readonly failed: FailedBatchEntry[];
}

/** Where a request stands, as stored by the dispatcher. */
export type RequestStatusName =
  | 'unknown'
  | 'waiting'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'rejected';

/** A request's status; `result` is present once it finished (`succeeded`, `failed`, `rejected`). */
export interface RequestStatus {
  readonly id: string;
  /** `unknown`: no record (not received yet, never sent, or expired by TTL). */
  readonly status: RequestStatusName;
  readonly attempts?: number;
  readonly result?: SluiceResult;
}

/** Settings of {@link SluiceClient.waitForResult}. */
export interface WaitOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** First pause between reads; later pauses grow by half up to {@link MAX_POLL_MS}. @default 250 */
  readonly pollMs?: number;
}

/** The `code` of a batch entry that broke the contract (or would not fit in a message). */
export const INVALID_REQUEST_CODE = 'InvalidRequest';

/** SQS: at most 10 entries per SendMessageBatch. */
export const MAX_BATCH_ENTRIES = 10;
/** SQS: the bodies of one SendMessageBatch together at most 1 MiB, the same as one message. */
export const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES;
/** Longest pause between two reads of {@link SluiceClient.waitForResult}. */
export const MAX_POLL_MS = 5_000;

const DEFAULT_POLL_MS = 250;
// Batches in flight at once: enough to hide round trips, few enough not to trip SQS throttling.
const BATCH_CONCURRENCY = 4;
const FINISHED: ReadonlySet<RequestStatusName> = new Set(['succeeded', 'failed', 'rejected']);
const STORED_STATUSES: ReadonlySet<string> = new Set(['waiting', 'running', ...FINISHED]);

/** Base class of the errors this module throws; SDK errors pass through unchanged. */
export class SluiceClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request breaks the contract (or is too large to send); `problems` lists every reason. */
export class InvalidRequestError extends SluiceClientError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(`invalid request: ${describeProblems(problems)}`);
    this.problems = problems;
  }
}

/** {@link SluiceClient.waitForResult} ran out of time; `lastStatus` is the last status read. */
export class ResultTimeoutError extends SluiceClientError {
  readonly id: string;
  readonly timeoutMs: number;
  readonly lastStatus: RequestStatus;
  constructor(id: string, timeoutMs: number, lastStatus: RequestStatus) {
    super(
      `no result for request ${id} after ${timeoutMs} ms (last status: ${lastStatus.status}` +
        `${lastStatus.attempts === undefined ? '' : `, ${lastStatus.attempts} attempts`})`,
    );
    this.id = id;
    this.timeoutMs = timeoutMs;
    this.lastStatus = lastStatus;
  }
}

/** The requests table holds a record the client cannot read: a bug or a version mismatch. */
export class MalformedResultError extends SluiceClientError {
  readonly id: string;
  readonly problems: readonly Problem[];
  constructor(id: string, problems: readonly Problem[]) {
    super(`stored record of request ${id} is malformed: ${describeProblems(problems)}`);
    this.id = id;
    this.problems = problems;
  }
}

/** The client was not given what an operation needs (a queue URL, the table name). */
export class ClientConfigurationError extends SluiceClientError {}

/**
 * Sends API-call requests to Sluice's queues and reads their results.
 *
 * @example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { SQSClient } from '@aws-sdk/client-sqs';
 * import { SluiceClient } from './shared/client/producer.js';
 *
 * const sluice = new SluiceClient({
 *   sqs: new SQSClient({}),
 *   dynamodb: new DynamoDBClient({}),
 *   queueUrls: { normal: process.env.SLUICE_QUEUE_URL! },
 *   requestsTableName: 'sluice-requests',
 * });
 * const { id } = await sluice.submit({
 *   v: 1,
 *   id: 'scale-web-42',
 *   target: { account: '123456789012', region: 'eu-west-1' },
 *   call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
 * });
 * const result = await sluice.waitForResult(id, { timeoutMs: 60_000 });
 * if (result.status === 'succeeded') console.log(result.output);
 * ```
 */
export class SluiceClient {
  readonly #sqs: SqsSender;
  readonly #dynamodb: DynamoSender;
  readonly #queueUrls: Readonly<Record<Priority, string>> | undefined;
  readonly #tableName: string | undefined;
  readonly #clock: () => number;

  constructor(options: SluiceClientOptions) {
    this.#sqs = options.sqs;
    this.#dynamodb = options.dynamodb;
    this.#clock = options.clock ?? Date.now;
    this.#tableName = options.requestsTableName;
    if (this.#tableName !== undefined && this.#tableName.trim() === '') {
      throw new ClientConfigurationError('requestsTableName must not be empty');
    }
    const urls = options.queueUrls;
    if (urls !== undefined) {
      // Checked at run time too: JavaScript callers and JSON configuration get past the types.
      if (typeof urls.normal !== 'string' || urls.normal === '') {
        throw new ClientConfigurationError('queueUrls.normal is required');
      }
      this.#queueUrls = queueUrlPerPriority(urls);
    }
  }

  /**
   * Validates `request` and sends it to the queue of its priority.
   * @throws {InvalidRequestError} the request breaks the contract or its JSON exceeds 1 MiB; nothing was sent.
   * @throws {ClientConfigurationError} the client has no queue URLs.
   * SQS errors are thrown as the SDK raises them.
   */
  async submit(request: SluiceRequest): Promise<SentRequest> {
    const prepared = prepare(request);
    if (!prepared.ok) throw new InvalidRequestError(prepared.problems);
    const out = await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl(prepared.priority),
        MessageBody: prepared.body,
      }),
    );
    if (!out.MessageId)
      throw new SluiceClientError('SQS accepted the message but returned no MessageId');
    return { id: prepared.id, messageId: out.MessageId };
  }

  /**
   * Validates and sends many requests (typed `unknown` because they are checked at run time:
   * parsed JSON can be passed as it is) with as few SendMessageBatch calls as SQS allows (10
   * entries and 1 MiB per call, one queue per call). Never throws for a request: an invalid one,
   * one SQS refuses, or a whole call that fails ends up in `failed`; the rest are still sent.
   * @throws {ClientConfigurationError} the client has no queue URLs.
   */
  async submitBatch(requests: readonly unknown[]): Promise<SubmitBatchResult> {
    // Up front, so a misconfigured client fails the same way whatever the requests hold.
    if (this.#queueUrls === undefined) {
      throw new ClientConfigurationError('queueUrls is required to submit requests');
    }
    const sent: SentBatchEntry[] = [];
    const failed: FailedBatchEntry[] = [];
    const byQueue = new Map<string, Prepared[]>();
    requests.forEach((request, index) => {
      const prepared = prepare(request);
      if (!prepared.ok) {
        failed.push({
          ...(prepared.id === undefined ? {} : { id: prepared.id }),
          index,
          code: INVALID_REQUEST_CODE,
          message: describeProblems(prepared.problems),
          problems: prepared.problems,
        });
        return;
      }
      const queueUrl = this.#queueUrl(prepared.priority);
      const list = byQueue.get(queueUrl) ?? [];
      list.push({ ...prepared, index });
      byQueue.set(queueUrl, list);
    });

    const batches: { queueUrl: string; entries: Prepared[] }[] = [];
    for (const [queueUrl, entries] of byQueue) {
      for (const group of groupForBatches(entries)) batches.push({ queueUrl, entries: group });
    }
    await forEachLimited(batches, BATCH_CONCURRENCY, async ({ queueUrl, entries }) => {
      const outcome = await this.#sendBatch(queueUrl, entries);
      sent.push(...outcome.sent);
      failed.push(...outcome.failed);
    });
    sent.sort((a, b) => a.index - b.index);
    failed.sort((a, b) => a.index - b.index);
    return { sent, failed };
  }

  /**
   * Reads where request `id` stands (a strongly consistent read of the requests table).
   * @throws {InvalidRequestError} `id` is not a valid request id.
   * @throws {MalformedResultError} the stored record cannot be read.
   * @throws {ClientConfigurationError} the client has no requests table name.
   */
  async getResult(id: string): Promise<RequestStatus> {
    checkId(id);
    if (this.#tableName === undefined) {
      throw new ClientConfigurationError('requestsTableName is required to read results');
    }
    const A = REQUEST_ATTRIBUTES;
    const out = await this.#dynamodb.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [A.id]: { S: id } },
        // Strongly consistent: a producer that polls must not see a result, then no result.
        ConsistentRead: true,
        // `status` is a DynamoDB reserved word, hence the placeholders.
        ProjectionExpression: '#status, #attempts, #result',
        ExpressionAttributeNames: {
          '#status': A.status,
          '#attempts': A.attempts,
          '#result': A.result,
        },
      }),
    );
    if (!out.Item) return { id, status: 'unknown' };
    return readItem(id, out.Item);
  }

  /**
   * Waits until request `id` is finished and returns its result (a `failed` or `rejected` result
   * is returned, not thrown). Reads first at once, then after `pollMs`, each pause half again as
   * long as the one before, at most {@link MAX_POLL_MS}, never past the timeout.
   * @throws {ResultTimeoutError} not finished after `timeoutMs`.
   */
  async waitForResult(id: string, options: WaitOptions): Promise<SluiceResult> {
    const { timeoutMs } = options;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new RangeError(`timeoutMs must be a finite number ≥ 0, not ${timeoutMs}`);
    }
    let pause = Math.max(1, options.pollMs ?? DEFAULT_POLL_MS);
    const deadline = this.#clock() + timeoutMs;
    for (;;) {
      const status = await this.getResult(id);
      if (status.result) return status.result;
      const left = deadline - this.#clock();
      if (left <= 0) throw new ResultTimeoutError(id, timeoutMs, status);
      await sleep(Math.min(pause, left));
      pause = Math.min(MAX_POLL_MS, Math.ceil(pause * 1.5));
    }
  }

  #queueUrl(priority: Priority): string {
    if (this.#queueUrls === undefined) {
      throw new ClientConfigurationError('queueUrls is required to submit requests');
    }
    return this.#queueUrls[priority];
  }

  async #sendBatch(queueUrl: string, entries: readonly Prepared[]): Promise<SubmitBatchResult> {
    // Entry ids are positions, not request ids: unique by construction and always in SQS's
    // [A-Za-z0-9_-]{1,80} alphabet, which request ids (with `.` and `:`) are not.
    const byEntryId = new Map(entries.map((entry) => [String(entry.index), entry]));
    try {
      const out = await this.#sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.map((entry) => ({ Id: String(entry.index), MessageBody: entry.body })),
        }),
      );
      const sent: SentBatchEntry[] = [];
      const failed: FailedBatchEntry[] = [];
      for (const ok of out.Successful ?? []) {
        const entry = ok.Id === undefined ? undefined : byEntryId.get(ok.Id);
        if (!entry || !ok.MessageId) continue;
        byEntryId.delete(ok.Id as string);
        sent.push({ id: entry.id, messageId: ok.MessageId, index: entry.index });
      }
      for (const bad of out.Failed ?? []) {
        const entry = bad.Id === undefined ? undefined : byEntryId.get(bad.Id);
        if (!entry) continue;
        byEntryId.delete(bad.Id as string);
        failed.push(failedBySqs(entry, bad));
      }
      // SQS answers every entry; one it did not is not known to be sent, so say so.
      for (const entry of byEntryId.values()) {
        failed.push({
          id: entry.id,
          index: entry.index,
          code: 'MissingBatchEntry',
          message: 'SQS did not report this entry as sent or failed',
        });
      }
      return { sent, failed };
    } catch (error) {
      // The whole call failed (network, permissions, missing queue): every entry failed with it.
      const { code, message } = describeError(error);
      return {
        sent: [],
        failed: entries.map((entry) => ({ id: entry.id, index: entry.index, code, message })),
      };
    }
  }
}

type Prepared = {
  readonly id: string;
  readonly priority: Priority;
  readonly body: string;
  readonly bytes: number;
  readonly index: number;
};

type Preparation =
  | {
      readonly ok: true;
      readonly id: string;
      readonly priority: Priority;
      readonly body: string;
      readonly bytes: number;
    }
  | { readonly ok: false; readonly id?: string; readonly problems: readonly Problem[] };

/** Validates a request and makes its message body, checked against the SQS size limit. */
function prepare(value: unknown): Preparation {
  const parsed = validateRequest(value);
  if (!parsed.ok) {
    const id =
      isRecord(value) && idSchema.safeParse(value.id).success ? (value.id as string) : undefined;
    return { ok: false, ...(id === undefined ? {} : { id }), problems: parsed.problems };
  }
  const { request } = parsed;
  const body = toBody(request);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_MESSAGE_BYTES) {
    const text = `is ${bytes} bytes as JSON; a message may be at most ${MAX_MESSAGE_BYTES} bytes (the SQS limit)`;
    return { ok: false, id: request.id, problems: [problem([], 'max-size', text)] };
  }
  return { ok: true, id: request.id, priority: effectivePriority(request), body, bytes };
}

/**
 * The request as a message body. SQS refuses bodies with U+FFFE or U+FFFF, which JSON.stringify
 * leaves as they are (it already escapes control characters and lone surrogates); they can only
 * occur inside JSON strings, where `\uFFFE` / `\uFFFF` escapes mean the same, so escape them.
 */
function toBody(request: SluiceRequest): string {
  return JSON.stringify(request).replace(
    /[\uFFFE\uFFFF]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16)}`,
  );
}

/** Splits one queue's entries into SendMessageBatch groups: at most 10 entries and 1 MiB each. */
function groupForBatches(entries: readonly Prepared[]): Prepared[][] {
  const groups: Prepared[][] = [];
  let current: Prepared[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === MAX_BATCH_ENTRIES || bytes + entry.bytes > MAX_BATCH_BYTES) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function failedBySqs(entry: Prepared, bad: BatchResultErrorEntry): FailedBatchEntry {
  return {
    id: entry.id,
    index: entry.index,
    code: bad.Code ?? 'Unknown',
    message: bad.Message ?? 'SQS refused the entry without a message',
    ...(bad.SenderFault === undefined ? {} : { senderFault: bad.SenderFault }),
  };
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    // Node's network errors carry `code` (ECONNREFUSED …); SDK service errors carry `name`.
    const nodeCode = (error as { code?: unknown }).code;
    const code = typeof nodeCode === 'string' && error.name === 'Error' ? nodeCode : error.name;
    return { code, message: error.message };
  }
  return { code: 'Error', message: String(error) };
}

function checkId(id: string): void {
  const parsed = idSchema.safeParse(id, { reportInput: true });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ ...issue, path: ['id', ...issue.path] }));
    throw new InvalidRequestError(problemsFromIssues(issues));
  }
}

/** Reads a requests-table item into a status, checking what the dispatcher stored. */
function readItem(id: string, item: Record<string, AttributeValue>): RequestStatus {
  const A = REQUEST_ATTRIBUTES;
  const status = item[A.status]?.S;
  if (status === undefined || !STORED_STATUSES.has(status)) {
    const text =
      status === undefined
        ? 'is missing or not a string'
        : `is ${JSON.stringify(status)}, not one of ${[...STORED_STATUSES].join(', ')}`;
    throw new MalformedResultError(id, [problem([A.status], 'enum', text)]);
  }
  const attemptsText = item[A.attempts]?.N;
  const attempts = attemptsText === undefined ? undefined : Number(attemptsText);
  const base = {
    id,
    status: status as RequestStatusName,
    ...(attempts === undefined ? {} : { attempts }),
  };
  if (!FINISHED.has(status as RequestStatusName)) return base;

  const stored = item[A.result]?.S;
  if (stored === undefined) {
    throw new MalformedResultError(id, [
      problem([A.result], 'required', `is required once the request is ${status}`),
    ]);
  }
  const parsed = parseResult(stored);
  if (!parsed.ok) {
    // Prefix the fields so they read as paths inside the stored `result` attribute.
    throw new MalformedResultError(
      id,
      parsed.problems.map((p) => ({
        ...p,
        field: `${A.result}.${p.field}`,
        message: `${A.result}.${p.message}`,
      })),
    );
  }
  const { result } = parsed;
  if (result.status !== status) {
    const text = `says ${result.status} but the record says ${status}`;
    throw new MalformedResultError(id, [problem([A.result, 'status'], 'mismatch', text)]);
  }
  if (result.id !== undefined && result.id !== id) {
    const text = `is ${JSON.stringify(result.id)}, the record of another request`;
    throw new MalformedResultError(id, [problem([A.result, 'id'], 'mismatch', text)]);
  }
  return { ...base, result };
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
