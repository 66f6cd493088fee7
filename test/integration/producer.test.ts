/**
 * The producer client against the embedded emulators: fauxqs for the request queues, dynalite for
 * the requests table (whose items the tests write themselves, standing in for the dispatcher).
 */
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startDynalite } from '../../local/emulators/dynalite.js';
import {
  type CreatedQueues,
  createQueues,
  sqsClient,
  startSqs,
} from '../../local/emulators/sqs.js';
import {
  ClientConfigurationError,
  InvalidRequestError,
  MAX_BATCH_BYTES,
  MalformedResultError,
  ResultTimeoutError,
  SluiceClient,
  SluiceResultReader,
  SluiceSender,
  type SqsSender,
} from '../../shared/client/index.js';
import type { Priority, SluiceRequest } from '../../shared/contract/request.js';
import { type SluiceResult, succeededResult } from '../../shared/contract/result.js';
import {
  REQUEST_ATTRIBUTES as A,
  REQUESTS_TABLE,
  requestKey,
} from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { receiveAll } from '../support/queues.js';

let sqsServer: RunningEmulator;
let dynamoServer: RunningEmulator;
let sqs: SQSClient;
let dynamodb: DynamoDBClient;
let tableName: string;
let queuePrefixCount = 0;

beforeAll(async () => {
  [sqsServer, dynamoServer] = await Promise.all([startSqs(), startDynalite()]);
  sqs = sqsClient(sqsServer.endpoint);
  dynamodb = dynamoClient(dynamoServer.endpoint);
  tableName = await createTable(dynamodb, REQUESTS_TABLE, uniqueTableName('requests'));
});

afterAll(async () => {
  sqs?.destroy();
  dynamodb?.destroy();
  await Promise.all([sqsServer?.stop(), dynamoServer?.stop()]);
});

/** Fresh queues per test, so no test sees another's messages. */
function freshQueues(): Promise<CreatedQueues> {
  queuePrefixCount += 1;
  return createQueues(sqs, {
    prefix: `producer-${queuePrefixCount}`,
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 30,
  });
}

/** An SQS sender that records every command and lets a test change what SQS answers. */
function recordingSqs(
  intercept?: (input: SendMessageBatchCommandInput) => SendMessageBatchCommandInput,
) {
  const batches: SendMessageBatchCommandInput[] = [];
  let sends = 0;
  const sender = {
    send: async (command: unknown) => {
      sends += 1;
      if (command instanceof SendMessageBatchCommand) {
        batches.push(command.input);
        if (intercept) return sqs.send(new SendMessageBatchCommand(intercept(command.input)));
      }
      return sqs.send(command as SendMessageBatchCommand);
    },
  } as unknown as SqsSender;
  return { sender, batches, sends: () => sends };
}

function request(id: string, overrides: Partial<SluiceRequest> = {}): SluiceRequest {
  return {
    v: 1,
    id,
    target: { account: '123456789012', region: 'eu-west-1' },
    call: { service: 'ec2', operation: 'DescribeInstances', input: { MaxResults: 5 } },
    ...overrides,
  };
}

async function putItem(
  id: string,
  status: string,
  attempts: number,
  result?: SluiceResult | string,
): Promise<void> {
  const now = Date.now();
  await dynamodb.send(
    new PutItemCommand({
      TableName: tableName,
      Item: {
        [A.id]: { S: requestKey('default', id) },
        [A.status]: { S: status },
        [A.attempts]: { N: String(attempts) },
        [A.receivedAt]: { N: String(now) },
        [A.updatedAt]: { N: String(now) },
        [A.expiresAt]: { N: String(Math.floor(now / 1000) + 3600) },
        // A running request is claimed: the dispatcher writes its lease with the claim.
        ...(status === 'running'
          ? { [A.leaseOwner]: { S: 'dispatcher-1' }, [A.leaseUntil]: { N: String(now + 60_000) } }
          : {}),
        ...(result === undefined
          ? {}
          : { [A.result]: { S: typeof result === 'string' ? result : JSON.stringify(result) } }),
      },
    }),
  );
}

