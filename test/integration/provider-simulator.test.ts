/**
 * The provider simulator answers the real SDK clients as EC2 and Service Quotas do: parsed
 * successes, throttling after exactly the documented burst (from the limits catalog), refill at
 * the documented rate, `ClientToken` idempotency, per-account buckets, and injected permanent and
 * transient failures that the SDK and `@smithy/service-error-classification` see as such.
 * A fake clock makes every count exact; nothing sleeps.
 */
import {
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeTagsCommand,
  EC2Client,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  GetServiceQuotaCommand,
  ListServiceQuotasCommand,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import { isThrottlingError, isTransientError } from '@smithy/service-error-classification';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  nestQueryParams,
  type ProviderSimulator,
  type ProviderSimulatorOptions,
  startProviderSimulator,
} from '../../local/simulator/index.js';
import { EC2_ACTION_LIMITS, EC2_CATEGORY_LIMITS } from '../../shared/services/ec2.js';
import { SERVICE_QUOTAS_LIMITS } from '../../shared/services/service-quotas.js';

const START = Date.UTC(2025, 0, 1);
const REGION = 'us-east-1';
/** Access key → account, as the simulator's `accounts` option maps them. */
const KEY_A = 'AKIAACCOUNTA';
const KEY_B = 'AKIAACCOUNTB';
const ACCOUNT_A = '111111111111';
const ACCOUNT_B = '222222222222';

let now = START;
let sim: ProviderSimulator;
const clients: { destroy(): void }[] = [];

