/**
 * What Lambda hands an SQS handler, for the handlers the local stack and the tests invoke: the
 * event's records as Lambda's event source mapping shapes them from received messages
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html), and the invocation `context` —
 * the fields Powertools puts on every log line (function name, version, ARN, memory size,
 * request id), the log group and stream, and the time left before the function's timeout.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';
import { queueNameOf } from '../shared/aws/sqs-url.js';
import { LOCAL_REGION } from './emulators/credentials.js';

/** The account the local stack's ARNs name (the emulators' own). */
const LOCAL_ACCOUNT_ID = '000000000000';

/** What a {@link lambdaContext} describes; all optional. */
export interface LambdaContextOptions {
  /** @default 'sluice-dispatcher' */
  readonly functionName?: string;
  /** The function's timeout: `getRemainingTimeInMillis()` counts down from it. @default 60_000 */
  readonly timeoutMs?: number;
  /** @default 1024 */
  readonly memoryLimitInMB?: number;
  /** The execution environment's log stream (one per environment, as on Lambda). @default a new one */
  readonly logStreamName?: string;
  /** @default a random UUID */
  readonly awsRequestId?: string;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
}

/** A log stream name shaped like Lambda's: `YYYY/MM/DD/[$LATEST]<32 hex>`. */
export function logStreamName(nowMs: number = Date.now()): string {
  const day = new Date(nowMs).toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

/** A context for one invocation, started now. */
export function lambdaContext(options: LambdaContextOptions = {}): Context {
  const clock = options.clock ?? Date.now;
  const functionName = options.functionName ?? 'sluice-dispatcher';
  const deadline = clock() + (options.timeoutMs ?? 60_000);
  const callbacksUnsupported = () => {
    throw new Error('Lambda context callbacks are not supported: return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 1024),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: options.logStreamName ?? logStreamName(clock()),
    getRemainingTimeInMillis: () => Math.max(0, deadline - clock()),
    done: callbacksUnsupported,
    fail: callbacksUnsupported,
    succeed: callbacksUnsupported,
  };
}

/** The ARN of a local queue: the emulator's account, the local region, the URL's queue name. */
export function localQueueArn(queueUrl: string): string {
  return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${queueNameOf(queueUrl)}`;
}

/**
 * A received message as the record Lambda puts in an SQS event: camel-cased fields, the system
 * attributes Lambda always includes, message attributes with their (always empty) list fields,
 * and the queue's ARN and region.
 */
export function sqsRecordOf(message: Message, queueUrl: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? LOCAL_ACCOUNT_ID,
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
          ...(value.BinaryValue === undefined
            ? {}
            : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
          stringListValues: [],
          binaryListValues: [],
          dataType: value.DataType ?? 'String',
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes === undefined
      ? {}
      : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: localQueueArn(queueUrl),
    awsRegion: LOCAL_REGION,
  };
}