function succeeded(id: string): SluiceResult {
  const now = Date.now();
  return succeededResult(id, 1, { Reservations: [] }, { receivedAt: now - 50, finishedAt: now });
}

describe('SluiceClient.submit', () => {
  it('sends a request to the queue of its priority, body = the request JSON', async () => {
    const { queueUrls } = await freshQueues();
    const client = new SluiceClient({ sqs, dynamodb, queueUrls, requestsTableName: tableName });
    const urgent = request('route-high', { priority: 'high', tags: { team: 'web' } });
    const plain = request('route-normal');

    const sentHigh = await client.submit(urgent);
    const sentNormal = await client.submit(plain);
    expect(sentHigh.id).toBe('route-high');
    expect(sentHigh.messageId).toEqual(expect.any(String));

    const high = await receiveAll(sqs, queueUrls.high, 1);
    const normal = await receiveAll(sqs, queueUrls.normal, 1);
    const low = await receiveAll(sqs, queueUrls.low);
    expect(high.map((m) => m.MessageId)).toEqual([sentHigh.messageId]);
    expect(high[0]?.Body).toBe(JSON.stringify(urgent));
    expect(normal.map((m) => m.MessageId)).toEqual([sentNormal.messageId]);
    expect(JSON.parse(normal[0]?.Body ?? 'null')).toEqual(plain);
    expect(low).toEqual([]);
  });

  it('routes every priority to normal when only normal is configured', async () => {
    const { queueUrls } = await freshQueues();
    const client = new SluiceClient({ sqs, dynamodb, queueUrls: { normal: queueUrls.normal } });
    await client.submit(request('only-normal', { priority: 'low' }));
    expect(await receiveAll(sqs, queueUrls.normal, 1)).toHaveLength(1);
  });

  it('throws InvalidRequestError naming field and rule, and sends nothing', async () => {
    const { queueUrls } = await freshQueues();
    const recorder = recordingSqs();
    const client = new SluiceClient({ sqs: recorder.sender, dynamodb, queueUrls });
    const bad = {
      ...request('bad-one'),
      target: { account: '12345', region: 'eu-west-1' },
      prority: 'high',
    };

    const error = await client.submit(bad as SluiceRequest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    const problems = (error as InvalidRequestError).problems;
    expect(problems).toContainEqual(
      expect.objectContaining({ field: 'target.account', rule: 'pattern' }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ field: 'prority', rule: 'unknown-field' }),
    );
    expect((error as Error).message).toMatch(/target\.account: must be a 12-digit/);
    expect(recorder.sends()).toBe(0);
  });

  it('rejects a request over 1 MiB as JSON before sending it', async () => {
    const { queueUrls } = await freshQueues();
    const recorder = recordingSqs();
    const client = new SluiceClient({ sqs: recorder.sender, dynamodb, queueUrls });
    const huge = request('huge', {
      call: {
        service: 'ec2',
        operation: 'RunInstances',
        input: { UserData: 'x'.repeat(1_100_000) },
      },
    });
    const error = await client.submit(huge).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).problems).toEqual([
      expect.objectContaining({ field: '(body)', rule: 'max-size' }),
    ]);
    expect(recorder.sends()).toBe(0);
  });

  it('escapes U+FFFF, which SQS refuses in a body, so the request still arrives intact', async () => {
    const { queueUrls } = await freshQueues();
    const client = new SluiceClient({ sqs, dynamodb, queueUrls });
    const odd = request('odd-chars', { tags: { note: 'a\uFFFFb' } });
    await client.submit(odd);
    const [message] = await receiveAll(sqs, queueUrls.normal, 1);
    expect(JSON.parse(message?.Body ?? 'null')).toEqual(odd);
  });
});