function ec2(accessKeyId = KEY_A, region = REGION): EC2Client {
  const client = new EC2Client({
    endpoint: sim.endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey: 'dummy' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

function quotas(accessKeyId = KEY_A): ServiceQuotasClient {
  const client = new ServiceQuotasClient({
    endpoint: sim.endpoint,
    region: REGION,
    credentials: { accessKeyId, secretAccessKey: 'dummy' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

/** The rejection of a promise, for assertions on the SDK's error object. */
async function failure(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the call to fail');
}

interface SdkError extends Error {
  code?: string;
  $fault?: string;
  $metadata: { httpStatusCode?: number };
  $response?: { headers: Record<string, string> };
}

const run = (input: Partial<RunInstancesCommandInput> = {}) =>
  new RunInstancesCommand({ ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1, ...input });

const BASE_OPTIONS: ProviderSimulatorOptions = {
  clock: () => now,
  accounts: { [KEY_A]: ACCOUNT_A, [KEY_B]: ACCOUNT_B },
};
/** Whether the running simulator has test-specific options, to be replaced after the test. */
let customized = false;

/** A fresh simulator for a test that needs its own options. */
async function restart(options: ProviderSimulatorOptions): Promise<void> {
  await sim.close();
  sim = await startProviderSimulator({ ...BASE_OPTIONS, ...options });
  customized = true;
}

beforeAll(async () => {
  sim = await startProviderSimulator(BASE_OPTIONS);
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  now = START;
  if (customized) {
    await sim.close();
    sim = await startProviderSimulator(BASE_OPTIONS);
    customized = false;
  } else {
    sim.reset();
  }
});

afterAll(async () => {
  await sim?.close();
});

describe('provider simulator: successful answers', () => {
  it('listens on loopback', () => {
    expect(sim.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.endpoint).toBe(`http://127.0.0.1:${sim.port}`);
  });

  it('RunInstances launches MaxCount instances in one reservation owned by the caller', async () => {
    const out = await ec2().send(
      run({
        MinCount: 1,
        MaxCount: 3,
        InstanceType: 't3.micro',
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'sluice' }] }],
      }),
    );
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    expect(out.OwnerId).toBe(ACCOUNT_A);
    expect(out.Instances).toHaveLength(3);
    const [first] = out.Instances ?? [];
    expect(first?.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(first).toMatchObject({
      ImageId: 'ami-12345678',
      InstanceType: 't3.micro',
      State: { Code: 0, Name: 'pending' },
      AmiLaunchIndex: 0,
      LaunchTime: new Date(START),
      Placement: { AvailabilityZone: 'us-east-1a' },
      Tags: [{ Key: 'team', Value: 'sluice' }],
    });
    expect(new Set(out.Instances?.map((i) => i.InstanceId)).size).toBe(3);
  });

  it('DescribeInstances, CreateTags, Stop/Start/TerminateInstances act on the launched instances', async () => {
    const client = ec2();
    const launched = await client.send(run({ MaxCount: 2 }));
    const ids = (launched.Instances ?? []).map((i) => i.InstanceId as string);

    const described = await client.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    expect(described.Reservations).toHaveLength(1);
    expect(described.Reservations?.[0]?.ReservationId).toBe(launched.ReservationId);
    expect(
      described.Reservations?.[0]?.Instances?.map((i) => [i.InstanceId, i.State?.Name]),
    ).toEqual([
      [ids[0], 'running'],
      [ids[1], 'running'],
    ]);

    await client.send(
      new CreateTagsCommand({
        Resources: [ids[0] as string],
        Tags: [{ Key: 'role', Value: 'web' }],
      }),
    );
    const tagged = await client.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:role', Values: ['web'] }] }),
    );
    expect(tagged.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId)).toEqual(
      [ids[0]],
    );

    const stopped = await client.send(
      new StopInstancesCommand({ InstanceIds: [ids[0] as string] }),
    );
    expect(stopped.StoppingInstances).toEqual([
      {
        InstanceId: ids[0],
        CurrentState: { Code: 64, Name: 'stopping' },
        PreviousState: { Code: 16, Name: 'running' },
      },
    ]);
    const started = await client.send(
      new StartInstancesCommand({ InstanceIds: [ids[0] as string] }),
    );
    expect(started.StartingInstances?.[0]?.CurrentState).toEqual({ Code: 0, Name: 'pending' });
    expect(started.StartingInstances?.[0]?.PreviousState).toEqual({ Code: 80, Name: 'stopped' });

    const terminated = await client.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    expect(terminated.TerminatingInstances?.map((i) => i.CurrentState?.Name)).toEqual([
      'shutting-down',
      'shutting-down',
    ]);
    const after = await client.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: 'instance-state-name', Values: ['terminated'] }],
      }),
    );
    expect(after.Reservations?.[0]?.Instances?.map((i) => i.InstanceId)).toEqual(ids);
  });

  it('DescribeTags lists tags of instances and of other resources, with filters; DeleteTags removes them', async () => {
    const client = ec2();
    const launched = await client.send(
      new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1 }),
    );
    const instance = launched.Instances?.[0]?.InstanceId as string;
    await client.send(
      new CreateTagsCommand({
        Resources: [instance, 'vol-1'],
        Tags: [
          { Key: 'team', Value: 'web' },
          { Key: 'env', Value: 'dev' },
        ],
      }),
    );
    const byKey = await client.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['team'] }] }),
    );
    expect(byKey.Tags).toEqual([
      { ResourceId: instance, ResourceType: 'instance', Key: 'team', Value: 'web' },
      { ResourceId: 'vol-1', ResourceType: 'volume', Key: 'team', Value: 'web' },
    ]);

    await client.send(
      new DeleteTagsCommand({
        Resources: [instance, 'vol-1'],
        // `env` goes only where it is `dev`; `team` whatever its value.
        Tags: [{ Key: 'team' }, { Key: 'env', Value: 'prod' }],
      }),
    );
    const left = await client.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: ['vol-1'] }] }),
    );
    expect(left.Tags).toEqual([
      { ResourceId: 'vol-1', ResourceType: 'volume', Key: 'env', Value: 'dev' },
    ]);
    await expect(
      client.send(new DescribeTagsCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('answers any other EC2 action with a generic success', async () => {
    const out = await ec2().send(new DeleteKeyPairCommand({ KeyName: 'k' }));
    expect(out.Return).toBe(true);
    expect(sim.statsFor(ACCOUNT_A, REGION, 'DeleteKeyPair').executed).toBe(1);
  });

  it('ListServiceQuotas and GetServiceQuota return quotas of the caller account and region', async () => {
    const client = quotas();
    const list = await client.send(new ListServiceQuotasCommand({ ServiceCode: 'ec2' }));
    expect(list.Quotas?.map((q) => q.QuotaCode)).toEqual([
      'L-1216C47A',
      'L-34B43A08',
      'L-0263D0A3',
    ]);
    const got = await client.send(
      new GetServiceQuotaCommand({ ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' }),
    );
    expect(got.Quota).toMatchObject({
      ServiceCode: 'ec2',
      QuotaCode: 'L-1216C47A',
      QuotaArn: `arn:aws:servicequotas:${REGION}:${ACCOUNT_A}:ec2/L-1216C47A`,
      Value: 1152,
      Adjustable: true,
    });
    const missing = await failure(
      client.send(new GetServiceQuotaCommand({ ServiceCode: 'ec2', QuotaCode: 'L-NOPE' })),
    );
    expect(missing.name).toBe('NoSuchResourceException');
    expect(missing.$metadata.httpStatusCode).toBe(400);
  });

  it('the SDK finds it through AWS_ENDPOINT_URL_EC2 without an explicit endpoint', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_EC2;
    process.env.AWS_ENDPOINT_URL_EC2 = sim.endpoint;
    try {
      const client = new EC2Client({
        region: REGION,
        credentials: { accessKeyId: KEY_A, secretAccessKey: 'dummy' },
        maxAttempts: 1,
      });
      clients.push(client);
      const out = await client.send(new DescribeInstancesCommand({}));
      expect(out.Reservations).toEqual([]);
      expect(sim.statsFor(ACCOUNT_A, REGION, 'DescribeInstances').executed).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EC2;
      else process.env.AWS_ENDPOINT_URL_EC2 = saved;
    }
  });
});

describe('provider simulator: EC2 throttling', () => {
  it('RunInstances: the 5 of the burst succeed, the 6th is RequestLimitExceeded (HTTP 503)', async () => {
    expect(EC2_ACTION_LIMITS.get('RunInstances')).toEqual({ burst: 5, rate: 2 });
    const client = ec2();
    for (let i = 0; i < 5; i++) await client.send(run());
    const err = await failure(client.send(run()));
    expect(err.name).toBe('RequestLimitExceeded');
    expect(err.message).toBe('Request limit exceeded.');
    expect(err.$metadata.httpStatusCode).toBe(503);
    expect(err.$fault).toBe('server');
    expect(isThrottlingError(err as never)).toBe(true);
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toEqual({
      received: 6,
      executed: 5,
      throttled: 1,
      duplicateTokens: 0,
      dryRuns: 0,
      errors: 0,
    });
  });

  it('refills at 2/s: one more RunInstances after 500 ms, not after 499 ms', async () => {
    const client = ec2();
    for (let i = 0; i < 5; i++) await client.send(run());
    now = START + 499;
    expect((await failure(client.send(run()))).name).toBe('RequestLimitExceeded');
    now = START + 500;
    await client.send(run());
    expect((await failure(client.send(run()))).name).toBe('RequestLimitExceeded');
    now = START + 1500; // 1 s later: two more
    await client.send(run());
    await client.send(run());
    expect((await failure(client.send(run()))).name).toBe('RequestLimitExceeded');
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toMatchObject({
      received: 11,
      executed: 8,
      throttled: 3,
    });
    expect(sim.executions.map((e) => e.atMs - START)).toEqual([0, 0, 0, 0, 0, 500, 1500, 1500]);
  });

  it('a throttled call spends no tokens', async () => {
    const client = ec2();
    for (let i = 0; i < 5; i++) await client.send(run());
    for (let i = 0; i < 3; i++) await failure(client.send(run()));
    const key = {
      account: ACCOUNT_A,
      region: REGION,
      service: 'ec2',
      bucket: 'RunInstances',
    } as const;
    expect(sim.bucketTokens(key)).toBe(0);
    now = START + 250;
    expect(sim.bucketTokens(key)).toBeCloseTo(0.5, 9);
  });

  it('RunInstances also debits the instance bucket (1000, 2/s) by MaxCount', async () => {
    // A large request bucket isolates the resource bucket.
    await restart({ limits: { RunInstances: { burst: 100, rate: 100 } } });
    const client = ec2();
    await client.send(run({ MinCount: 1, MaxCount: 600 }));
    await client.send(run({ MinCount: 1, MaxCount: 400 }));
    expect(
      sim.bucketTokens({
        account: ACCOUNT_A,
        region: REGION,
        service: 'ec2',
        bucket: 'RunInstances:resource',
      }),
    ).toBe(0);
    expect((await failure(client.send(run({ MaxCount: 1 })))).name).toBe('RequestLimitExceeded');
    now = START + 1000; // 2 instances' worth
    expect((await failure(client.send(run({ MaxCount: 3 })))).name).toBe('RequestLimitExceeded');
    const two = await client.send(run({ MaxCount: 2 }));
    expect(two.Instances).toHaveLength(2);
  });

  it('non-mutating Describe: unfiltered draws on 50/10, filtered on 100/20, separately', async () => {
    expect(EC2_CATEGORY_LIMITS['unfiltered-describe']).toEqual({ burst: 50, rate: 10 });
    const client = ec2();
    for (let i = 0; i < 50; i++) await client.send(new DescribeInstancesCommand({}));
    expect((await failure(client.send(new DescribeInstancesCommand({})))).name).toBe(
      'RequestLimitExceeded',
    );
    const filtered = new DescribeInstancesCommand({
      Filters: [{ Name: 'instance-state-name', Values: ['running'] }],
    });
    for (let i = 0; i < 100; i++) await client.send(filtered);
    expect((await failure(client.send(filtered))).name).toBe('RequestLimitExceeded');
    expect(sim.statsFor(ACCOUNT_A, REGION, 'DescribeInstances')).toMatchObject({
      received: 152,
      executed: 150,
      throttled: 2,
    });
  });

  it('other mutating actions get the mutating default, 50/5, per action', async () => {
    const client = ec2();
    for (let i = 0; i < 50; i++) await client.send(new DeleteKeyPairCommand({ KeyName: 'k' }));
    expect((await failure(client.send(new DeleteKeyPairCommand({ KeyName: 'k' })))).name).toBe(
      'RequestLimitExceeded',
    );
    // Another action's bucket is untouched.
    await client.send(run());
  });

  it('buckets are per account (access key) and per region', async () => {
    const a = ec2(KEY_A);
    const b = ec2(KEY_B);
    const aWest = ec2(KEY_A, 'us-west-2');
    for (let i = 0; i < 5; i++) await a.send(run());
    expect((await failure(a.send(run()))).name).toBe('RequestLimitExceeded');
    for (let i = 0; i < 5; i++) await b.send(run());
    for (let i = 0; i < 5; i++) await aWest.send(run());
    expect((await failure(b.send(run()))).name).toBe('RequestLimitExceeded');
    expect(sim.stats()).toEqual([
      {
        account: ACCOUNT_A,
        region: REGION,
        service: 'ec2',
        action: 'RunInstances',
        received: 6,
        executed: 5,
        throttled: 1,
        duplicateTokens: 0,
        dryRuns: 0,
        errors: 0,
      },
      {
        account: ACCOUNT_A,
        region: 'us-west-2',
        service: 'ec2',
        action: 'RunInstances',
        received: 5,
        executed: 5,
        throttled: 0,
        duplicateTokens: 0,
        dryRuns: 0,
        errors: 0,
      },
      {
        account: ACCOUNT_B,
        region: REGION,
        service: 'ec2',
        action: 'RunInstances',
        received: 6,
        executed: 5,
        throttled: 1,
        duplicateTokens: 0,
        dryRuns: 0,
        errors: 0,
      },
    ]);
  });

  it('an unmapped access key is its own account', async () => {
    const out = await ec2('123456789012').send(run());
    expect(out.OwnerId).toBe('123456789012');
    expect(sim.statsFor('123456789012', REGION, 'RunInstances').executed).toBe(1);
  });

  it('sends Retry-After when asked to', async () => {
    await restart({ retryAfter: true, limits: { RunInstances: { burst: 1, rate: 0.25 } } });
    const client = ec2();
    await client.send(run());
    const err = await failure(client.send(run()));
    expect(err.name).toBe('RequestLimitExceeded');
    expect(err.$response?.headers['retry-after']).toBe('4');
  });

  it('escalating penalty: every call during it restarts it', async () => {
    await restart({
      penalty: { durationMs: 2000 },
      limits: { RunInstances: { burst: 1, rate: 1 } },
    });
    const client = ec2();
    await client.send(run());
    await failure(client.send(run())); // empty bucket: penalty until +2000
    now = START + 1500; // the bucket has a token again, but the penalty holds and restarts
    expect((await failure(client.send(run()))).name).toBe('RequestLimitExceeded');
    now = START + 3000;
    expect((await failure(client.send(run()))).name).toBe('RequestLimitExceeded');
    now = START + 5000; // 2000 ms of quiet
    await client.send(run());
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toMatchObject({
      executed: 2,
      throttled: 3,
    });
  });
});

describe('provider simulator: Service Quotas throttling', () => {
  it('ListServiceQuotas: 10 succeed, the 11th is TooManyRequestsException (HTTP 400)', async () => {
    expect(SERVICE_QUOTAS_LIMITS.buckets.ListServiceQuotas).toEqual({ rate: 10, burst: 10 });
    const client = quotas();
    const list = new ListServiceQuotasCommand({ ServiceCode: 'ec2' });
    for (let i = 0; i < 10; i++) await client.send(list);
    const err = await failure(client.send(list));
    expect(err.name).toBe('TooManyRequestsException');
    expect(err.message).toBe('Rate exceeded');
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(err.$fault).toBe('client');
    expect(isThrottlingError(err as never)).toBe(true);
    now = START + 100; // 10/s: one more
    await client.send(list);
    expect((await failure(client.send(list))).name).toBe('TooManyRequestsException');
    expect(sim.statsFor(ACCOUNT_A, REGION, 'ListServiceQuotas')).toEqual({
      received: 13,
      executed: 11,
      throttled: 2,
      duplicateTokens: 0,
      dryRuns: 0,
      errors: 0,
    });
  });

  it('GetServiceQuota has its own 5/s + 5 bucket', async () => {
    const client = quotas();
    const get = new GetServiceQuotaCommand({ ServiceCode: 'vpc', QuotaCode: 'L-F678F1CE' });
    for (let i = 0; i < 5; i++) await client.send(get);
    expect((await failure(client.send(get))).name).toBe('TooManyRequestsException');
    await client.send(new ListServiceQuotasCommand({ ServiceCode: 'vpc' }));
  });
});

describe('provider simulator: ClientToken idempotency', () => {
  it('a repeated token returns the same reservation and runs once', async () => {
    const client = ec2();
    const first = await client.send(run({ MaxCount: 2, ClientToken: 'req-1' }));
    const second = await client.send(run({ MaxCount: 2, ClientToken: 'req-1' }));
    expect(second.ReservationId).toBe(first.ReservationId);
    expect(second.Instances?.map((i) => i.InstanceId)).toEqual(
      first.Instances?.map((i) => i.InstanceId),
    );
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toEqual({
      received: 2,
      executed: 1,
      throttled: 0,
      duplicateTokens: 1,
      dryRuns: 0,
      errors: 0,
    });
    expect(sim.executedClientTokens()).toEqual(new Map([['req-1', 1]]));
    expect(sim.executions).toEqual([
      {
        account: ACCOUNT_A,
        region: REGION,
        service: 'ec2',
        action: 'RunInstances',
        input: expect.objectContaining({ ClientToken: 'req-1' }),
        clientToken: 'req-1',
        atMs: START,
      },
    ]);
    const all = await client.send(new DescribeInstancesCommand({}));
    expect(all.Reservations?.flatMap((r) => r.Instances ?? [])).toHaveLength(2);
  });

  it('a repeat spends a request token but no instance tokens', async () => {
    const client = ec2();
    await client.send(run({ MaxCount: 10, ClientToken: 'req-2' }));
    await client.send(run({ MaxCount: 10, ClientToken: 'req-2' }));
    const bucket = (name: string) =>
      sim.bucketTokens({ account: ACCOUNT_A, region: REGION, service: 'ec2', bucket: name });
    expect(bucket('RunInstances')).toBe(3);
    expect(bucket('RunInstances:resource')).toBe(990);
  });

  it('the same token with other parameters is IdempotentParameterMismatch', async () => {
    const client = ec2();
    await client.send(run({ MaxCount: 1, ClientToken: 'req-3' }));
    const err = await failure(client.send(run({ MaxCount: 2, ClientToken: 'req-3' })));
    expect(err.name).toBe('IdempotentParameterMismatch');
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(sim.executedClientTokens()).toEqual(new Map([['req-3', 1]]));
  });

  it('a token is scoped to its account', async () => {
    await ec2(KEY_A).send(run({ ClientToken: 'shared' }));
    await ec2(KEY_B).send(run({ ClientToken: 'shared' }));
    expect(sim.executions.map((e) => e.account)).toEqual([ACCOUNT_A, ACCOUNT_B]);
  });

  it('a lost answer (reset after execution) is recovered by retrying with the token', async () => {
    sim.inject({ kind: 'reset', action: 'RunInstances', afterExecute: true, times: 1 });
    const client = ec2();
    const lost = await failure(client.send(run({ MaxCount: 3, ClientToken: 'req-4' })));
    expect(lost.code).toBe('ECONNRESET');
    expect(isTransientError(lost as never)).toBe(true);
    const retried = await client.send(run({ MaxCount: 3, ClientToken: 'req-4' }));
    expect(retried.Instances).toHaveLength(3);
    expect(sim.executedClientTokens()).toEqual(new Map([['req-4', 1]]));
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toMatchObject({
      received: 2,
      executed: 1,
      duplicateTokens: 1,
    });
  });
});

describe('provider simulator: errors', () => {
  it('permanent: UnauthorizedOperation (403) and InvalidParameterValue (400)', async () => {
    sim.inject({ kind: 'error', action: 'TerminateInstances', code: 'UnauthorizedOperation' });
    sim.inject({
      kind: 'error',
      action: 'RunInstances',
      code: 'InvalidParameterValue',
      message: 'Invalid AMI ID',
      when: (call) => call.input.ImageId === 'ami-bad',
    });
    const client = ec2();
    const denied = await failure(
      client.send(new TerminateInstancesCommand({ InstanceIds: ['i-1'] })),
    );
    expect(denied.name).toBe('UnauthorizedOperation');
    expect(denied.$metadata.httpStatusCode).toBe(403);
    expect(denied.$fault).toBe('client');
    expect(isThrottlingError(denied as never)).toBe(false);
    expect(isTransientError(denied as never)).toBe(false);

    const invalid = await failure(client.send(run({ ImageId: 'ami-bad' })));
    expect(invalid.name).toBe('InvalidParameterValue');
    expect(invalid.message).toBe('Invalid AMI ID');
    expect(invalid.$metadata.httpStatusCode).toBe(400);
    expect(isThrottlingError(invalid as never)).toBe(false);
    await client.send(run({ ImageId: 'ami-good' })); // the predicate picks only the bad one
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toMatchObject({
      received: 2,
      executed: 1,
      errors: 1,
    });
  });

  it('transient: InternalError (500) once, then success', async () => {
    sim.inject({ kind: 'error', action: 'DescribeInstances', code: 'InternalError', times: 1 });
    const client = ec2();
    const err = await failure(client.send(new DescribeInstancesCommand({})));
    expect(err.name).toBe('InternalError');
    expect(err.$metadata.httpStatusCode).toBe(500);
    expect(err.$fault).toBe('server');
    expect(isTransientError(err as never)).toBe(true);
    expect(isThrottlingError(err as never)).toBe(false);
    await client.send(new DescribeInstancesCommand({}));
  });

  it('transient: a connection reset once (the SDK sees ECONNRESET)', async () => {
    sim.inject({ kind: 'reset', action: 'DescribeInstances', times: 1 });
    const client = ec2();
    const err = await failure(client.send(new DescribeInstancesCommand({})));
    expect(err.code).toBe('ECONNRESET');
    expect(isTransientError(err as never)).toBe(true);
    await client.send(new DescribeInstancesCommand({}));
    expect(sim.statsFor(ACCOUNT_A, REGION, 'DescribeInstances')).toMatchObject({
      received: 2,
      executed: 1,
      errors: 1,
    });
  });

  it('faults from the options are re-armed by reset()', async () => {
    await restart({
      faults: [
        { kind: 'error', service: 'service-quotas', code: 'AccessDeniedException', times: 1 },
      ],
    });
    const client = quotas();
    const list = new ListServiceQuotasCommand({ ServiceCode: 'ec2' });
    const err = await failure(client.send(list));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.$metadata.httpStatusCode).toBe(400);
    await client.send(list);
    sim.reset();
    expect((await failure(client.send(list))).name).toBe('AccessDeniedException');
  });

  it('Service Quotas ServiceException (500) is a server error', async () => {
    const disarm = sim.inject({
      kind: 'error',
      service: 'service-quotas',
      code: 'ServiceException',
    });
    const client = quotas();
    const err = await failure(client.send(new ListServiceQuotasCommand({ ServiceCode: 'ec2' })));
    expect(err.name).toBe('ServiceException');
    expect(err.$metadata.httpStatusCode).toBe(500);
    expect(isTransientError(err as never)).toBe(true);
    disarm();
    await client.send(new ListServiceQuotasCommand({ ServiceCode: 'ec2' }));
  });

  it('EC2 answers of its own: DryRunOperation (412), InvalidInstanceID.NotFound, MissingParameter', async () => {
    const client = ec2();
    const dry = await failure(client.send(run({ DryRun: true })));
    expect(dry.name).toBe('DryRunOperation');
    expect(dry.$metadata.httpStatusCode).toBe(412);
    const missing = await failure(
      client.send(new TerminateInstancesCommand({ InstanceIds: ['i-00000000000000abc'] })),
    );
    expect(missing.name).toBe('InvalidInstanceID.NotFound');
    expect(missing.message).toBe("The instance ID 'i-00000000000000abc' does not exist");
    const noCount = await failure(
      client.send(new RunInstancesCommand({} as RunInstancesCommandInput)),
    );
    expect(noCount.name).toBe('MissingParameter');
    // None of them ran; the DryRun still spent a request token (EC2 throttles DryRun calls too).
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toMatchObject({
      received: 2,
      dryRuns: 1,
      errors: 1,
    });
    expect(sim.executions).toEqual([]);
  });
});

