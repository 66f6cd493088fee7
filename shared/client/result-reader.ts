/**
 * Reading how requests ended: all a producer needs is a DynamoDB client, the requests table
 * that the dispatcher writes, and its own name — its requests are recorded under
 * `<producer>#<id>`, and its IAM policy lets it read only those keys. Items are read through the
 * table's one codec (shared/requests/record.ts), the same the dispatcher reads them with. An
 * output too large for the record is in S3 (the result's `outputRef`): given an S3 client, the
 * reader fetches it and returns the result with its `output`, as if it had been small.
 */
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DEFAULT_PRODUCER, PRODUCER_PATTERN, PRODUCER_RULE } from '../contract/patterns.js';
import { problemsFromIssues } from '../contract/problems.js';
import { idSchema } from '../contract/request.js';
import type { SluiceResult } from '../contract/result.js';
import { fetchOutput, OutputMismatchError, type S3Sender } from '../requests/outputs.js';
import { decodeRequestItem, MalformedRecordError } from '../requests/record.js';
import { REQUEST_ATTRIBUTES as A, requestKey } from '../storage/tables.js';
import { sleep } from '../util/sleep.js';
import {
  ClientConfigurationError,
  InvalidRequestError,
  MalformedResultError,
  ResultTimeoutError,
} from './errors.js';

/** What the reader needs of a DynamoDB client: `send`. A `DynamoDBClient` fits. */
export type DynamoReader = Pick<DynamoDBClient, 'send'>;

/** Settings of a {@link SluiceResultReader}. The client is passed in, never built from configuration. */
export interface SluiceResultReaderOptions {
  readonly dynamodb: DynamoReader;
  /** The requests table (the stack's `RequestsTableName` output). */
  readonly requestsTableName: string;
  /**
   * Fetches outputs stored in S3 (`s3:GetObject` on the outputs bucket), so results come with
   * their `output` whatever its size. Without it, a large output's result carries `outputRef`.
   * @default none
   */
  readonly s3?: S3Sender;
  /**
   * The producer whose results to read: the one the request queue you send to belongs to.
   * @default 'default' (a deployment that names no producers)
   */
  readonly producer?: string;
  /** Epoch milliseconds; injected so tests control time. @default Date.now */
  readonly clock?: () => number;
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

/** Settings of {@link SluiceResultReader.waitForResult}. */
export interface WaitOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** First pause between reads; later pauses grow by half up to {@link MAX_POLL_MS}. @default 250 */
  readonly pollMs?: number;
}

/** Longest pause between two reads of {@link SluiceResultReader.waitForResult}. */
export const MAX_POLL_MS = 5_000;

const DEFAULT_POLL_MS = 250;

/**
 * Reads the status and result of requests from the requests table.
 *
 * @example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { SluiceResultReader } from 'sluice';
 *
 * const results = new SluiceResultReader({
 *   dynamodb: new DynamoDBClient({}),
 *   requestsTableName: 'sluice-requests',
 * });
 * const result = await results.waitForResult('scale-web-42', { timeoutMs: 60_000 });
 * if (result.status === 'succeeded') console.log(result.output);
 * ```
 */
export class SluiceResultReader {
  readonly #dynamodb: DynamoReader;
  readonly #tableName: string;
  readonly #s3: S3Sender | undefined;
  readonly #producer: string;
  readonly #clock: () => number;

  /** @throws {ClientConfigurationError} `requestsTableName` is empty, or `producer` malformed. */
  constructor(options: SluiceResultReaderOptions) {
    this.#dynamodb = options.dynamodb;
    this.#s3 = options.s3;
    this.#clock = options.clock ?? Date.now;
    // Checked at run time too: JavaScript callers and JSON configuration get past the types.
    const tableName: unknown = options.requestsTableName;
    if (typeof tableName !== 'string' || tableName.trim() === '') {
      throw new ClientConfigurationError('requestsTableName must be a non-empty string');
    }
    this.#tableName = tableName;
    const producer: unknown = options.producer ?? DEFAULT_PRODUCER;
    if (typeof producer !== 'string' || !PRODUCER_PATTERN.test(producer)) {
      throw new ClientConfigurationError(`producer ${PRODUCER_RULE}`);
    }
    this.#producer = producer;
  }

  /**
   * Reads where this producer's request `id` stands (a strongly consistent read of the requests
   * table), with a large output fetched from S3 when the reader has an S3 client.
   * @throws {InvalidRequestError} `id` is not a valid request id.
   * @throws {MalformedResultError} the stored record cannot be read, or its output in S3 is not
   *   what the record says.
   */
  async getResult(id: string): Promise<RequestStatus> {
    checkId(id);
    const out = await this.#dynamodb.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [A.id]: { S: requestKey(this.#producer, id) } },
        // Strongly consistent: a producer that polls must not see a result, then no result.
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return { id, status: 'unknown' };
    let state: ReturnType<typeof decodeRequestItem>;
    try {
      state = decodeRequestItem(out.Item);
    } catch (error) {
      if (!(error instanceof MalformedRecordError)) throw error;
      throw new MalformedResultError(id, error.problems, { cause: error });
    }
    if (state.status !== 'finished') return { id, status: state.status, attempts: state.attempts };
    const result = this.#s3 === undefined ? state.result : await withOutput(state.result, this.#s3);
    return { id, status: result.status, attempts: state.attempts, result };
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
}

/**
 * The result with its output: a result that points to its output in S3 (`outputRef`) comes back
 * with the output fetched and checked, in `output`; any other result as it is. Use it for results
 * read from a reply queue or topic.
 * @throws {MalformedResultError} the object is not what `outputRef` says.
 * @throws what S3 throws (e.g. `NoSuchKey` once the output expired with the result).
 */
export async function withOutput(result: SluiceResult, s3: S3Sender): Promise<SluiceResult> {
  if (result.status !== 'succeeded' || result.outputRef === undefined) return result;
  const { outputRef, ...rest } = result;
  try {
    return { ...rest, output: await fetchOutput(s3, outputRef) };
  } catch (error) {
    if (!(error instanceof OutputMismatchError)) throw error;
    throw new MalformedResultError(result.id, error.problems, { cause: error });
  }
}

/** Refuses an id the contract would refuse, before it reaches DynamoDB. */
function checkId(id: string): void {
  const parsed = idSchema.safeParse(id, { reportInput: true });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ ...issue, path: ['id', ...issue.path] }));
    throw new InvalidRequestError(problemsFromIssues(issues));
  }
}
