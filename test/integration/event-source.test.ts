/**
 * The local event source behaves like Lambda's SQS event source, on fauxqs with a fake handler:
 * batches of at most 10, partial batch responses (only the failed messages come back), a handler
 * that throws (the whole batch comes back) and redrive to the DLQ after `maxReceiveCount`.
 */
import {
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../local/emulators/dynalite.js';
import { createQueues, sqsClient, startSqs } from '../../local/emulators/sqs.js';
import { LocalEventSource, type SqsBatchHandler } from '../../local/event-source.js';

let sqs: RunningEmulator;
let client: SQSClient;
let source: LocalEventSource | undefined;
let queueCount = 0;

beforeAll(async () => {
  sqs = await startSqs();
  client = sqsClient(sqs.endpoint);
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
});
afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

async function queue(maxReceiveCount = 5) {
  queueCount++;
  const created = await createQueues(client, {
    prefix: `es-${queueCount}-${Date.now().toString(36)}`,
    maxReceiveCount,
    visibilityTimeoutSeconds: 1,
  });
  return { url: created.queueUrls.normal, dlqUrl: created.dlqUrl };
}

async function send(queueUrl: string, bodies: readonly string[]) {
  for (let i = 0; i < bodies.length; i += 10) {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
      }),
    );
  }
}

/** Starts a source on one queue whose handler records every batch's bodies. */
function run(
  queueUrl: string,
  handler: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>,
) {
  const batches: string[][] = [];
  const recording: SqsBatchHandler = async (event) => {
    batches.push(event.Records.map((r) => r.body));
    return handler(event);
  };
  source = new LocalEventSource({
    sqs: client,
    queueUrls: [queueUrl],
    initHandler: () => recording,
    maxConcurrency: 2,
    waitTimeSeconds: 1,
    onError: () => undefined,
  });
  source.start();
  return batches;
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function times(batches: readonly string[][], body: string): number {
  return batches.flat().filter((b) => b === body).length;
}

async function settle(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('local event source', () => {
  it('hands over batches of at most 10 and deletes what succeeded', async () => {
    const { url } = await queue();
    const bodies = Array.from({ length: 25 }, (_, i) => `m-${i}`);
    await send(url, bodies);
    const batches = run(url, async () => ({ batchItemFailures: [] }));
    await until(() => batches.flat().length >= 25);
    await settle(2_500); // past the visibility timeout: nothing comes back
    expect(batches.every((b) => b.length >= 1 && b.length <= 10)).toBe(true);
    expect(batches.some((b) => b.length > 1)).toBe(true);
    expect(batches.flat().sort()).toEqual([...bodies].sort());
  });

  it('redelivers only the messages a partial batch response names', async () => {
    const { url } = await queue();
    await send(url, ['ok-1', 'ok-2', 'fail-once', 'ok-3']);
    const failed = new Set<string>();
    const batches = run(url, async (event) => ({
      batchItemFailures: event.Records.filter((r) => {
        if (r.body !== 'fail-once' || failed.has(r.body)) return false;
        failed.add(r.body);
        return true;
      }).map((r) => ({ itemIdentifier: r.messageId })),
    }));
    await until(() => times(batches, 'fail-once') === 2);
    await settle(2_500);
    expect(times(batches, 'fail-once')).toBe(2);
    for (const body of ['ok-1', 'ok-2', 'ok-3']) expect(times(batches, body)).toBe(1);
  });

  it('redelivers the whole batch when the handler throws', async () => {
    const { url } = await queue();
    await send(url, ['t-1', 't-2', 't-3']);
    let thrown: string[] | undefined;
    const batches = run(url, async (event) => {
      if (thrown === undefined) {
        thrown = event.Records.map((r) => r.body);
        throw new Error('handler failed');
      }
      return { batchItemFailures: [] };
    });
    await until(() => thrown?.every((b) => times(batches, b) === 2) === true);
    await until(() => ['t-1', 't-2', 't-3'].every((b) => times(batches, b) >= 1));
    await settle(2_500);
    for (const body of ['t-1', 't-2', 't-3'])
      expect(times(batches, body)).toBe(thrown?.includes(body) ? 2 : 1);
  });

  it('moves a message that keeps failing to the DLQ after maxReceiveCount receives', async () => {
    const { url, dlqUrl } = await queue(2);
    await send(url, ['poison', 'fine']);
    const batches = run(url, async (event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({
        itemIdentifier: r.messageId,
      })),
    }));
    await until(() => times(batches, 'poison') === 2);
    let dead: string[] = [];
    const deadline = Date.now() + 10_000;
    while (dead.length === 0 && Date.now() < deadline) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      dead = (out.Messages ?? []).map((m) => m.Body ?? '');
    }
    expect(dead).toEqual(['poison']);
    expect(times(batches, 'poison')).toBe(2);
    expect(times(batches, 'fine')).toBe(1);
  });

  it('runs one handler per poller and hands each batch a Lambda context and Lambda-shaped records', async () => {
    const { url } = await queue();
    await send(url, ['c-1']);
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          {
            Id: '0',
            MessageBody: 'c-2',
            MessageAttributes: { 'sluice-first-seen': { DataType: 'String', StringValue: '5' } },
          },
        ],
      }),
    );
    const seen: { environment: number; context: Context; event: SQSEvent }[] = [];
    let environments = 0;
    source = new LocalEventSource({
      sqs: client,
      queueUrls: [url],
      initHandler: () => {
        const environment = environments++;
        return async (event, context) => {
          seen.push({ environment, context, event });
          return { batchItemFailures: [] };
        };
      },
      functionName: 'dispatcher-under-test',
      timeoutSeconds: 30,
      maxConcurrency: 3,
      onError: () => undefined,
    });
    source.start();
    await until(() => seen.flatMap((s) => s.event.Records).length >= 2);

    expect(environments).toBe(3);
    const [first] = seen;
    const context = first?.context as Context;
    expect(context).toMatchObject({
      functionName: 'dispatcher-under-test',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:dispatcher-under-test',
      logGroupName: '/aws/lambda/dispatcher-under-test',
      awsRequestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      logStreamName: expect.stringMatching(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/),
    });
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(30_000);
    if (seen.length > 1) expect(seen[1]?.context.awsRequestId).not.toBe(context.awsRequestId);

    const records = seen.flatMap((s) => s.event.Records);
    const withEnvelope = records.find((r) => r.body === 'c-2');
    expect(withEnvelope).toMatchObject({
      eventSource: 'aws:sqs',
      awsRegion: 'us-east-1',
      eventSourceARN: expect.stringMatching(/^arn:aws:sqs:us-east-1:\d{12}:es-/),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: {
        'sluice-first-seen': {
          stringValue: '5',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'String',
        },
      },
    });
  });
});