describe('provider simulator: EC2 DryRun', () => {
  const bucket = (name: string) => ({
    account: ACCOUNT_A,
    region: REGION,
    service: 'ec2' as const,
    bucket: name,
  });

  it('answers a DryRun RunInstances that would succeed DryRunOperation (412), taking one request token and no instance tokens', async () => {
    const client = ec2();
    const dry = await failure(client.send(run({ MaxCount: 998, DryRun: true })));
    expect(dry.name).toBe('DryRunOperation');
    expect(dry.$metadata.httpStatusCode).toBe(412);

    expect(sim.bucketTokens(bucket('RunInstances'))).toBe(4);
    expect(sim.bucketTokens(bucket('RunInstances:resource'))).toBe(1000);
    expect(sim.bucketDebits(bucket('RunInstances'))).toBe(1);
    expect(sim.bucketDebits(bucket('RunInstances:resource'))).toBe(0);
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toEqual({
      received: 1,
      executed: 0,
      throttled: 0,
      duplicateTokens: 0,
      dryRuns: 1,
      errors: 0,
    });
    expect(sim.executions).toEqual([]);
  });

  it('a real launch debits both buckets by what it launches: the request token and MaxCount instance tokens', async () => {
    await ec2().send(run({ MaxCount: 3 }));
    expect(sim.bucketDebits(bucket('RunInstances'))).toBe(1);
    expect(sim.bucketDebits(bucket('RunInstances:resource'))).toBe(3);
  });

  it('answers UnauthorizedOperation (403) to a DryRun the caller may not make, and to the call itself', async () => {
    await restart({ permits: (call) => call.account !== ACCOUNT_B });
    const denied = await failure(ec2(KEY_B).send(run({ DryRun: true })));
    expect(denied.name).toBe('UnauthorizedOperation');
    expect(denied.$metadata.httpStatusCode).toBe(403);
    expect((await failure(ec2(KEY_B).send(run()))).name).toBe('UnauthorizedOperation');
    expect((await failure(ec2(KEY_A).send(run({ DryRun: true })))).name).toBe('DryRunOperation');
    expect(sim.statsFor(ACCOUNT_B, REGION, 'RunInstances')).toMatchObject({
      received: 2,
      executed: 0,
      dryRuns: 0,
      errors: 2,
    });
    // Throttling comes first: the denied calls spent request tokens too.
    expect(sim.bucketDebits({ ...bucket('RunInstances'), account: ACCOUNT_B })).toBe(2);
  });

  it('checks a DryRun RunInstances as it would run it: an invalid MinCount is InvalidParameterValue, not DryRunOperation', async () => {
    const err = await failure(ec2().send(run({ MinCount: 3, MaxCount: 2, DryRun: true })));
    expect(err.name).toBe('InvalidParameterValue');
  });

  it('throttles DryRun calls on the request bucket like any other call', async () => {
    const client = ec2();
    for (let i = 0; i < 5; i++) await failure(client.send(run({ DryRun: true })));
    expect((await failure(client.send(run({ DryRun: true })))).name).toBe('RequestLimitExceeded');
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances')).toMatchObject({
      dryRuns: 5,
      throttled: 1,
    });
  });
});