describe('SluiceClient.submitBatch', () => {
  it('sends the valid requests in batches of 10 and reports the invalid ones', async () => {
    const { queueUrls } = await freshQueues();
    const recorder = recordingSqs();
    const client = new SluiceClient({ sqs: recorder.sender, dynamodb, queueUrls });
    const requests: unknown[] = Array.from({ length: 25 }, (_, i) => request(`batch-${i}`));
    requests[4] = { ...request('batch-4'), maxAttempts: 0 };
    requests[17] = { v: 1, id: 'batch-17' };

    const { sent, failed } = await client.submitBatch(requests);

    expect(sent).toHaveLength(23);
    expect(sent.map((s) => s.index)).toEqual(
      Array.from({ length: 25 }, (_, i) => i).filter((i) => i !== 4 && i !== 17),
    );
    expect(failed.map((f) => [f.index, f.id, f.code])).toEqual([
      [4, 'batch-4', 'InvalidRequest'],
      [17, 'batch-17', 'InvalidRequest'],
    ]);
    expect(failed[0]?.problems).toContainEqual(
      expect.objectContaining({ field: 'maxAttempts', rule: 'range' }),
    );
    expect(failed[1]?.problems?.map((p) => p.field)).toEqual(
      expect.arrayContaining(['target', 'call']),
    );
    expect(recorder.batches.length).toBeGreaterThanOrEqual(3);
    for (const batch of recorder.batches) {
      expect(batch.Entries?.length).toBeLessThanOrEqual(10);
      for (const entry of batch.Entries ?? []) expect(entry.Id).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    }
    const received = await receiveAll(sqs, queueUrls.normal, 1);
    expect(received.map((m) => m.MessageId).sort()).toEqual(sent.map((s) => s.messageId).sort());
  });

  it('sends each priority to its own queue', async () => {
    const { queueUrls } = await freshQueues();
    const client = new SluiceClient({ sqs, dynamodb, queueUrls });
    const priorities: Priority[] = ['high', 'low', 'normal', 'high'];
    const { sent } = await client.submitBatch(
      priorities.map((priority, i) => request(`mixed-${i}`, { priority })),
    );
    expect(sent).toHaveLength(4);
    expect(await receiveAll(sqs, queueUrls.high, 1)).toHaveLength(2);
    expect(await receiveAll(sqs, queueUrls.low, 1)).toHaveLength(1);
    expect(await receiveAll(sqs, queueUrls.normal, 1)).toHaveLength(1);
  });

  it('splits a batch that would exceed 1 MiB in total', async () => {
    const { queueUrls } = await freshQueues();
    const recorder = recordingSqs();
    const client = new SluiceClient({ sqs: recorder.sender, dynamodb, queueUrls });
    const big = (i: number) =>
      request(`big-${i}`, {
        call: {
          service: 'ec2',
          operation: 'RunInstances',
          input: { UserData: 'y'.repeat(300_000) },
        },
      });
    const { sent, failed } = await client.submitBatch([0, 1, 2, 3, 4].map(big));
    expect(failed).toEqual([]);
    expect(sent).toHaveLength(5);
    expect(recorder.batches.map((b) => b.Entries?.length)).toEqual([3, 2]);
    for (const batch of recorder.batches) {
      const bytes = (batch.Entries ?? []).reduce(
        (sum, e) => sum + Buffer.byteLength(e.MessageBody ?? '', 'utf8'),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    }
  });

  it("reports SQS's per-entry failures with SQS's code and message", async () => {
    const { queueUrls } = await freshQueues();
    // Make one entry invalid on the wire (a body of the wrong size is refused per entry), so
    // SQS answers that entry in `Failed` and still sends the rest.
    const recorder = recordingSqs((input) => ({
      ...input,
      Entries: input.Entries?.map((entry) =>
        entry.Id === '1' ? { ...entry, MessageBody: 'z'.repeat(2_000) } : entry,
      ),
    }));
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queueUrls.normal,
        Attributes: { MaximumMessageSize: '1024' },
      }),
    );
    const client = new SluiceClient({ sqs: recorder.sender, dynamodb, queueUrls });
    const { sent, failed } = await client.submitBatch([0, 1, 2].map((i) => request(`part-${i}`)));
    expect(sent.map((s) => s.id)).toEqual(['part-0', 'part-2']);
    expect(failed).toEqual([
      expect.objectContaining({
        id: 'part-1',
        index: 1,
        code: 'InvalidParameterValue',
        message: expect.stringMatching(/shorter than 1024 bytes/),
        senderFault: true,
      }),
    ]);
  });

  it('reports a whole call that fails on each of its entries, and still sends the others', async () => {
    const { queueUrls } = await freshQueues();
    const missing = `${queueUrls.low}-does-not-exist`;
    const client = new SluiceClient({ sqs, dynamodb, queueUrls: { ...queueUrls, low: missing } });
    const { sent, failed } = await client.submitBatch([
      request('whole-0', { priority: 'low' }),
      request('whole-1'),
      request('whole-2', { priority: 'low' }),
    ]);
    expect(sent.map((s) => s.id)).toEqual(['whole-1']);
    expect(failed.map((f) => [f.id, f.index])).toEqual([
      ['whole-0', 0],
      ['whole-2', 2],
    ]);
    expect(failed[0]?.code).toMatch(/QueueDoesNotExist|NonExistentQueue/);
  });
});

