/**
 * `LimitsCatalog.bucketsOf`: every bucket an operation can draw on, without an input, with the
 * same effective limits `drawsFor` gives. The property runs for every service of the registry
 * and for an operator-configured one, over random operations, inputs, overrides and safety
 * factors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BucketDraw,
  createCatalog,
  type EffectiveBucket,
  InvalidCostError,
  type LimitOverride,
  type LimitsConfig,
  UnknownServiceError,
} from '../../../shared/limits/index.js';
import {
  EC2_ACTION_LIMITS,
  EC2_RESOURCE_BUCKETS,
  EC2_RESOURCE_INTENSIVE_ACTIONS,
  EC2_UNFILTERED_DESCRIBE_ACTIONS,
} from '../../../shared/services/ec2.js';
import { SERVICES } from '../../../shared/services/registry.js';
import { SERVICE_QUOTAS_LIMITS } from '../../../shared/services/service-quotas.js';

const ACCOUNTS = ['111111111111', '222222222222'] as const;
const REGIONS = ['eu-west-1', 'us-east-1'] as const;
const TARGET = { account: ACCOUNTS[0], region: REGIONS[0] };

/** An operator-configured service: limits only, no SDK client. */
const SQS: LimitsConfig['services'] = {
  sqs: {
    defaultBucket: 'other',
    buckets: { send: { rate: 300, burst: 300 }, other: { rate: 0.5, burst: 2 } },
    operations: { SendMessage: 'send', SendMessageBatch: 'send' },
  },
};

/** Operations the services' tables name, plus ones they don't. */
const KNOWN_OPERATIONS = [
  ...EC2_ACTION_LIMITS.keys(),
  ...EC2_UNFILTERED_DESCRIBE_ACTIONS,
  ...EC2_RESOURCE_BUCKETS.keys(),
  ...EC2_RESOURCE_INTENSIVE_ACTIONS,
  ...Object.keys(SERVICE_QUOTAS_LIMITS.operations ?? {}),
  'DescribeSubnets',
  'CreateSecurityGroup',
  'RequestServiceQuotaIncrease',
  'SendMessage',
  'PurgeQueue',
  'constructor',
];

const operationArb = fc.oneof(
  fc.constantFrom(...KNOWN_OPERATIONS),
  fc.stringMatching(/^(?:Describe|Get|List|Create|Run|Stop)?[A-Z][A-Za-z0-9]{0,20}$/),
);

/** Inputs that reach every branch: filters, pagination, resource costs (valid or not). */
const inputArb = fc.record(
  {
    Filters: fc.array(fc.record({ Name: fc.constant('tag:a'), Values: fc.constant(['b']) }), {
      maxLength: 2,
    }),
    MaxResults: fc.integer({ min: 5, max: 1000 }),
    NextToken: fc.constantFrom('', 'eyJ2IjoxfQ'),
    MaxCount: fc.integer({ min: 0, max: 50 }),
    InstanceIds: fc.array(fc.constantFrom('i-1', 'i-2', 'i-3'), { maxLength: 4 }),
    DryRun: fc.boolean(),
  },
  { requiredKeys: [] },
);

const bucketNameArb = fc.oneof(
  fc.constantFrom(...KNOWN_OPERATIONS),
  fc.constantFrom(
    'DescribeInstances:unfiltered',
    'RunInstances:resource',
    'TerminateInstances:resource',
    'default',
    'send',
    'other',
  ),
);

const overrideArb: fc.Arbitrary<LimitOverride> = fc.record(
  {
    account: fc.constantFrom(...ACCOUNTS),
    region: fc.constantFrom(...REGIONS),
    service: fc.constantFrom('ec2', 'service-quotas', 'sqs'),
    bucket: bucketNameArb,
    rate: fc.double({ min: 0.01, max: 1000, noNaN: true }),
    burst: fc.integer({ min: 1, max: 5000 }),
  },
  { requiredKeys: ['service', 'bucket'] },
);

const configArb: fc.Arbitrary<LimitsConfig> = fc.record({
  safetyFactor: fc.oneof(fc.constant(1), fc.double({ min: 0.01, max: 1, noNaN: true })),
  services: fc.constant(SQS),
  overrides: fc
    .uniqueArray(overrideArb, {
      maxLength: 6,
      selector: (o) => JSON.stringify([o.service, o.bucket, o.account, o.region]),
    })
    .map((list) => list.filter((o) => o.rate !== undefined || o.burst !== undefined)),
});

