/**
 * Producers isolated from each other (issue 13): each attack a producer can try with crafted
 * messages, run through the local stack with two producers, `alpha` and `bravo`, each with its
 * own request queue, reply queue and allowlist. The local SQS emulator sets one `SenderId` for
 * everyone and checks no IAM, so the producer is known here as on AWS: by the queue a message
 * arrived on. What only IAM enforces (who may send to which queue, the scheduled queue closed to
 * all but the dispatcher, readers limited to their keys) is asserted on the template in
 * test/infra/producers.test.ts.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import { LOCAL_ACCOUNT, type LocalStack, startLocalStack } from '../../local/stack.js';
import type { SluiceRequest } from '../../shared/contract/request.js';
import type { SluiceResult } from '../../shared/contract/result.js';
import { ENVELOPE } from '../../shared/dispatch/envelope.js';
import { BUCKETS_TABLE, bucketKey } from '../../shared/storage/tables.js';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/sqs-events.js';

const ACCOUNT = LOCAL_ACCOUNT;
type Producer = 'alpha' | 'bravo';

const PRODUCERS = [
  {
    name: 'alpha',
    allow: [
      {
        accounts: [ACCOUNT],
        service: 'ec2',
        operations: ['RunInstances', 'Describe*', 'CreateTags'],
      },
    ],
  },
  {
    name: 'bravo',
    allow: [
      {
        accounts: [ACCOUNT],
        regions: ['us-east-1'],
        service: 'ec2',
        operations: ['DescribeInstances', 'RunInstances'],
      },
    ],
  },
];

function request(id: string, operation: string, extra: Partial<SluiceRequest> = {}): SluiceRequest {
  const input =
    operation === 'RunInstances' ? { ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1 } : {};
  return {
    v: 1,
    id,
    target: { account: ACCOUNT, region: 'us-east-1' },
    call: { service: 'ec2', operation, input },
    ...extra,
  };
}

/** Sends a raw message to a producer's queue, as any SQS client could. */
async function send(
  stack: LocalStack,
  producer: Producer,
  body: unknown,
  attributes: Record<string, string> = {},
  queueUrl = stack.producerQueueUrls[producer]?.normal as string,
): Promise<void> {
  const MessageAttributes: Record<string, MessageAttributeValue> = Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      { DataType: 'String', StringValue: value },
    ]),
  );
  await stack.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
      ...(Object.keys(attributes).length > 0 ? { MessageAttributes } : {}),
    }),
  );
}

function resultOf(stack: LocalStack, producer: Producer, id: string): Promise<SluiceResult> {
  return (stack.clients[producer] as LocalStack['client']).waitForResult(id, {
    timeoutMs: 20_000,
    pollMs: 50,
  });
}

/** Waits until a producer's request is recorded as waiting (between two attempts). */
async function untilWaiting(stack: LocalStack, producer: Producer, id: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  const client = stack.clients[producer] as LocalStack['client'];
  while (Date.now() < deadline) {
    if ((await client.getResult(id)).status === 'waiting') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${producer}'s ${id} was never waiting`);
}

/** Receives from a queue until a message whose body contains `marker` arrives. */
async function receiveMatching(
  stack: LocalStack,
  queueUrl: string,
  marker: string,
): Promise<{ body: string; attributes: Record<string, string> }> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const out = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const found = (out.Messages ?? []).find((m) => (m.Body ?? '').includes(marker));
    if (found !== undefined) {
      return {
        body: found.Body ?? '',
        attributes: Object.fromEntries(
          Object.entries(found.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
        ),
      };
    }
  }
  throw new Error(`no message with ${marker} on ${queueUrl}`);
}

