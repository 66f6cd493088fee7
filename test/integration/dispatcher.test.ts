/**
 * The dispatcher end to end on the embedded emulators: fauxqs (SQS), dynalite, and a provider
 * simulator that throttles like EC2 and Service Quotas, reached through AWS_ENDPOINT_URL_*.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runCli } from '../../cli/main.js';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import { LOCAL_ALLOW } from '../../local/stack.js';
import { queueNameOf } from '../../shared/aws/sqs-url.js';
import type { SluiceRequest } from '../../shared/contract/request.js';
import type { SluiceResult } from '../../shared/contract/result.js';
import type { IncomingMessage } from '../../shared/dispatch/dispatcher.js';
import { ENVELOPE } from '../../shared/dispatch/envelope.js';
import { drawsFor } from '../../shared/limits/index.js';
import type { BucketDraw } from '../../shared/limits/types.js';
import { BUCKETS_TABLE, bucketKey, idOfRequestKey } from '../../shared/storage/tables.js';
import { ACCOUNT, startDispatchStack } from '../support/dispatch-stack.js';

type Stack = Awaited<ReturnType<typeof startDispatchStack>>;

function request(
  id: string,
  operation: string,
  input: Record<string, unknown> = {},
  extra: Partial<SluiceRequest> = {},
): SluiceRequest {
  const service = operation === 'ListServiceQuotas' ? 'service-quotas' : 'ec2';
  return {
    v: 1,
    id,
    target: { account: ACCOUNT, region: 'us-east-1' },
    call: { service, operation, input },
    ...extra,
  };
}

async function resultsOf(
  stack: Stack,
  ids: readonly string[],
  timeoutMs = 45_000,
): Promise<SluiceResult[]> {
  return Promise.all(ids.map((id) => stack.client.waitForResult(id, { timeoutMs, pollMs: 200 })));
}

function totals(stack: Stack) {
  return stack.simulator.stats().reduce(
    (sum, s) => ({
      executed: sum.executed + s.executed,
      throttled: sum.throttled + s.throttled,
      duplicateTokens: sum.duplicateTokens + s.duplicateTokens,
    }),
    { executed: 0, throttled: 0, duplicateTokens: 0 },
  );
}

describe('dispatcher within the provider limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({
      config: {
        limits: {
          safetyFactor: 0.8,
          overrides: [{ service: 'ec2', bucket: 'RunInstances', rate: 10, burst: 10 }],
        },
      },
      simulator: { limits: { RunInstances: { rate: 10, burst: 10 } } },
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('turns N requests into N results, runs each ClientToken once and is never throttled', async () => {
    const requests = [
      ...Array.from({ length: 30 }, (_, i) =>
        request(`run-${i}`, 'RunInstances', { MinCount: 1, MaxCount: 1, ImageId: 'ami-1' }),
      ),
      ...Array.from({ length: 30 }, (_, i) =>
        request(`describe-${i}`, 'DescribeInstances', {
          Filters: [{ Name: 'instance-state-name', Values: ['running'] }],
        }),
      ),
      ...Array.from({ length: 15 }, (_, i) =>
        request(`quotas-${i}`, 'ListServiceQuotas', { ServiceCode: 'ec2' }),
      ),
    ];
    const sent = await stack.client.submitBatch(requests);
    expect(sent.failed).toEqual([]);

    const results = await resultsOf(
      stack,
      requests.map((r) => r.id),
    );
    expect(results.map((r) => r.status)).toEqual(requests.map(() => 'succeeded'));
    const tokens = stack.simulator.executedClientTokens();
    expect(tokens.size).toBe(30);
    expect([...tokens.values()].every((count) => count === 1)).toBe(true);
    expect(totals(stack).throttled).toBe(0);
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'RunInstances').executed).toBe(30);
  });

  it('finishes a permanent provider error as failed with the provider code, without retrying', async () => {
    stack.simulator.inject({
      kind: 'error',
      action: 'DescribeVpcs',
      code: 'UnauthorizedOperation',
      status: 403,
    });
    await stack.client.submit(request('denied-1', 'DescribeVpcs'));
    const [result] = await resultsOf(stack, ['denied-1']);
    expect(result).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'UnauthorizedOperation' },
    });
  });

  it('retries a transient provider error after a back-off and then succeeds', async () => {
    stack.simulator.inject({
      kind: 'error',
      action: 'DescribeSubnets',
      code: 'InternalError',
      status: 500,
      times: 1,
    });
    await stack.client.submit(request('flaky-1', 'DescribeSubnets'));
    const [result] = await resultsOf(stack, ['flaky-1']);
    expect(result).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('sends results to replyTo and reads them back with waitForResult', async () => {
    await stack.client.submit(
      request('reply-1', 'DescribeInstances', {}, { replyTo: stack.replyQueueUrl }),
    );
    const [stored] = await resultsOf(stack, ['reply-1']);
    const replies = await stack.drain(stack.replyQueueUrl, 1);
    expect(replies.map((r) => JSON.parse(r.body))).toEqual([stored]);
  });

  it('admits a reservation sent to a request queue: only the scheduled queue is trusted', async () => {
    // A producer forging `sluice-run-at` must not skip admission: the bucket item is written.
    const region = 'ap-southeast-2'; // a bucket no other test touches
    const forged = request(
      'forged-reservation',
      'DescribeRegions',
      {},
      {
        target: { account: ACCOUNT, region },
      },
    );
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.normal,
        MessageBody: JSON.stringify(forged),
        MessageAttributes: {
          [ENVELOPE.runAt]: { DataType: 'String', StringValue: String(Date.now()) },
        },
      }),
    );
    const [result] = await resultsOf(stack, ['forged-reservation']);
    expect(result).toMatchObject({ status: 'succeeded' });
    const ddb = localDynamoClient(stack.dynamoEndpoint);
    try {
      const [draw] = drawsFor(forged.target, forged.call);
      const item = await ddb.send(
        new GetItemCommand({
          TableName: stack.env.bucketsTableName,
          Key: { [BUCKETS_TABLE.partitionKey]: { S: bucketKey((draw as BucketDraw).ref) } },
          ConsistentRead: true,
        }),
      );
      expect(item.Item).toBeDefined();
    } finally {
      ddb.destroy();
    }
  });

  it('answers a duplicate of a finished request with the stored result and runs nothing', async () => {
    const before = stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'DescribeInstances').executed;
    await stack.client.submit(
      request('reply-1', 'DescribeInstances', {}, { replyTo: stack.replyQueueUrl }),
    );
    const replies = await stack.drain(stack.replyQueueUrl, 1);
    expect(JSON.parse(replies[0]?.body ?? '{}')).toMatchObject({
      id: 'reply-1',
      status: 'succeeded',
      attempts: 1,
    });
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'DescribeInstances').executed).toBe(
      before,
    );
  });

  it('round-trips a request through the CLI', async () => {
    const out: string[] = [];
    const io = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: () => true },
      env: stack.cliEnvironment,
    };
    const submitted = await runCli(
      [
        'submit',
        '--id',
        'cli-1',
        '--account',
        ACCOUNT,
        '--region',
        'us-east-1',
        '--service',
        'ec2',
        '--operation',
        'DescribeInstances',
      ],
      io,
    );
    expect(submitted).toBe(0);
    const waited = await runCli(['result', 'cli-1', '--wait', '--timeout', '30'], io);
    expect(waited).toBe(0);
    expect(JSON.parse(out.at(-1) ?? '{}')).toMatchObject({ id: 'cli-1', status: 'succeeded' });
  });
});

describe('dispatcher with a configured limit above the provider limit', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({
      // Others share the account: the provider allows 4/s, Sluice is told 20/s.
      config: {
        limits: { overrides: [{ service: 'ec2', bucket: 'RunInstances', rate: 20, burst: 20 }] },
      },
      simulator: { limits: { RunInstances: { rate: 4, burst: 4 } } },
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('absorbs provider throttles by re-queueing: every call completes, each token runs once', async () => {
    const requests = Array.from({ length: 24 }, (_, i) =>
      request(`over-${i}`, 'RunInstances', { MinCount: 1, MaxCount: 1 }),
    );
    await stack.client.submitBatch(requests);
    const results = await resultsOf(
      stack,
      requests.map((r) => r.id),
      60_000,
    );
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);
    const run = stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'RunInstances');
    expect(run.executed).toBe(24);
    expect(run.throttled).toBeGreaterThan(0);
    expect([...stack.simulator.executedClientTokens().values()].every((count) => count === 1)).toBe(
      true,
    );
  });
});

describe('dispatcher with poison messages in a batch', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({ config: {} });
  });
  afterAll(async () => stack?.stop());

  it('rejects each poison message with its reason and completes the rest of the batch', async () => {
    const message = (messageId: string, body: string): IncomingMessage => ({
      messageId,
      body,
      attributes: {},
      sentAtMs: Date.now(),
      queueName: queueNameOf(stack.queueUrls.normal),
    });
    const valid = request('good-1', 'DescribeInstances');
    const outcome = await stack.dispatcher.processBatch(
      [
        message('m1', 'not json at all'),
        message('m2', JSON.stringify({ ...valid, id: 'v2-1', v: 2 })),
        message('m3', JSON.stringify({ v: 1, id: 'missing-1' })),
        message(
          'm4',
          JSON.stringify({
            ...valid,
            id: 'badacct-1',
            target: { account: '123', region: 'us-east-1' },
          }),
        ),
        message(
          'm5',
          JSON.stringify(request('denied-op-1', 'TerminateInstances', { InstanceIds: ['i-1'] })),
        ),
        message(
          'm6',
          JSON.stringify({ ...valid, id: 'big-1', tags: { pad: 'x'.repeat(1_100_000) } }),
        ),
        message('m7', JSON.stringify(valid)),
        message('m8', JSON.stringify(request('good-2', 'DescribeInstances'))),
      ],
      'test-owner',
    );
    expect(outcome.failedMessageIds).toEqual([]);

    const rejection = async (id: string) => {
      const status = await stack.client.getResult(id);
      const result = status.result;
      return result?.status === 'rejected'
        ? result.error.problems?.map((p) => `${p.field}:${p.rule}`)
        : status.status;
    };
    expect(await rejection('v2-1')).toEqual(['v:literal']);
    expect(await rejection('missing-1')).toEqual(['target:required', 'call:required']);
    expect(await rejection('badacct-1')).toEqual(['target.account:pattern']);
    expect(await rejection('denied-op-1')).toEqual(['call.operation:not-allowed']);
    expect((await stack.client.getResult('good-1')).status).toBe('succeeded');
    expect((await stack.client.getResult('good-2')).status).toBe('succeeded');

    expect(await rejection('big-1')).toEqual(['(body):max-size']);
    // No usable id (not JSON): kept in the DLQ with the reason, since it cannot be recorded by id.
    const dead = await stack.drain(stack.env.dlqUrl, 1);
    expect(dead.map((d) => d.attributes['sluice-reason'])).toEqual([
      expect.stringContaining('is not valid JSON (json)'),
    ]);
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'TerminateInstances').received).toBe(0);
  });
});

describe('dispatcher killed mid-batch', () => {
  let stack: Stack;
  const crashOnce = new Set([
    'crash-before-run',
    'crash-after-run',
    'crash-after-tags',
    'crash-after-group',
  ]);
  beforeAll(async () => {
    stack = await startDispatchStack({
      config: {
        leaseMs: 1_000,
        targets: [
          {
            account: ACCOUNT,
            // CreateSecurityGroup: not safe to repeat, and its effect is not read back.
            allow: [...LOCAL_ALLOW, { service: 'ec2', operations: ['CreateSecurityGroup'] }],
          },
        ],
      },
      visibilityTimeoutSeconds: 2,
      overrides: ({ requests }) => ({
        requests: {
          // Dies after admission, before the claim: nothing ran, nothing recorded.
          claim: async (key, ...rest) => {
            const id = idOfRequestKey(key);
            if (id === 'crash-before-run' && crashOnce.delete(id))
              throw new Error('killed before run');
            return requests.claim(key, ...rest);
          },
          // Dies after the call, before its result is recorded: the lease lapses.
          finishClaimed: async (key, ...rest) => {
            const id = idOfRequestKey(key);
            if (crashOnce.delete(id) && id !== 'crash-before-run')
              throw new Error('killed before record');
            return requests.finishClaimed(key, ...rest);
          },
          markSent: requests.markSent.bind(requests),
          release: requests.release.bind(requests),
          finishOpen: requests.finishOpen.bind(requests),
          recordRejection: requests.recordRejection.bind(requests),
        },
      }),
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('loses nothing and runs nothing twice', async () => {
    await stack.client.submitBatch([
      request('crash-before-run', 'RunInstances', { MinCount: 1, MaxCount: 1 }),
      request('crash-after-run', 'RunInstances', { MinCount: 1, MaxCount: 1 }),
      request('crash-after-tags', 'CreateTags', {
        Resources: ['i-0'],
        Tags: [{ Key: 'a', Value: 'b' }],
      }),
      request('crash-after-group', 'CreateSecurityGroup', { GroupName: 'g', Description: 'g' }),
    ]);
    const [before, after, tags, group] = await resultsOf(
      stack,
      ['crash-before-run', 'crash-after-run', 'crash-after-tags', 'crash-after-group'],
      30_000,
    );
    expect(crashOnce.size).toBe(0);
    expect(before).toMatchObject({ status: 'succeeded', attempts: 1 });
    // Re-run after the lapsed lease with the same ClientToken: EC2 answers, runs nothing again.
    expect(after).toMatchObject({ status: 'succeeded', attempts: 2 });
    const run = stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'RunInstances');
    expect(run.executed).toBe(2);
    expect(run.duplicateTokens).toBe(1);
    // CreateTags has no token, but its effect can be read: the tags are there, so it succeeded
    // and is not run a second time.
    expect(tags).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      confirmedBy: 'DescribeTags',
    });
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags').executed).toBe(1);
    // CreateSecurityGroup has neither: its outcome is unknown, so it is not run a second time.
    expect(group).toMatchObject({ status: 'failed', error: { code: 'OutcomeUnknown' } });
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateSecurityGroup').executed).toBe(1);
    const dead = await stack.drain(stack.env.dlqUrl, 1);
    expect(dead.map((d) => d.attributes['sluice-reason'])).toEqual(['outcome unknown']);
  });
});
