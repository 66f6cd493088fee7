/**
 * The producer client: one object for callers that both send requests and read their results.
 * It composes the two halves, each usable alone: {@link SluiceSender} (SQS only) and
 * {@link SluiceResultReader} (DynamoDB only). A caller with one AWS client gets that half; the
 * other half's operations throw {@link ClientConfigurationError} saying what is missing.
 */
import type { QueueUrls } from '../config/queue-urls.js';
import type { SluiceRequest } from '../contract/request.js';
import type { SluiceResult } from '../contract/result.js';
import type { S3Sender } from '../requests/outputs.js';
import { ClientConfigurationError } from './errors.js';
import {
  type DynamoReader,
  type RequestStatus,
  SluiceResultReader,
  type SluiceResultReaderOptions,
  type WaitOptions,
} from './result-reader.js';
import {
  type SentRequest,
  SluiceSender,
  type SqsSender,
  type SubmitBatchResult,
} from './sender.js';

/** Settings of a {@link SluiceClient}. Clients are passed in, never built from configuration. */
export interface SluiceClientOptions {
  /** Needed to submit, with `queueUrls`. */
  readonly sqs?: SqsSender;
  /** Needed to read results, with `requestsTableName`. */
  readonly dynamodb?: DynamoReader;
  /** Fetches outputs stored in S3 with their results (see {@link SluiceResultReaderOptions.s3}). */
  readonly s3?: S3Sender;
  /** Needed to submit: the request queues; a priority without its own queue uses `normal`'s. */
  readonly queueUrls?: QueueUrls;
  /** Needed to read results. */
  readonly requestsTableName?: string;
  /**
   * The producer whose results to read (the one whose queue `queueUrls` names).
   * @default 'default'
   */
  readonly producer?: string;
  /** Epoch milliseconds; injected so tests control time. @default Date.now */
  readonly clock?: () => number;
}

/**
 * Sends API-call requests to Sluice's queues and reads their results.
 *
 * @example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { SQSClient } from '@aws-sdk/client-sqs';
 * import { SluiceClient } from 'sluice';
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
  readonly #sender: SluiceSender | undefined;
  readonly #reader: SluiceResultReader | undefined;
  readonly #missingToSubmit: readonly string[];
  readonly #missingToRead: readonly string[];

  /**
   * Builds the halves the options allow. Operations of a missing half reject with
   * {@link ClientConfigurationError} (as promises, like every other failure of the client).
   * @throws {ClientConfigurationError} neither `sqs` nor `dynamodb` is given, or a setting given
   * is malformed (`queueUrls` without `normal`, an empty `requestsTableName`).
   */
  constructor(options: SluiceClientOptions) {
    const { sqs, dynamodb, s3, queueUrls, requestsTableName, producer, clock } = options;
    if (sqs === undefined && dynamodb === undefined) {
      throw new ClientConfigurationError(
        'SluiceClient needs sqs (to submit requests), dynamodb (to read results), or both',
      );
    }
    this.#missingToSubmit = [
      ...(sqs === undefined ? ['an SQS client (sqs)'] : []),
      ...(queueUrls === undefined ? ['queueUrls'] : []),
    ];
    this.#missingToRead = [
      ...(dynamodb === undefined ? ['a DynamoDB client (dynamodb)'] : []),
      ...(requestsTableName === undefined ? ['requestsTableName'] : []),
    ];
    this.#sender =
      sqs === undefined || queueUrls === undefined
        ? undefined
        : new SluiceSender({ sqs, queueUrls });
    this.#reader =
      dynamodb === undefined || requestsTableName === undefined
        ? undefined
        : new SluiceResultReader({
            dynamodb,
            requestsTableName,
            ...(s3 === undefined ? {} : { s3 }),
            ...(producer === undefined ? {} : { producer }),
            ...(clock === undefined ? {} : { clock }),
          });
  }

  /**
   * Validates `request` and sends it to the queue of its priority; see {@link SluiceSender.submit}.
   * @throws {ClientConfigurationError} the client has no SQS client or no queue URLs.
   */
  async submit(request: SluiceRequest): Promise<SentRequest> {
    return this.#sending().submit(request);
  }

  /**
   * Validates and sends many requests in SendMessageBatch calls; see {@link SluiceSender.submitBatch}.
   * @throws {ClientConfigurationError} the client has no SQS client or no queue URLs.
   */
  async submitBatch(requests: readonly unknown[]): Promise<SubmitBatchResult> {
    return this.#sending().submitBatch(requests);
  }

  /**
   * Reads where request `id` stands; see {@link SluiceResultReader.getResult}.
   * @throws {ClientConfigurationError} the client has no DynamoDB client or no table name.
   */
  async getResult(id: string): Promise<RequestStatus> {
    return this.#reading().getResult(id);
  }

  /**
   * Waits until request `id` is finished; see {@link SluiceResultReader.waitForResult}.
   * @throws {ClientConfigurationError} the client has no DynamoDB client or no table name.
   */
  async waitForResult(id: string, options: WaitOptions): Promise<SluiceResult> {
    return this.#reading().waitForResult(id, options);
  }

  #sending(): SluiceSender {
    if (this.#sender === undefined) {
      const missing = this.#missingToSubmit.join(' and ');
      throw new ClientConfigurationError(`submitting requests needs ${missing}`);
    }
    return this.#sender;
  }

  #reading(): SluiceResultReader {
    if (this.#reader === undefined) {
      const missing = this.#missingToRead.join(' and ');
      throw new ClientConfigurationError(`reading results needs ${missing}`);
    }
    return this.#reader;
  }
}