describe('SluiceClient.getResult and waitForResult', () => {
  it('reads unknown, waiting, running and succeeded', async () => {
    const client = new SluiceClient({ sqs, dynamodb, requestsTableName: tableName });
    expect(await client.getResult('never-sent')).toEqual({ id: 'never-sent', status: 'unknown' });

    await putItem('status-1', 'waiting', 0);
    expect(await client.getResult('status-1')).toEqual({
      id: 'status-1',
      status: 'waiting',
      attempts: 0,
    });
    await putItem('status-1', 'running', 1);
    expect(await client.getResult('status-1')).toMatchObject({ status: 'running', attempts: 1 });

    const result = succeeded('status-1');
    await putItem('status-1', 'succeeded', 1, result);
    expect(await client.getResult('status-1')).toEqual({
      id: 'status-1',
      status: 'succeeded',
      attempts: 1,
      result,
    });
  });

  it('refuses an invalid id and a malformed stored result with clear errors', async () => {
    const client = new SluiceClient({ sqs, dynamodb, requestsTableName: tableName });
    await expect(client.getResult('has#hash')).rejects.toThrow(InvalidRequestError);
    await expect(client.getResult('has#hash')).rejects.toThrow(/id: may contain only/);

    await putItem('broken-1', 'succeeded', 1, '{"v":1,"status":"succeeded"');
    const error = await client.getResult('broken-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResultError);
    expect((error as Error).message).toMatch(/broken-1.*result.*not valid JSON/);

    await putItem('broken-2', 'failed', 1, succeeded('broken-2'));
    await expect(client.getResult('broken-2')).rejects.toThrow(/says succeeded/);
  });

  it('waitForResult returns once the request finishes', async () => {
    const client = new SluiceClient({ sqs, dynamodb, requestsTableName: tableName });
    await putItem('wait-1', 'running', 1);
    const result = succeeded('wait-1');
    const finish = new Promise<void>((resolve, reject) => {
      setTimeout(() => putItem('wait-1', 'succeeded', 1, result).then(resolve, reject), 300);
    });
    const started = Date.now();
    const got = await client.waitForResult('wait-1', { timeoutMs: 5_000, pollMs: 50 });
    await finish;
    expect(got).toEqual(result);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('waitForResult times out with ResultTimeoutError carrying the last status', async () => {
    const client = new SluiceClient({ sqs, dynamodb, requestsTableName: tableName });
    await putItem('wait-2', 'waiting', 2);
    const started = Date.now();
    const error = await client
      .waitForResult('wait-2', { timeoutMs: 400, pollMs: 50 })
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect((error as ResultTimeoutError).lastStatus).toEqual({
      id: 'wait-2',
      status: 'waiting',
      attempts: 2,
    });
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(3_000);
  });
});

describe('the two halves: SluiceSender (SQS only) and SluiceResultReader (DynamoDB only)', () => {
  it('a sender sends with an SQS client alone', async () => {
    const { queueUrls } = await freshQueues();
    const sender = new SluiceSender({ sqs, queueUrls });
    const { sent, failed } = await sender.submitBatch([request('half-0'), request('half-1')]);
    expect(failed).toEqual([]);
    expect(sent.map((s) => s.id)).toEqual(['half-0', 'half-1']);
    expect(await receiveAll(sqs, queueUrls.normal, 1)).toHaveLength(2);
  });

  it('a result reader reads with a DynamoDB client alone', async () => {
    const reader = new SluiceResultReader({ dynamodb, requestsTableName: tableName });
    const result = succeeded('half-read-1');
    await putItem('half-read-1', 'succeeded', 1, result);
    expect(await reader.getResult('half-read-1')).toEqual({
      id: 'half-read-1',
      status: 'succeeded',
      attempts: 1,
      result,
    });
  });

  it('refuses settings that cannot work, naming the setting', () => {
    const errors = [
      () => new SluiceSender({ sqs, queueUrls: {} as { normal: string } }),
      () => new SluiceResultReader({ dynamodb, requestsTableName: ' ' }),
      () => new SluiceClient({}),
    ].map((build) => {
      try {
        build();
      } catch (error) {
        return error;
      }
      return undefined;
    });
    for (const error of errors) expect(error).toBeInstanceOf(ClientConfigurationError);
    expect(errors.map((error) => (error as Error).message)).toEqual([
      'queueUrls.normal is required',
      'requestsTableName must be a non-empty string',
      'SluiceClient needs sqs (to submit requests), dynamodb (to read results), or both',
    ]);
  });

  it('SluiceClient with one AWS client offers that half and says what the other needs', async () => {
    const { queueUrls } = await freshQueues();
    const sending = new SluiceClient({ sqs, queueUrls });
    await sending.submit(request('one-client-1'));
    expect(await receiveAll(sqs, queueUrls.normal, 1)).toHaveLength(1);
    const readError = await sending.getResult('one-client-1').catch((e: unknown) => e);
    expect(readError).toBeInstanceOf(ClientConfigurationError);
    expect((readError as Error).message).toBe(
      'reading results needs a DynamoDB client (dynamodb) and requestsTableName',
    );

    const reading = new SluiceClient({ dynamodb, requestsTableName: tableName });
    expect(await reading.getResult('one-client-1')).toEqual({
      id: 'one-client-1',
      status: 'unknown',
    });
    const sendError = await reading.submit(request('one-client-2')).catch((e: unknown) => e);
    expect(sendError).toBeInstanceOf(ClientConfigurationError);
    expect((sendError as Error).message).toBe(
      'submitting requests needs an SQS client (sqs) and queueUrls',
    );
  });

  it('a running record without its lease is malformed, naming each missing attribute', async () => {
    const reader = new SluiceResultReader({ dynamodb, requestsTableName: tableName });
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          [A.id]: { S: requestKey('default', 'no-lease-1') },
          [A.status]: { S: 'running' },
          [A.attempts]: { N: '1' },
        },
      }),
    );
    const error = await reader.getResult('no-lease-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResultError);
    expect((error as Error).message).toBe(
      'stored record of request no-lease-1 is malformed: 2 problems: ' +
        'leaseOwner: is required (required); leaseUntil: is required (required)',
    );
  });
});