describe('producers isolated from each other', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ config: { producers: PRODUCERS }, start: true });
  }, 60_000);
  afterAll(async () => stack?.stop());

  it("1a. an invalid message from bravo with alpha's future id does not take the id: alpha's request runs", async () => {
    await send(stack, 'bravo', { v: 1, id: 'victim-1' });
    expect(await resultOf(stack, 'bravo', 'victim-1')).toMatchObject({ status: 'rejected' });
    await send(stack, 'alpha', request('victim-1', 'DescribeInstances'));
    expect(await resultOf(stack, 'alpha', 'victim-1')).toMatchObject({ status: 'succeeded' });
  });

  it("1b. bravo's disallowed call, and alpha's own invalid message, under the id of alpha's waiting request leave it alone", async () => {
    stack.simulator?.inject({
      kind: 'error',
      action: 'DescribeImages',
      code: 'RequestLimitExceeded',
      status: 503,
      times: 3,
    });
    await send(stack, 'alpha', request('victim-2', 'DescribeImages'));
    await untilWaiting(stack, 'alpha', 'victim-2');
    await send(stack, 'bravo', request('victim-2', 'CreateTags'));
    await send(stack, 'alpha', { v: 1, id: 'victim-2', call: 'broken' });
    expect(await resultOf(stack, 'bravo', 'victim-2')).toMatchObject({
      status: 'rejected',
      error: { problems: [{ field: 'call.operation', rule: 'not-allowed' }] },
    });
    expect(await resultOf(stack, 'alpha', 'victim-2')).toMatchObject({
      status: 'succeeded',
      attempts: 4,
    });
    // alpha's invalid message could not be recorded over its request: the DLQ keeps it.
    const dead = await receiveMatching(stack, stack.env.dlqUrl, '"broken"');
    expect(dead.attributes).toMatchObject({
      [ENVELOPE.producer]: 'alpha',
      [ENVELOPE.reason]: expect.stringContaining('not recorded: the id holds a request'),
    });
  });

  it("1c. bravo re-sending alpha's finished id with its own replyTo gets its own call's result, never alpha's; nor can it read alpha's", async () => {
    await send(stack, 'alpha', request('victim-3', 'DescribeInstances', { tags: { who: 'a' } }));
    const alphas = await resultOf(stack, 'alpha', 'victim-3');
    expect(alphas.status).toBe('succeeded');
    const bravoReplies = stack.replyQueueUrls.bravo as string;
    await send(stack, 'bravo', request('victim-3', 'DescribeInstances', { replyTo: bravoReplies }));
    const reply = JSON.parse((await receiveMatching(stack, bravoReplies, 'victim-3')).body);
    // A run of its own: received after alpha's result was finished.
    expect(reply.status).toBe('succeeded');
    expect(reply.timings.receivedAt).toBeGreaterThanOrEqual(alphas.timings.finishedAt);
    expect(await resultOf(stack, 'alpha', 'victim-3')).toEqual(alphas);
    await send(stack, 'alpha', request('alpha-only-1', 'DescribeInstances'));
    await resultOf(stack, 'alpha', 'alpha-only-1');
    expect((await stack.clients.bravo?.getResult('alpha-only-1'))?.status).toBe('unknown');
  });

  it("1d. ids of two producers are two requests: the same id launches each producer's instance, with its own ClientToken", async () => {
    const launch = (image: string) =>
      request('launch-1', 'RunInstances', {
        call: {
          service: 'ec2',
          operation: 'RunInstances',
          input: { ImageId: image, MinCount: 1, MaxCount: 1 },
        },
      });
    await send(stack, 'alpha', launch('ami-aaaaaaaa'));
    await send(stack, 'bravo', launch('ami-bbbbbbbb'));
    const [a, b] = await Promise.all([
      resultOf(stack, 'alpha', 'launch-1'),
      resultOf(stack, 'bravo', 'launch-1'),
    ]);
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
    const instanceOf = (r: SluiceResult) =>
      r.status === 'succeeded'
        ? (r.output as { Instances: { InstanceId: string; ImageId: string }[] }).Instances[0]
        : undefined;
    expect(instanceOf(a)?.ImageId).toBe('ami-aaaaaaaa');
    expect(instanceOf(b)?.ImageId).toBe('ami-bbbbbbbb');
    expect(instanceOf(a)?.InstanceId).not.toBe(instanceOf(b)?.InstanceId);
  });

  it('1e. an id re-sent with another call is answered IdConflict: never run, the record unchanged', async () => {
    const replyTo = stack.replyQueueUrls.alpha as string;
    await send(stack, 'alpha', request('conflict-1', 'DescribeInstances'));
    const first = await resultOf(stack, 'alpha', 'conflict-1');
    const launchesBefore = stack.simulator?.statsFor(ACCOUNT, 'us-east-1', 'RunInstances');
    await send(stack, 'alpha', request('conflict-1', 'RunInstances', { replyTo }));
    const reply = JSON.parse((await receiveMatching(stack, replyTo, 'IdConflict')).body);
    expect(reply).toMatchObject({
      status: 'rejected',
      id: 'conflict-1',
      error: { code: 'IdConflict', problems: [{ field: 'id', rule: 'conflict' }] },
    });
    expect(await resultOf(stack, 'alpha', 'conflict-1')).toEqual(first);
    expect(stack.simulator?.statsFor(ACCOUNT, 'us-east-1', 'RunInstances').received).toBe(
      launchesBefore?.received,
    );
  });

  it("2. a producer makes only its own allowlist's calls, in its regions, with its own reply queues", async () => {
    await send(stack, 'bravo', request('tags-1', 'CreateTags'));
    await send(
      stack,
      'bravo',
      request('west-1', 'DescribeInstances', { target: { account: ACCOUNT, region: 'us-west-2' } }),
    );
    await send(
      stack,
      'bravo',
      request('reply-1', 'DescribeInstances', { replyTo: stack.replyQueueUrls.alpha as string }),
    );
    const problems = async (id: string) => {
      const result = await resultOf(stack, 'bravo', id);
      return result.status === 'rejected'
        ? result.error.problems.map((p) => `${p.field}:${p.rule}`)
        : result.status;
    };
    expect(await problems('tags-1')).toEqual(['call.operation:not-allowed']);
    expect(await problems('west-1')).toEqual(['target.region:not-allowed']);
    expect(await problems('reply-1')).toEqual(['replyTo:not-allowed']);
    expect(stack.simulator?.statsFor(ACCOUNT, 'us-west-2', 'DescribeInstances').received).toBe(0);
    // What bravo may not do, alpha may.
    await send(
      stack,
      'alpha',
      request('west-1', 'DescribeInstances', { target: { account: ACCOUNT, region: 'us-west-2' } }),
    );
    expect(await resultOf(stack, 'alpha', 'west-1')).toMatchObject({ status: 'succeeded' });
  });

  it('3. envelope attributes a producer sets on its queue are ignored: no endless waits, no skipped admission, no borrowed identity', async () => {
    const future = String(Date.now() + 86_400_000);
    await send(stack, 'bravo', request('forged-1', 'DescribeInstances'), {
      [ENVELOPE.notBefore]: future,
      [ENVELOPE.firstSeen]: future,
      // A whole reservation, due now on a position nothing can move: believed, it would skip
      // admission (dispatcher.test.ts shows that the claim is then made without any admit).
      [ENVELOPE.runAt]: String(Date.now()),
      [ENVELOPE.timeline]: `${Date.now() * 1_000}:-1:0`,
      [ENVELOPE.producer]: 'alpha',
    });
    const result = await resultOf(stack, 'bravo', 'forged-1');
    expect(result.status).toBe('succeeded');
    // First received when SQS says it was sent, not when the producer said.
    expect(result.timings.receivedAt).toBeLessThan(Number(future) - 3_600_000);
    expect((await stack.clients.alpha?.getResult('forged-1'))?.status).toBe('unknown');
  });

  it('5. a region no partition has is refused before any client is made or any bucket written', async () => {
    for (const region of ['zz-fake-99', 'xx-nowhere-1', 'us-east-99']) {
      await send(
        stack,
        'alpha',
        request(`region-${region}`, 'DescribeInstances', { target: { account: ACCOUNT, region } }),
      );
      expect(await resultOf(stack, 'alpha', `region-${region}`)).toMatchObject({
        status: 'rejected',
        error: { problems: [{ field: 'target.region', rule: 'not-allowed' }] },
      });
      expect(stack.simulator?.statsFor(ACCOUNT, region, 'DescribeInstances').received).toBe(0);
    }
  });

  it('6. a DryRun RunInstances with MaxCount 998 leaves the instances bucket untouched', async () => {
    const region = 'ca-central-1'; // a bucket no other test touches
    await send(
      stack,
      'alpha',
      request('dry-1', 'RunInstances', {
        target: { account: ACCOUNT, region },
        call: {
          service: 'ec2',
          operation: 'RunInstances',
          input: { ImageId: 'ami-12345678', MinCount: 1, MaxCount: 998, DryRun: true },
        },
      }),
    );
    // EC2's DryRunOperation is a DryRun's success signal: the check succeeded, nothing launched.
    expect(await resultOf(stack, 'alpha', 'dry-1')).toMatchObject({
      status: 'succeeded',
      dryRun: true,
      output: {},
    });
    const ddb = localDynamoClient(stack.dynamoEndpoint);
    try {
      const item = (bucket: string) =>
        ddb.send(
          new GetItemCommand({
            TableName: stack.env.bucketsTableName,
            Key: {
              [BUCKETS_TABLE.partitionKey]: {
                S: bucketKey({ account: ACCOUNT, region, service: 'ec2', bucket }),
              },
            },
            ConsistentRead: true,
          }),
        );
      expect((await item('RunInstances')).Item).toBeDefined();
      expect((await item('RunInstances:resource')).Item).toBeUndefined();
    } finally {
      ddb.destroy();
    }
  });

  it('7. a message from a queue of no producer is refused and dead-lettered, never run', async () => {
    const foreign = stack.replyQueueUrls.alpha as string;
    const response = await stack.handler(
      sqsEvent(
        sqsRecord({
          body: JSON.stringify(request('foreign-1', 'DescribeSnapshots')),
          queueUrl: foreign,
        }),
      ),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    const dead = await receiveMatching(stack, stack.env.dlqUrl, 'foreign-1');
    expect(dead.attributes[ENVELOPE.reason]).toMatch(/^NoProducer/);
    expect(stack.simulator?.statsFor(ACCOUNT, 'us-east-1', 'DescribeSnapshots').received).toBe(0);
  });

  it('8. a message with 10 attributes of its own is still dead-lettered with its reason', async () => {
    const attributes = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`custom-${i}`, 'x']),
    );
    await send(stack, 'bravo', 'not json: ten-attributes', attributes);
    const dead = await receiveMatching(stack, stack.env.dlqUrl, 'ten-attributes');
    expect(dead.attributes).toEqual({
      [ENVELOPE.producer]: 'bravo',
      [ENVELOPE.reason]: expect.stringContaining('is not valid JSON'),
    });
  });
});

