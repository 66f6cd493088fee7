/**
 * Sending API-call requests to Sluice's request queues: all a producer needs is an SQS client
 * and the queue URLs.
 *
 * Requests are validated here with the same contract the dispatcher applies, so a producer learns
 * about a malformed request from an exception at the call site instead of from a `rejected` result
 * minutes later.
 */
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import { messageBytes, toSqsBatches } from '../aws/sqs-batches.js';
import { type QueueUrls, queueUrlPerPriority } from '../config/queue-urls.js';
import { describeProblems, type Problem, problem } from '../contract/problems.js';
import {
  effectivePriority,
  idSchema,
  MAX_REQUEST_BYTES,
  type Priority,
  REQUEST_SIZE_RULE,
  type SluiceRequest,
  validateRequest,
} from '../contract/request.js';
import { isRecord } from '../util/objects.js';
import { ClientConfigurationError, InvalidRequestError, SluiceClientError } from './errors.js';

/** What the sender needs of an SQS client: `send`. An `SQSClient` fits. */
export type SqsSender = Pick<SQSClient, 'send'>;

/** Settings of a {@link SluiceSender}. The client is passed in, never built from configuration. */
export interface SluiceSenderOptions {
  readonly sqs: SqsSender;
  /** The request queues; a priority without its own queue uses `normal`'s. */
  readonly queueUrls: QueueUrls;
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

/** Outcome of {@link SluiceSender.submitBatch}: every input request is in exactly one list, in input order. */
export interface SubmitBatchResult {
  readonly sent: SentBatchEntry[];
  readonly failed: FailedBatchEntry[];
}

/** The `code` of a batch entry that broke the contract (or would not fit in a message). */
export const INVALID_REQUEST_CODE = 'InvalidRequest';

// Batches in flight at once: enough to hide round trips, few enough not to trip SQS throttling.
const BATCH_CONCURRENCY = 4;

/**
 * Validates API-call requests and sends them to the request queue of their priority.
 *
 * @example
 * ```ts
 * import { SQSClient } from '@aws-sdk/client-sqs';
 * import { SluiceSender } from 'sluice';
 *
 * const sender = new SluiceSender({
 *   sqs: new SQSClient({}),
 *   queueUrls: { normal: process.env.SLUICE_QUEUE_URL! },
 * });
 * await sender.submit({
 *   v: 1,
 *   id: 'scale-web-42',
 *   target: { account: '123456789012', region: 'eu-west-1' },
 *   call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
 * });
 * ```
 */
export class SluiceSender {
  readonly #sqs: SqsSender;
  readonly #queueUrls: Readonly<Record<Priority, string>>;

  /** @throws {ClientConfigurationError} `queueUrls` has no `normal` queue. */
  constructor(options: SluiceSenderOptions) {
    this.#sqs = options.sqs;
    // Checked at run time too: JavaScript callers and JSON configuration get past the types.
    const urls: Partial<QueueUrls> | undefined = options.queueUrls;
    if (typeof urls?.normal !== 'string' || urls.normal === '') {
      throw new ClientConfigurationError('queueUrls.normal is required');
    }
    this.#queueUrls = queueUrlPerPriority(options.queueUrls);
  }

  /**
   * Validates `request` and sends it to the queue of its priority.
   * @throws {InvalidRequestError} the request breaks the contract or its JSON exceeds 1 MiB; nothing was sent.
   * SQS errors are thrown as the SDK raises them.
   */
  async submit(request: SluiceRequest): Promise<SentRequest> {
    const prepared = prepare(request);
    if (!prepared.ok) throw new InvalidRequestError(prepared.problems);
    const out = await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrls[prepared.priority],
        MessageBody: prepared.body,
      }),
    );
    if (!out.MessageId) {
      throw new SluiceClientError('SQS accepted the message but returned no MessageId');
    }
    return { id: prepared.id, messageId: out.MessageId };
  }

  /**
   * Validates and sends many requests (typed `unknown` because they are checked at run time:
   * parsed JSON can be passed as it is) with as few SendMessageBatch calls as SQS allows (10
   * entries and 1 MiB per call, one queue per call). Never throws for a request: an invalid one,
   * one SQS refuses, or a whole call that fails ends up in `failed`; the rest are still sent.
   */
  async submitBatch(requests: readonly unknown[]): Promise<SubmitBatchResult> {
    const sent: SentBatchEntry[] = [];
    const failed: FailedBatchEntry[] = [];
    const ready: Prepared[] = [];
    requests.forEach((request, index) => {
      const prepared = prepare(request);
      if (prepared.ok) {
        ready.push({ ...prepared, index });
        return;
      }
      failed.push({
        ...(prepared.id === undefined ? {} : { id: prepared.id }),
        index,
        code: INVALID_REQUEST_CODE,
        message: describeProblems(prepared.problems),
        problems: prepared.problems,
      });
    });

    const batches = toSqsBatches(ready, (entry) => ({
      queueUrl: this.#queueUrls[entry.priority],
      bytes: entry.bytes,
    }));
    const limit = pLimit(BATCH_CONCURRENCY);
    await Promise.all(
      batches.map((batch) =>
        limit(async () => {
          const outcome = await this.#sendBatch(batch.queueUrl, batch.entries);
          sent.push(...outcome.sent);
          failed.push(...outcome.failed);
        }),
      ),
    );
    sent.sort((a, b) => a.index - b.index);
    failed.sort((a, b) => a.index - b.index);
    return { sent, failed };
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
  | (Omit<Prepared, 'index'> & { readonly ok: true })
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
  const bytes = messageBytes(body);
  if (bytes > MAX_REQUEST_BYTES) {
    const text = `is ${bytes} bytes as JSON; a message may be at most ${MAX_REQUEST_BYTES} bytes (${REQUEST_SIZE_RULE})`;
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
