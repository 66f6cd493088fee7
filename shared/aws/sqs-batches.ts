/**
 * Splitting messages into SendMessageBatch calls, in one place for the producer client and the
 * dispatcher's queue sender. One call goes to one queue and carries at most 10 entries whose
 * sizes add up to at most 1 MiB, where a message's size is its body plus every part of every
 * message attribute: name, data type and value
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html).
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { MAX_MESSAGE_BYTES } from '../contract/sizes.js';

/** SQS: at most 10 entries per SendMessageBatch call. */
export const MAX_BATCH_ENTRIES = 10;

/** SQS: the messages of one SendMessageBatch call together at most 1 MiB, the size of one message. */
export const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES;

/** Message attributes as the SDK sends them. */
export type MessageAttributes = Readonly<Record<string, MessageAttributeValue>>;

/** Messages for one SendMessageBatch call, in their input order. */
export interface SqsBatch<T> {
  readonly queueUrl: string;
  readonly entries: readonly T[];
}

/** Where a message goes and how many bytes SQS counts for it (see {@link messageBytes}). */
export interface BatchPlacement {
  readonly queueUrl: string;
  readonly bytes: number;
}

/**
 * The size SQS counts for a message: the body's UTF-8 bytes, plus for each attribute its name,
 * its data type (custom labels such as `String.id` included) and its value.
 */
export function messageBytes(body: string, attributes?: MessageAttributes): number {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes ?? {})) {
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value.DataType ?? '', 'utf8');
    if (value.StringValue !== undefined) bytes += Buffer.byteLength(value.StringValue, 'utf8');
    if (value.BinaryValue !== undefined) bytes += value.BinaryValue.byteLength;
  }
  return bytes;
}

/**
 * String attributes (Sluice's envelope: reservation, first receipt, reason) as the SDK sends them;
 * `undefined` when there are none, so that the entry carries no `MessageAttributes` at all.
 */
export function stringAttributes(
  values: Readonly<Record<string, string>> | undefined,
): MessageAttributes | undefined {
  const entries = Object.entries(values ?? {});
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
  );
}

/**
 * Groups messages into batches: by queue (queues in order of first appearance), then in input
 * order, a new batch whenever the next message would make 11 entries or more than 1 MiB. A message
 * larger than 1 MiB on its own gets a batch of its own, so SQS refuses that message and no other.
 */
export function toSqsBatches<T>(
  messages: readonly T[],
  place: (message: T) => BatchPlacement,
): SqsBatch<T>[] {
  const byQueue = new Map<string, { message: T; bytes: number }[]>();
  for (const message of messages) {
    const { queueUrl, bytes } = place(message);
    const list = byQueue.get(queueUrl) ?? [];
    list.push({ message, bytes });
    byQueue.set(queueUrl, list);
  }
  const batches: SqsBatch<T>[] = [];
  for (const [queueUrl, queued] of byQueue) {
    let entries: T[] = [];
    let total = 0;
    for (const { message, bytes } of queued) {
      const full =
        entries.length === MAX_BATCH_ENTRIES ||
        (entries.length > 0 && total + bytes > MAX_BATCH_BYTES);
      if (full) {
        batches.push({ queueUrl, entries });
        entries = [];
        total = 0;
      }
      entries.push(message);
      total += bytes;
    }
    if (entries.length > 0) batches.push({ queueUrl, entries });
  }
  return batches;
}