const targetArb = fc.record({
  account: fc.constantFrom(...ACCOUNTS),
  region: fc.constantFrom(...REGIONS),
});

/** The draw without its cost: the bucket as `bucketsOf` lists it. */
function bucketOf(draw: BucketDraw): EffectiveBucket {
  return { ref: draw.ref, limit: draw.limit };
}

describe('bucketsOf', () => {
  it.each([...Object.keys(SERVICES), 'sqs'])(
    'lists every bucket a %s call can draw on, with the limit drawsFor gives it, in its order',
    (service) => {
      fc.assert(
        fc.property(
          configArb,
          targetArb,
          operationArb,
          inputArb,
          (config, target, operation, input) => {
            const catalog = createCatalog(config);
            let draws: BucketDraw[];
            try {
              draws = catalog.drawsFor(target, { service, operation, input });
            } catch (error) {
              // A resource bucket's cost input is malformed: no draws to compare.
              if (error instanceof InvalidCostError) return fc.pre(false);
              throw error;
            }

            const listed = catalog.bucketsOf(target, { service, operation });

            const positions = draws.map((draw) =>
              listed.findIndex((bucket) => bucket.ref.bucket === draw.ref.bucket),
            );
            expect(positions).not.toContain(-1);
            expect([...positions].sort((a, b) => a - b)).toEqual(positions);
            for (const draw of draws) {
              expect(listed).toContainEqual(bucketOf(draw));
            }
          },
        ),
        { numRuns: 300 },
      );
    },
  );

  it.each([
    ['DescribeSubnets', ['DescribeSubnets']],
    ['DescribeInstances', ['DescribeInstances', 'DescribeInstances:unfiltered']],
    ['RunInstances', ['RunInstances', 'RunInstances:resource']],
    ['TerminateInstances', ['TerminateInstances', 'TerminateInstances:resource']],
    ['CreateSecurityGroup', ['CreateSecurityGroup']],
  ])('lists only buckets EC2 %s really draws on: %j', (operation, buckets) => {
    const catalog = createCatalog();
    // Inputs that between them take every path: unfiltered, and paginated; costs set in both.
    const costs = { MaxCount: 1, InstanceIds: ['i-1'] };
    const reached = [costs, { ...costs, MaxResults: 5 }].flatMap((input) =>
      catalog.drawsFor(TARGET, { service: 'ec2', operation, input }).map((d) => d.ref.bucket),
    );

    const listed = catalog.bucketsOf(TARGET, { service: 'ec2', operation });

    expect(listed.map((b) => b.ref.bucket)).toEqual(buckets);
    expect(new Set(reached)).toEqual(new Set(buckets));
  });

  it('applies overrides for the target and the safety factor', () => {
    const catalog = createCatalog({
      safetyFactor: 0.5,
      overrides: [
        {
          account: ACCOUNTS[0],
          service: 'ec2',
          bucket: 'DescribeInstances:unfiltered',
          rate: 40,
          burst: 200,
        },
      ],
    });
    const limits = (account: string) =>
      catalog
        .bucketsOf(
          { account, region: REGIONS[0] },
          { service: 'ec2', operation: 'DescribeInstances' },
        )
        .map((b) => [b.ref.bucket, b.limit.rate, b.limit.burst]);

    expect(limits(ACCOUNTS[0])).toEqual([
      ['DescribeInstances', 10, 50],
      ['DescribeInstances:unfiltered', 20, 100],
    ]);
    expect(limits(ACCOUNTS[1])).toEqual([
      ['DescribeInstances', 10, 50],
      ['DescribeInstances:unfiltered', 5, 25],
    ]);
  });

  it('names the target in every bucket it lists', () => {
    const [bucket] = createCatalog().bucketsOf(TARGET, {
      service: 'service-quotas',
      operation: 'ListServiceQuotas',
    });

    expect(bucket).toEqual({
      ref: { ...TARGET, service: 'service-quotas', bucket: 'ListServiceQuotas' },
      limit: { rate: 10, burst: 10 },
    });
  });

  it('throws UnknownServiceError for a service neither built in nor configured', () => {
    let error: unknown;
    try {
      createCatalog().bucketsOf(TARGET, { service: 'sqs', operation: 'SendMessage' });
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(UnknownServiceError);
    expect((error as Error).message).toBe(
      "No limits known for service 'sqs' (operation 'SendMessage'): it is not built in and not " +
        'configured in LimitsConfig.services (known services: ec2, service-quotas)',
    );
  });
});
