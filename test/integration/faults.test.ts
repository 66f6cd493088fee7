/**
 * Faults through the local stack, one at a time: a provider that never answers (the call's
 * timeout ends it; a call that may have run is retried only when that is safe, or read back
 * first where its effect can be read), a DynamoDB write
 * that fails after a throttle (retried under the lease: no call that never ran ends
 * `OutcomeUnknown`), an invocation without time for a call (not claimed, re-queued), and the
 * dispatcher's own clients against a service that hangs (their timeouts end the request).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../functions/dispatcher/create-handler.js';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import { startFaultyProxy } from '../../local/faulty-proxy.js';
import { LOCAL_ALLOW } from '../../local/stack.js';
import { withTimeouts } from '../../shared/aws/client-timeouts.js';
import type { SluiceRequest } from '../../shared/contract/request.js';
import { ACCOUNT, startDispatchStack } from '../support/dispatch-stack.js';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/sqs-events.js';

type Stack = Awaited<ReturnType<typeof startDispatchStack>>;
const WAIT = { timeoutMs: 30_000, pollMs: 200 };

function request(
  id: string,
  operation: string,
  input: Record<string, unknown> = {},
): SluiceRequest {
  return {
    v: 1,
    id,
    target: { account: ACCOUNT, region: 'us-east-1' },
    call: { service: 'ec2', operation, input },
  };
}

const tags = (id: string) =>
  request(id, 'CreateTags', { Resources: [`i-${id}`], Tags: [{ Key: 'k', Value: id }] });

/** CreateTags of one key on one shared resource, with the request's own value. */
const sharedKey = (value: string) => ({
  Resources: ['i-shared'],
  Tags: [{ Key: 'k', Value: value }],
});

describe('a provider that never answers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({
      config: {
        callTimeouts: { ec2: { requestTimeoutMs: 500 } },
        targets: [
          {
            account: ACCOUNT,
            allow: [
              ...LOCAL_ALLOW,
              // Not safe to repeat, and with no way to read its effect back.
              { service: 'ec2', operations: ['CreateSecurityGroup'] },
            ],
          },
        ],
      },
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('retries a read whose call hung, after its timeout', async () => {
    stack.simulator.inject({ kind: 'hang', action: 'DescribeSubnets', times: 1 });
    await stack.client.submit(request('hung-read', 'DescribeSubnets'));

    const result = await stack.client.waitForResult('hung-read', WAIT);

    expect(result).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('ends a call that is not safe to repeat, and cannot be read back, OutcomeUnknown when it hung', async () => {
    stack.simulator.inject({ kind: 'hang', action: 'CreateSecurityGroup', times: 1 });
    const input = { GroupName: 'hung', Description: 'hung' };
    await stack.client.submit(request('hung-group', 'CreateSecurityGroup', input));

    const result = await stack.client.waitForResult('hung-group', WAIT);

    expect(result).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'OutcomeUnknown', message: expect.stringContaining('TimeoutError') },
    });
    // Here the provider hung before running it; the dispatcher could not know that.
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateSecurityGroup').executed).toBe(0);
  });

  it('reads back a tagging call that hung after it ran: succeeded, confirmed, run once', async () => {
    stack.simulator.inject({ kind: 'hang', action: 'CreateTags', afterExecute: true, times: 1 });
    const before = stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags').executed;
    await stack.client.submit(tags('hung-after'));

    const result = await stack.client.waitForResult('hung-after', WAIT);

    expect(result).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      output: {},
      confirmedBy: 'DescribeTags',
    });
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags').executed).toBe(before + 1);
  });

  it('reads back a tagging call that hung before it ran: sent again, run once', async () => {
    stack.simulator.inject({ kind: 'hang', action: 'CreateTags', times: 1 });
    const before = stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags').executed;
    await stack.client.submit(tags('hung-before'));

    const result = await stack.client.waitForResult('hung-before', WAIT);

    expect(result).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(result).not.toHaveProperty('confirmedBy');
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags').executed).toBe(before + 1);
  });

  it('does not send a hung tagging call again when its key holds another value: OutcomeUnknown', async () => {
    // Another request set the same key first: a read cannot tell "never ran" from "overwritten".
    await stack.client.submit(request('first', 'CreateTags', sharedKey('first')));
    await stack.client.waitForResult('first', WAIT);
    stack.simulator.inject({ kind: 'hang', action: 'CreateTags', times: 1 });
    const before = stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags').executed;
    await stack.client.submit(request('second', 'CreateTags', sharedKey('second')));

    const result = await stack.client.waitForResult('second', WAIT);

    expect(result).toMatchObject({
      status: 'failed',
      error: { code: 'OutcomeUnknown', message: expect.stringContaining('other values') },
    });
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags').executed).toBe(before);
  });
});

describe('a DynamoDB write that fails after a throttle', () => {
  let stack: Stack;
  let releaseFailures = 2;
  beforeAll(async () => {
    stack = await startDispatchStack({
      // A short lease and visibility: without retries, a takeover would come within seconds.
      config: { leaseMs: 2_000 },
      visibilityTimeoutSeconds: 3,
      overrides: ({ requests }) => ({
        requests: {
          claim: requests.claim.bind(requests),
          markSent: requests.markSent.bind(requests),
          release: async (...args) => {
            if (releaseFailures-- > 0) {
              throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
            }
            return requests.release(...args);
          },
          finishClaimed: requests.finishClaimed.bind(requests),
          finishOpen: requests.finishOpen.bind(requests),
          recordRejection: requests.recordRejection.bind(requests),
        },
      }),
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('is retried under the lease: the throttled call runs once later, never OutcomeUnknown', async () => {
    stack.simulator.inject({
      kind: 'error',
      action: 'CreateTags',
      code: 'RequestLimitExceeded',
      status: 503,
      times: 1,
    });
    await stack.client.submit(tags('throttled-tags'));

    const result = await stack.client.waitForResult('throttled-tags', WAIT);

    expect(releaseFailures).toBeLessThan(0);
    expect(result).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'CreateTags')).toMatchObject({
      executed: 1,
      errors: 1,
    });
  });
});

describe('an invocation without time for a call', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({ config: {} });
  });
  afterAll(async () => stack?.stop());

  it('does not claim it: the request waits, re-queued, for an invocation with time', async () => {
    const handler = createHandler({
      dispatcher: stack.dispatcher,
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'SluiceTest' }),
    });
    const body = JSON.stringify(request('no-time-1', 'DescribeVpcs'));
    // 5 s of call timeout and 3 s of bookkeeping do not fit in 6 s.
    const response = await handler(
      sqsEvent(sqsRecord({ body, queueUrl: stack.queueUrls.normal })),
      lambdaContext({ timeoutMs: 6_000 }),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect((await stack.client.getResult('no-time-1')).status).toBe('unknown');
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'DescribeVpcs').received).toBe(0);
    // Waits go to the scheduled queue, the dispatcher's own.
    const requeued = await stack.drain(stack.env.scheduledQueueUrl, 1);
    expect(requeued.map((m) => m.body)).toEqual([body]);
  });
});

describe("the dispatcher's own clients", () => {
  it('end a request to a DynamoDB that accepts connections and never answers', async () => {
    const proxy = await startFaultyProxy('http://127.0.0.1:9');
    proxy.set('hang');
    const client = localDynamoClient(proxy.endpoint, withTimeouts('dynamodb'));
    try {
      const error = await client.send(new ListTablesCommand({})).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'TimeoutError' });
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});
