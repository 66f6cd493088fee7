/**
 * A local stand-in for Lambda's SQS event source: long-polls the request queues with
 * sqs-consumer, hands each batch to the handler as an `SQSEvent` with a Lambda `context`, deletes
 * what the handler acknowledged and leaves `batchItemFailures` (or a whole batch whose handler
 * threw) to become visible again after the visibility timeout — whence the queue's redrive
 * policy moves them to the DLQ after `maxReceiveCount`, as on AWS.
 *
 * Each poller is one execution environment with a handler of its own, as each batch in flight on
 * Lambda has an environment of its own: a handler's module-scope state (Powertools' batch
 * processor, its logger's invocation context) never serves two batches at once.
 *
 * A poller whose receives fail (SQS unreachable) backs off, doubling up to
 * {@link MAX_POLL_BACKOFF_MS}, as Lambda's pollers do, instead of retrying in a tight loop.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { Consumer } from 'sqs-consumer';
import { sleep } from '../shared/util/sleep.js';
import { lambdaContext, logStreamName, sqsRecordOf } from './lambda-events.js';

/** The handler's shape: Lambda's SQS handler with partial batch responses. */
export type SqsBatchHandler = (
  event: SQSEvent,
  context: Context,
) => Promise<SQSBatchResponse | undefined>;

/** Settings of a {@link LocalEventSource}. */
export interface LocalEventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrls: readonly string[];
  /**
   * Lambda's init phase: builds the handler of one execution environment. Called once per
   * poller (see {@link maxConcurrency}).
   */
  readonly initHandler: () => SqsBatchHandler;
  /** The function's name in each invocation's context. @default 'sluice-dispatcher' */
  readonly functionName?: string;
  /** The function's timeout, as the context reports it (nothing enforces it here). @default 60 */
  readonly timeoutSeconds?: number;
  /** Messages per batch, at most 10 (one ReceiveMessage). @default 10 */
  readonly batchSize?: number;
  /**
   * Batches in flight at once per queue, like the event source's maximum concurrency; a number
   * for every queue, or one per queue URL (2 for those not listed). @default 2
   */
  readonly maxConcurrency?: number | Readonly<Record<string, number>>;
  /** Long-poll wait per receive, seconds. @default 1 */
  readonly waitTimeSeconds?: number;
  /** Called when a batch's handler throws (the whole batch will be redelivered). */
  readonly onError?: (error: Error) => void;
}

/** The first pause after a failed receive; it doubles with each failure in a row. */
export const POLL_BACKOFF_MS = 100;
/** The longest pause between two failed receives. */
export const MAX_POLL_BACKOFF_MS = 2_000;

/** Polls queues and drives a handler until stopped. */
export class LocalEventSource {
  readonly #consumers: Consumer[];

  constructor(options: LocalEventSourceOptions) {
    const { maxConcurrency } = options;
    const concurrencyOf = (queueUrl: string) =>
      typeof maxConcurrency === 'number' ? maxConcurrency : (maxConcurrency?.[queueUrl] ?? 2);
    this.#consumers = options.queueUrls.flatMap((queueUrl) =>
      Array.from({ length: concurrencyOf(queueUrl) }, () => {
        const handler = options.initHandler();
        let failures = 0;
        const environment = {
          ...(options.functionName === undefined ? {} : { functionName: options.functionName }),
          timeoutMs: (options.timeoutSeconds ?? 60) * 1_000,
          logStreamName: logStreamName(),
        };
        const consumer = Consumer.create({
          queueUrl,
          sqs: options.sqs,
          batchSize: options.batchSize ?? 10,
          waitTimeSeconds: options.waitTimeSeconds ?? 1,
          messageAttributeNames: ['All'],
          messageSystemAttributeNames: ['All'],
          preReceiveMessageCallback: async () => {
            if (failures > 0) {
              await sleep(Math.min(MAX_POLL_BACKOFF_MS, POLL_BACKOFF_MS * 2 ** (failures - 1)));
            }
          },
          handleMessageBatch: async (messages) => {
            const event: SQSEvent = { Records: messages.map((m) => sqsRecordOf(m, queueUrl)) };
            const response = await handler(event, lambdaContext(environment));
            const failed = new Set(
              (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier),
            );
            return messages.filter((m) => !failed.has(m.MessageId ?? ''));
          },
        });
        consumer.on('processing_error', (error) => options.onError?.(error));
        consumer.on('error', (error) => {
          failures++;
          options.onError?.(error);
        });
        // A receive that answered, with messages or without.
        const answered = () => {
          failures = 0;
        };
        consumer.on('response_processed', answered);
        consumer.on('empty', answered);
        return consumer;
      }),
    );
  }

  start(): void {
    for (const consumer of this.#consumers) consumer.start();
  }

  /** Stops polling and waits for batches in flight (bounded). */
  async stop(): Promise<void> {
    await Promise.all(
      this.#consumers.map(
        (consumer) =>
          new Promise<void>((resolve) => {
            if (!consumer.status.isRunning) return resolve();
            const timer = setTimeout(resolve, 5_000);
            consumer.once('stopped', () => {
              clearTimeout(timer);
              resolve();
            });
            consumer.stop();
          }),
      ),
    );
  }
}
