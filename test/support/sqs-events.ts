/**
 * SQS events for tests that invoke handlers, shaped exactly as Lambda's event source mapping
 * delivers them: every system attribute, message attributes with their list fields, MD5 digests
 * of body and attributes, the queue's ARN and region. The record shape itself is the local
 * stack's (local/lambda-events.ts), so the tests and `npm start` hand handlers the same events.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { sqsRecordOf } from '../../local/lambda-events.js';

/** One message as a test describes it; everything but the body has a default. */
export interface SqsRecordInput {
  readonly body: string;
  /** The queue it arrives from (its name becomes the event source ARN's last part). */
  readonly queueUrl: string;
  /** @default a random UUID */
  readonly messageId?: string;
  /** String message attributes (Sluice's envelope). @default {} */
  readonly attributes?: Readonly<Record<string, string>>;
  /** When SQS received it, epoch ms. @default now */
  readonly sentAtMs?: number;
  /** @default 1 */
  readonly receiveCount?: number;
  /** The sender's IAM unique id. @default an IAM user id */
  readonly senderId?: string;
}

/** A record of an SQS event, as Lambda delivers it. */
export function sqsRecord(input: SqsRecordInput): SQSRecord {
  const sentAtMs = input.sentAtMs ?? Date.now();
  const attributes = Object.entries(input.attributes ?? {});
  const message: Message = {
    MessageId: input.messageId ?? randomUUID(),
    ReceiptHandle: `AQEB${randomBytes(96).toString('base64')}`,
    Body: input.body,
    MD5OfBody: md5(Buffer.from(input.body, 'utf8')),
    Attributes: {
      ApproximateReceiveCount: String(input.receiveCount ?? 1),
      SentTimestamp: String(sentAtMs),
      SenderId: input.senderId ?? 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: String(sentAtMs + 5),
    },
    ...(attributes.length === 0
      ? {}
      : {
          MessageAttributes: Object.fromEntries(
            attributes.map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
          ),
          MD5OfMessageAttributes: attributesDigest(attributes),
        }),
  };
  return sqsRecordOf(message, input.queueUrl);
}

/** An SQS event of these records. */
export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** A Lambda invocation context: a fresh request id, 60 s left (the local stack's own). */
export { lambdaContext } from '../../local/lambda-events.js';

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

/**
 * SQS's MD5 of string message attributes: for each, by name, the length-prefixed name, data type
 * and value, with transport type 1 (string) before the value.
 */
function attributesDigest(attributes: readonly (readonly [string, string])[]): string {
  const part = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return [length, bytes];
  };
  const sorted = [...attributes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return md5(
    Buffer.concat(
      sorted.flatMap(([name, value]) => [
        ...part(name),
        ...part('String'),
        Buffer.from([1]),
        ...part(value),
      ]),
    ),
  );
}

/**
 * An invocation as a runtime in another process reads it (test/support/lambda-runtime/
 * invoke.mjs): the event, and the context's fields with `deadlineMs` (epoch ms) in place of
 * `getRemainingTimeInMillis`, which JSON cannot carry.
 */
export function invocationDocument(
  event: SQSEvent,
  context: Context,
): { event: SQSEvent; context: Record<string, unknown> } {
  const fields = Object.fromEntries(
    Object.entries(context).filter(([, value]) => typeof value !== 'function'),
  );
  return {
    event,
    context: { ...fields, deadlineMs: Date.now() + context.getRemainingTimeInMillis() },
  };
}
