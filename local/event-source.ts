/**
 * A local stand-in for Lambda's SQS event source: long-polls the request queues with
 * sqs-consumer, hands each batch to the handler as an `SQSEvent`, deletes what the handler
 * acknowledged and leaves `batchItemFailures` (or a whole batch whose handler threw) to become
 * visible again after the visibility timeout — whence the queue's redrive policy moves them to
 * the DLQ after `maxReceiveCount`, as on AWS.
 */
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { Consumer } from 'sqs-consumer';

/** The handler's shape: Lambda's SQS handler with partial batch responses. */
export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

/** Settings of a {@link LocalEventSource}. */
export interface LocalEventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrls: readonly string[];
  readonly handler: SqsBatchHandler;
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

/** Polls queues and drives a handler until stopped. */
export class LocalEventSource {
  readonly #consumers: Consumer[];

  constructor(options: LocalEventSourceOptions) {
    const { maxConcurrency } = options;
    const concurrencyOf = (queueUrl: string) =>
      typeof maxConcurrency === 'number' ? maxConcurrency : (maxConcurrency?.[queueUrl] ?? 2);
    this.#consumers = options.queueUrls.flatMap((queueUrl) =>
      Array.from({ length: concurrencyOf(queueUrl) }, () => {
        const consumer = Consumer.create({
          queueUrl,
          sqs: options.sqs,
          batchSize: options.batchSize ?? 10,
          waitTimeSeconds: options.waitTimeSeconds ?? 1,
          messageAttributeNames: ['All'],
          messageSystemAttributeNames: ['All'],
          handleMessageBatch: async (messages) => {
            const event: SQSEvent = { Records: messages.map((m) => toRecord(m, queueUrl)) };
            const response = await options.handler(event);
            const failed = new Set(
              (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier),
            );
            return messages.filter((m) => !failed.has(m.MessageId ?? ''));
          },
        });
        consumer.on('processing_error', (error) => options.onError?.(error));
        consumer.on('error', (error) => options.onError?.(error));
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

function toRecord(message: Message, queueUrl: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          stringValue: value.StringValue,
          dataType: value.DataType ?? 'String',
        } as SQSRecord['messageAttributes'][string],
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    // fauxqs's URLs end in the queue name; the account in the ARN is the emulator's.
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queueUrl.slice(queueUrl.lastIndexOf('/') + 1)}`,
    awsRegion: 'us-east-1',
  };
}
