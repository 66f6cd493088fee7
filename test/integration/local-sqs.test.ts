/**
 * The embedded SQS (fauxqs) does what the dispatcher relies on: per-message delays (re-queued
 * requests wait out `DelaySeconds`) and redrive to the DLQ after `maxReceiveCount` receives.
 */
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../local/emulators/dynalite.js';
import { createQueues, sqsClient, startSqs } from '../../local/emulators/sqs.js';

let sqs: RunningEmulator;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startSqs();
  client = sqsClient(sqs.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

async function receiveOne(queueUrl: string, waitSeconds: number): Promise<Message | undefined> {
  const out = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return out.Messages?.[0];
}

describe('local SQS (fauxqs)', () => {
  it('listens on loopback and creates a queue per priority, the scheduled queue and a DLQ', async () => {
    expect(sqs.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const queues = await createQueues(client, {
      prefix: 'layout',
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 30,
    });
    expect(Object.keys(queues.queueUrls).sort()).toEqual(['high', 'low', 'normal']);
    expect(queues.queueUrls.high).toMatch(/\/layout-high$/);
    expect(queues.scheduledQueueUrl).toMatch(/\/layout-scheduled$/);
    expect(queues.dlqUrl).toMatch(/\/layout-dlq$/);
    const scheduled = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queues.scheduledQueueUrl,
        AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'],
      }),
    );
    expect(JSON.parse(scheduled.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: queues.dlqArn,
      maxReceiveCount: 3,
    });
    expect(scheduled.Attributes?.VisibilityTimeout).toBe('30');
  });

  it('rejects a prefix that would make an invalid queue name', async () => {
    await expect(
      createQueues(client, { prefix: 'bad name', maxReceiveCount: 1, visibilityTimeoutSeconds: 1 }),
    ).rejects.toThrow(/prefix/);
  });

  it('holds a message for its DelaySeconds', async () => {
    const { queueUrls } = await createQueues(client, {
      prefix: 'delay',
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 30,
    });
    const sentAt = Date.now();
    await client.send(
      new SendMessageCommand({ QueueUrl: queueUrls.normal, MessageBody: 'later', DelaySeconds: 1 }),
    );
    expect(await receiveOne(queueUrls.normal, 0)).toBeUndefined();
    const message = await receiveOne(queueUrls.normal, 3);
    expect(message?.Body).toBe('later');
    // A little slack: timers and clocks are not exact to the millisecond.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900);
  });

  it('moves a message to the DLQ after maxReceiveCount receives', async () => {
    const { queueUrls, dlqUrl } = await createQueues(client, {
      prefix: 'redrive',
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: 30,
    });
    await client.send(new SendMessageCommand({ QueueUrl: queueUrls.high, MessageBody: 'poison' }));

    for (let receive = 1; receive <= 2; receive++) {
      const message = await receiveOne(queueUrls.high, 1);
      expect(message?.Body).toBe('poison');
      expect(message?.Attributes?.ApproximateReceiveCount).toBe(String(receive));
      // Give the message back at once instead of waiting out the 30 s visibility timeout.
      await client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrls.high,
          ReceiptHandle: message?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }

    // The third receive finds it over the limit: SQS moves it instead of delivering it.
    expect(await receiveOne(queueUrls.high, 1)).toBeUndefined();
    const dead = await receiveOne(dlqUrl, 2);
    expect(dead?.Body).toBe('poison');
  });
});
