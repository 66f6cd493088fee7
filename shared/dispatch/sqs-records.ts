/** Lambda's SQS records as the dispatcher's {@link IncomingMessage}s. */
import type { SQSRecord } from 'aws-lambda';
import { queueNameOf } from '../aws/sqs-url.js';
import type { IncomingMessage } from './envelope.js';

/** Converts one SQS event record; only string message attributes are kept (the envelope's). */
export function fromSqsRecord(record: SQSRecord): IncomingMessage {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
    if (value.stringValue !== undefined) attributes[name] = value.stringValue;
  }
  return {
    messageId: record.messageId,
    body: record.body,
    attributes,
    sentAtMs: Number(record.attributes?.SentTimestamp) || 0,
    ...(record.eventSourceARN ? { queueName: queueNameOf(record.eventSourceARN) } : {}),
  };
}