describe('every limit holds whatever a producer sets', () => {
  let stack: LocalStack;
  const maxWaitMs = 3_000;
  beforeAll(async () => {
    stack = await startLocalStack({ config: { producers: PRODUCERS, maxWaitMs }, start: true });
    // Every call of this action is throttled: only a limit ends the request.
    stack.simulator?.inject({
      kind: 'error',
      action: 'DescribeInstances',
      code: 'RequestLimitExceeded',
      status: 503,
    });
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('4. maxWaitMs counts from when SQS received the message, not from a first-seen time the producer set', async () => {
    const future = String(Date.now() + 86_400_000);
    await send(stack, 'bravo', request('wait-1', 'DescribeInstances', { maxAttempts: 100 }), {
      [ENVELOPE.firstSeen]: future,
    });
    // A forged envelope on the scheduled queue (which IAM closes to all but the dispatcher) is
    // bounded too: no first receipt later than the message's own SentTimestamp.
    await send(
      stack,
      'alpha',
      request('wait-2', 'DescribeInstances', { maxAttempts: 100 }),
      { [ENVELOPE.producer]: 'alpha', [ENVELOPE.firstSeen]: future },
      stack.env.scheduledQueueUrl,
    );
    for (const [producer, id] of [
      ['bravo', 'wait-1'],
      ['alpha', 'wait-2'],
    ] as const) {
      const result = await resultOf(stack, producer, id);
      // Not AttemptsExhausted (100 attempts), and never a first receipt in the future.
      expect(result).toMatchObject({ status: 'failed', error: { code: 'DeadlineExceeded' } });
      expect(result.timings.receivedAt).toBeLessThanOrEqual(Date.now());
    }
  });
});