describe('provider simulator: bookkeeping', () => {
  it('every received call ends exactly one way', async () => {
    sim.inject({ kind: 'error', action: 'RunInstances', code: 'InternalError', times: 1 });
    const client = ec2();
    for (let i = 0; i < 8; i++)
      await client.send(run({ ClientToken: `t${i % 3}` })).catch(() => {});
    const [stats] = sim.stats();
    expect(stats).toMatchObject({
      received: 8,
      executed: 3,
      errors: 1,
      duplicateTokens: 1,
      throttled: 3,
    });
    expect(stats && stats.executed + stats.throttled + stats.duplicateTokens + stats.errors).toBe(
      8,
    );
    expect(sim.executedClientTokens()).toEqual(
      new Map([
        ['t1', 1],
        ['t2', 1],
        ['t0', 1],
      ]),
    );
  });

  it('reset() refills buckets and forgets counters, executions and tokens', async () => {
    const client = ec2();
    for (let i = 0; i < 5; i++) await client.send(run({ ClientToken: `r${i}` }));
    const executions = sim.executions;
    sim.reset();
    expect(sim.stats()).toEqual([]);
    expect(executions).toHaveLength(0);
    expect(sim.executedClientTokens().size).toBe(0);
    for (let i = 0; i < 5; i++) await client.send(run({ ClientToken: `r${i}` }));
    expect(sim.statsFor(ACCOUNT_A, REGION, 'RunInstances').executed).toBe(5);
  });

  it('latencyMs delays every answer', async () => {
    await restart({ latencyMs: 60 });
    const started = performance.now();
    await ec2().send(new DescribeInstancesCommand({}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('nests EC2 Query parameters by their dotted names', () => {
    const params = new URLSearchParams(
      'Action=DescribeInstances&Version=2016-11-15&InstanceId.2=i-b&InstanceId.1=i-a' +
        '&Filter.1.Name=tag%3Arole&Filter.1.Value.1=web&Filter.1.Value.2=db&MaxResults=5',
    );
    expect(nestQueryParams(params)).toEqual({
      InstanceId: ['i-a', 'i-b'],
      Filter: [{ Name: 'tag:role', Value: ['web', 'db'] }],
      MaxResults: '5',
    });
  });
});
