/**
 * Batching against the SQS emulator, which refuses a SendMessageBatch call over 1 MiB counting
 * message attributes (name, type and value) as SQS does: the dispatcher's queue sender, whose
 * messages carry attributes, must split where the bodies alone would still fit.
 */
import {
  CreateQueueCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../local/emulators/dynalite.js';
import { sqsClient, startSqs } from '../../local/emulators/sqs.js';
import { QueueSender } from '../../shared/dispatch/queue-sender.js';
import { receiveAll } from '../support/queues.js';

let server: RunningEmulator;
let sqs: SQSClient;

beforeAll(async () => {
  server = await startSqs();
  sqs = sqsClient(server.endpoint);
});

afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

async function queue(name: string): Promise<string> {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  return out.QueueUrl as string;
}

describe('QueueSender batching', () => {
  it('splits messages whose bodies fit in 1 MiB but whose attributes do not', async () => {
    const queueUrl = await queue('batches-attributes');
    const messages = [0, 1].map((i) => ({
      key: `m-${i}`,
      queueUrl,
      body: 'b'.repeat(500_000),
      attributes: { 'sluice-reason': 'r'.repeat(50_000) },
    }));
    // The emulator enforces the limit the way SQS does: one call with both is refused.
    const together: SendMessageBatchCommandInput = {
      QueueUrl: queueUrl,
      Entries: messages.map((m, i) => ({
        Id: String(i),
        MessageBody: m.body,
        MessageAttributes: {
          'sluice-reason': { DataType: 'String', StringValue: m.attributes['sluice-reason'] },
        },
      })),
    };
    const refused = await sqs.send(new SendMessageBatchCommand(together)).catch((e: unknown) => e);
    expect((refused as Error).name).toBe('BatchRequestTooLong');

    const calls: SendMessageBatchCommandInput[] = [];
    const sender = new QueueSender({
      send: (command: SendMessageBatchCommand) => {
        calls.push(command.input);
        return sqs.send(command);
      },
    } as unknown as SQSClient);
    const failed = await sender.sendAll(messages);

    expect([...failed]).toEqual([]);
    expect(calls.map((c) => c.Entries?.length)).toEqual([1, 1]);
    expect(await receiveAll(sqs, queueUrl, 1)).toHaveLength(2);
  });
});
