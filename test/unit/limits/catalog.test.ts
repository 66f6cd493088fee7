import { describe, expect, it } from 'vitest';
import {
  type BucketDraw,
  type CallSpec,
  createCatalog,
  drawsFor,
  InvalidCostError,
  InvalidLimitsConfigError,
  type LimitsConfig,
  LimitsError,
  UnknownServiceError,
  validateLimitsConfig,
} from '../../../shared/limits/index.js';
import {
  EC2_ACTION_LIMITS,
  EC2_UNFILTERED_DESCRIBE_ACTIONS,
  ec2Category,
} from '../../../shared/services/ec2.js';
import { SERVICE_QUOTAS_LIMITS } from '../../../shared/services/service-quotas.js';

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const REGION = 'eu-west-1';
const TARGET = { account: ACCOUNT, region: REGION };

function ec2(operation: string, input: Record<string, unknown> = {}): CallSpec {
  return { service: 'ec2', operation, input };
}

/** Draws reduced to what the assertions compare: bucket name, limit and cost. */
function summary(draws: BucketDraw[]) {
  return draws.map((d) => ({
    bucket: d.ref.bucket,
    rate: d.limit.rate,
    burst: d.limit.burst,
    cost: d.cost,
  }));
}

/** The error `fn` throws, so its class and message can be asserted. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('drawsFor: EC2 request buckets', () => {
  it('puts each draw in a bucket keyed by the target account and region and the service', () => {
    const [draw] = drawsFor(TARGET, ec2('DescribeSubnets'));

    expect(draw?.ref).toEqual({
      account: ACCOUNT,
      region: REGION,
      service: 'ec2',
      bucket: 'DescribeSubnets',
    });
  });

  it.each([
    ['DescribeSubnets'],
    ['ListImagesInRecycleBin'],
    ['GetConsoleOutput'],
    ['SearchTransitGatewayRoutes'],
  ])('gives non-mutating %s its own bucket of 100 / 20 per s', (operation) => {
    expect(ec2Category(operation, {})).toBe('non-mutating');
    expect(summary(drawsFor(TARGET, ec2(operation)))).toEqual([
      { bucket: operation, rate: 20, burst: 100, cost: 1 },
    ]);
  });

  it.each([['CreateSecurityGroup'], ['ModifyInstanceAttribute'], ['DeleteSubnet']])(
    'gives mutating %s its own bucket of 50 / 5 per s',
    (operation) => {
      expect(ec2Category(operation, {})).toBe('mutating');
      expect(summary(drawsFor(TARGET, ec2(operation)))).toEqual([
        { bucket: operation, rate: 5, burst: 50, cost: 1 },
      ]);
    },
  );

  it.each([
    ['AuthorizeSecurityGroupIngress'],
    ['CreateKeyPair'],
    ['RequestSpotInstances'],
    ['CreateVpcPeeringConnection'],
  ])('classifies %s as resource-intensive, 50 / 5 per s', (operation) => {
    expect(ec2Category(operation, {})).toBe('resource-intensive');
    expect(summary(drawsFor(TARGET, ec2(operation)))).toEqual([
      { bucket: operation, rate: 5, burst: 50, cost: 1 },
    ]);
  });

  it('classifies actions it does not know by their verb', () => {
    expect(summary(drawsFor(TARGET, ec2('DescribeFutureWidgets', { Filters: [] })))).toEqual([
      { bucket: 'DescribeFutureWidgets', rate: 20, burst: 100, cost: 1 },
    ]);
    expect(summary(drawsFor(TARGET, ec2('FrobnicateWidget')))).toEqual([
      { bucket: 'FrobnicateWidget', rate: 5, burst: 50, cost: 1 },
    ]);
    // A verb must be followed by its noun: "Getaway" is not a Get action.
    expect(ec2Category('GetawayNow', {})).toBe('mutating');
  });

  it.each([
    ['RunInstances', 2, 5],
    ['StartInstances', 2, 5],
    ['TerminateInstances', 5, 100],
    ['CreateTags', 10, 100],
    ['DeleteTags', 10, 100],
    ['CreateVolume', 5, 100],
    ['CopyImage', 1, 100],
    ['CreateNatGateway', 1, 10],
    ['CreateVpcEndpoint', 0.3, 4],
    ['DescribeCapacityBlockOfferings', 0.15, 10],
    ['AdvertiseByoipCidr', 0.1, 1],
  ])('gives %s its documented own bucket: rate %s, burst %s', (operation, rate, burst) => {
    const input = { MaxCount: 1, InstanceIds: ['i-0123456789abcdef0'] };

    const [request] = drawsFor(TARGET, ec2(operation, input));

    expect(request?.ref.bucket).toBe(operation);
    expect(request?.limit).toEqual({ rate, burst });
    expect(request?.cost).toBe(1);
  });

  it('keeps fractional refill rates exact (0.3, 0.15, 0.1 per s)', () => {
    expect(drawsFor(TARGET, ec2('CreateVpcEndpoint'))[0]?.limit.rate).toBe(0.3);
    expect(drawsFor(TARGET, ec2('DescribeCapacityBlockOfferings'))[0]?.limit.rate).toBe(0.15);
    expect(drawsFor(TARGET, ec2('AdvertiseByoipCidr'))[0]?.limit.rate).toBe(0.1);
    expect(EC2_ACTION_LIMITS.size).toBe(11);
  });
});

describe('drawsFor: EC2 unfiltered and unpaginated describes', () => {
  it.each([...EC2_UNFILTERED_DESCRIBE_ACTIONS])(
    'sends %s with no filter and no pagination to its smaller :unfiltered bucket, 50 / 10 per s',
    (operation) => {
      expect(ec2Category(operation, {})).toBe('unfiltered-describe');
      expect(summary(drawsFor(TARGET, ec2(operation)))).toEqual([
        { bucket: `${operation}:unfiltered`, rate: 10, burst: 50, cost: 1 },
      ]);
    },
  );

  it.each([
    [
      'a non-empty Filters list',
      { Filters: [{ Name: 'instance-state-name', Values: ['running'] }] },
    ],
    ['MaxResults', { MaxResults: 100 }],
    ['a NextToken', { NextToken: 'eyJ2IjoxfQ' }],
  ])('sends DescribeInstances with %s to the regular 100 / 20 bucket', (_what, input) => {
    expect(summary(drawsFor(TARGET, ec2('DescribeInstances', input)))).toEqual([
      { bucket: 'DescribeInstances', rate: 20, burst: 100, cost: 1 },
    ]);
  });

  it.each([
    ['an empty Filters list', { Filters: [] }],
    ['only an id list', { InstanceIds: ['i-0123456789abcdef0'] }],
    ['an empty NextToken', { NextToken: '' }],
    ['DryRun', { DryRun: true }],
  ])('still counts DescribeInstances with %s as unfiltered', (_what, input) => {
    expect(drawsFor(TARGET, ec2('DescribeInstances', input))[0]?.ref.bucket).toBe(
      'DescribeInstances:unfiltered',
    );
  });

  it('does not apply the unfiltered rule to Describe actions outside the list', () => {
    expect(drawsFor(TARGET, ec2('DescribeSubnets', {}))[0]?.ref.bucket).toBe('DescribeSubnets');
  });
});

describe('drawsFor: EC2 resource buckets', () => {
  it('draws RunInstances on its request bucket (cost 1) and its resource bucket (cost MaxCount)', () => {
    const draws = drawsFor(
      TARGET,
      ec2('RunInstances', { ImageId: 'ami-1', MinCount: 1, MaxCount: 3 }),
    );

    expect(summary(draws)).toEqual([
      { bucket: 'RunInstances', rate: 2, burst: 5, cost: 1 },
      { bucket: 'RunInstances:resource', rate: 2, burst: 1000, cost: 3 },
    ]);
  });

  it('draws a DryRun RunInstances on its request bucket only: a DryRun launches nothing', () => {
    const draws = drawsFor(
      TARGET,
      ec2('RunInstances', { ImageId: 'ami-1', MinCount: 1, MaxCount: 998, DryRun: true }),
    );

    expect(summary(draws)).toEqual([{ bucket: 'RunInstances', rate: 2, burst: 5, cost: 1 }]);
  });

  it('charges TerminateInstances one resource token per instance id', () => {
    const draws = drawsFor(
      TARGET,
      ec2('TerminateInstances', { InstanceIds: ['i-1', 'i-2', 'i-3'] }),
    );

    expect(summary(draws)).toEqual([
      { bucket: 'TerminateInstances', rate: 5, burst: 100, cost: 1 },
      { bucket: 'TerminateInstances:resource', rate: 20, burst: 1000, cost: 3 },
    ]);
  });

  it('gives StopInstances the mutating request bucket and its 1000 / 20 resource bucket', () => {
    expect(
      summary(drawsFor(TARGET, ec2('StopInstances', { InstanceIds: ['i-1', 'i-2'] }))),
    ).toEqual([
      { bucket: 'StopInstances', rate: 5, burst: 50, cost: 1 },
      { bucket: 'StopInstances:resource', rate: 20, burst: 1000, cost: 2 },
    ]);
    expect(summary(drawsFor(TARGET, ec2('StartInstances', { InstanceIds: ['i-1'] })))).toEqual([
      { bucket: 'StartInstances', rate: 2, burst: 5, cost: 1 },
      { bucket: 'StartInstances:resource', rate: 2, burst: 1000, cost: 1 },
    ]);
  });

  it.each([
    ['missing', {}, 'undefined'],
    ['zero', { MaxCount: 0 }, '0'],
    ['fractional', { MaxCount: 2.5 }, '2.5'],
    ['a string', { MaxCount: '3' }, '"3"'],
  ])(
    'rejects a RunInstances MaxCount that is %s, naming the field and the rule',
    (_what, input, got) => {
      const error = thrown(() => drawsFor(TARGET, ec2('RunInstances', input)));

      expect(error).toBeInstanceOf(InvalidCostError);
      expect(error).toBeInstanceOf(LimitsError);
      expect((error as InvalidCostError).message).toBe(
        `call.input.MaxCount must be a positive integer (EC2 RunInstances resource bucket cost); got ${got}`,
      );
      expect(error).toMatchObject({
        name: 'InvalidCostError',
        service: 'ec2',
        operation: 'RunInstances',
        field: 'MaxCount',
        rule: 'a positive integer',
      });
    },
  );

  it('rejects TerminateInstances without instance ids', () => {
    const error = thrown(() => drawsFor(TARGET, ec2('TerminateInstances', { InstanceIds: [] })));

    expect(error).toBeInstanceOf(InvalidCostError);
    expect((error as InvalidCostError).message).toBe(
      'call.input.InstanceIds must be a non-empty array of instance ids ' +
        '(EC2 TerminateInstances resource bucket cost); got an array of 0',
    );
  });
});

describe('drawsFor: Service Quotas', () => {
  const sq = (operation: string): CallSpec => ({ service: 'service-quotas', operation, input: {} });

  it.each([
    ['ListServiceQuotas', 10, 10],
    ['ListAWSDefaultServiceQuotas', 10, 10],
    ['GetServiceQuota', 5, 5],
    ['GetAWSDefaultServiceQuota', 5, 5],
    ['GetRequestedServiceQuotaChange', 5, 5],
    ['ListRequestedServiceQuotaChangeHistory', 5, 5],
    ['ListRequestedServiceQuotaChangeHistoryByQuota', 5, 5],
    ['ListServices', 10, 10],
    ['ListTagsForResource', 10, 10],
    ['TagResource', 10, 10],
    ['UntagResource', 10, 10],
    ['RequestServiceQuotaIncrease', 3, 3],
    ['AssociateServiceQuotaTemplate', 1, 1],
    ['DisassociateServiceQuotaTemplate', 1, 1],
    ['GetAssociationForServiceQuotaTemplate', 1, 1],
    ['PutServiceQuotaIncreaseRequestIntoTemplate', 1, 1],
    ['DeleteServiceQuotaIncreaseRequestFromTemplate', 1, 1],
    ['ListServiceQuotaIncreaseRequestsInTemplate', 1, 1],
    ['GetServiceQuotaIncreaseRequestFromTemplate', 1, 1],
  ])('gives %s its own bucket of %s/s with burst %s', (operation, rate, burst) => {
    expect(summary(drawsFor(TARGET, sq(operation)))).toEqual([
      { bucket: operation, rate, burst, cost: 1 },
    ]);
  });

  it("sends operations without a documented rate to a shared default bucket at the page's lowest rate, 1/s + 1", () => {
    expect(summary(drawsFor(TARGET, sq('CreateSupportCase')))).toEqual([
      { bucket: 'default', rate: 1, burst: 1, cost: 1 },
    ]);
    // An operation named like an Object.prototype member is not a configured operation.
    expect(drawsFor(TARGET, sq('constructor'))[0]?.ref.bucket).toBe('default');
  });
});

describe('drawsFor: overrides', () => {
  const call = ec2('CreateSecurityGroup');
  const overrides: LimitsConfig['overrides'] = [
    { service: 'ec2', bucket: 'CreateSecurityGroup', rate: 1 },
    { region: REGION, service: 'ec2', bucket: 'CreateSecurityGroup', rate: 2 },
    { account: ACCOUNT, service: 'ec2', bucket: 'CreateSecurityGroup', rate: 3 },
    { account: ACCOUNT, region: REGION, service: 'ec2', bucket: 'CreateSecurityGroup', rate: 4 },
  ];
  const catalog = createCatalog({ overrides });
  const rate = (account: string, region: string) =>
    catalog.drawsFor({ account, region }, call)[0]?.limit.rate;

  it('lets account+region beat account, account beat region, region beat the global override', () => {
    expect(rate(ACCOUNT, REGION)).toBe(4);
    expect(rate(ACCOUNT, 'us-east-1')).toBe(3);
    expect(rate(OTHER_ACCOUNT, REGION)).toBe(2);
    expect(rate(OTHER_ACCOUNT, 'us-east-1')).toBe(1);
  });

  it('does not depend on the order overrides are listed in', () => {
    const reversed = createCatalog({ overrides: [...(overrides ?? [])].reverse() });

    expect(reversed.drawsFor(TARGET, call)[0]?.limit.rate).toBe(4);
  });

  it('takes each field from the most specific override that sets it', () => {
    const layered = createCatalog({
      overrides: [
        { service: 'ec2', bucket: 'RunInstances', burst: 20 },
        { account: ACCOUNT, service: 'ec2', bucket: 'RunInstances', rate: 4 },
      ],
    });

    expect(layered.drawsFor(TARGET, ec2('RunInstances', { MaxCount: 1 }))[0]?.limit).toEqual({
      rate: 4,
      burst: 20,
    });
  });

  it('changes only the bucket and service named', () => {
    const draws = createCatalog({ overrides }).drawsFor(TARGET, ec2('DeleteSubnet'));

    expect(draws[0]?.limit).toEqual({ rate: 5, burst: 50 });
  });
});

describe('drawsFor: safety factor', () => {
  it('multiplies rate and floors burst: 0.8 of 5 / 2 per s is burst 4, rate 1.6', () => {
    const catalog = createCatalog({ safetyFactor: 0.8 });

    expect(summary(catalog.drawsFor(TARGET, ec2('RunInstances', { MaxCount: 2 })))).toEqual([
      { bucket: 'RunInstances', rate: 1.6, burst: 4, cost: 1 },
      { bucket: 'RunInstances:resource', rate: 1.6, burst: 800, cost: 2 },
    ]);
  });

  it('keeps burst at least 1 and the scaled rate fractional', () => {
    const catalog = createCatalog({ safetyFactor: 0.5 });

    expect(catalog.drawsFor(TARGET, ec2('AdvertiseByoipCidr'))[0]?.limit).toEqual({
      rate: 0.05,
      burst: 1,
    });
  });

  it('applies to overridden limits as well', () => {
    const catalog = createCatalog({
      safetyFactor: 0.5,
      overrides: [{ service: 'ec2', bucket: 'CreateSecurityGroup', rate: 10, burst: 100 }],
    });

    expect(catalog.drawsFor(TARGET, ec2('CreateSecurityGroup'))[0]?.limit).toEqual({
      rate: 5,
      burst: 50,
    });
  });
});

describe('drawsFor: configured services', () => {
  const sqs: LimitsConfig = {
    services: {
      sqs: {
        defaultBucket: 'other',
        buckets: { send: { rate: 300, burst: 300 }, other: { rate: 0.5, burst: 2 } },
        operations: { SendMessage: 'send', SendMessageBatch: 'send' },
      },
    },
  };

  it('draws one token from the mapped bucket, or from the default bucket', () => {
    const catalog = createCatalog(sqs);
    const call = (operation: string) =>
      catalog.drawsFor(TARGET, { service: 'sqs', operation, input: {} });

    expect(summary(call('SendMessageBatch'))).toEqual([
      { bucket: 'send', rate: 300, burst: 300, cost: 1 },
    ]);
    expect(summary(call('PurgeQueue'))).toEqual([
      { bucket: 'other', rate: 0.5, burst: 2, cost: 1 },
    ]);
    expect(call('PurgeQueue')[0]?.ref).toEqual({
      account: ACCOUNT,
      region: REGION,
      service: 'sqs',
      bucket: 'other',
    });
  });

  it('replaces a built-in service entirely', () => {
    const catalog = createCatalog({
      services: { ec2: { defaultBucket: 'all', buckets: { all: { rate: 1, burst: 1 } } } },
    });

    expect(summary(catalog.drawsFor(TARGET, ec2('RunInstances', { MaxCount: 5 })))).toEqual([
      { bucket: 'all', rate: 1, burst: 1, cost: 1 },
    ]);
  });

  it('copies the config: changing it later does not change the catalog', () => {
    const send = { rate: 300, burst: 300 };
    const catalog = createCatalog({
      services: { sqs: { defaultBucket: 'send', buckets: { send } } },
    });

    send.rate = 1;

    expect(
      catalog.drawsFor(TARGET, { service: 'sqs', operation: 'SendMessage', input: {} })[0]?.limit
        .rate,
    ).toBe(300);
    expect(Object.isFrozen(catalog)).toBe(true);
  });
});

describe('drawsFor: unknown service', () => {
  it('throws UnknownServiceError naming the service and operation', () => {
    const error = thrown(() =>
      drawsFor(TARGET, { service: 'sqs', operation: 'SendMessage', input: {} }),
    );

    expect(error).toBeInstanceOf(UnknownServiceError);
    expect(error).toBeInstanceOf(LimitsError);
    expect(error).toMatchObject({
      name: 'UnknownServiceError',
      service: 'sqs',
      operation: 'SendMessage',
    });
    expect((error as Error).message).toBe(
      "No limits known for service 'sqs' (operation 'SendMessage'): it is not built in and not " +
        'configured in LimitsConfig.services (known services: ec2, service-quotas)',
    );
  });
});

describe('validateLimitsConfig and createCatalog', () => {
  const bad = {
    safetyFactor: 1.5,
    services: {
      sqs: {
        defaultBucket: 'missing',
        buckets: { send: { rate: 0, burst: 0.5 } },
        operations: { SendMessage: 'nope' },
      },
    },
    overrides: [
      { service: 'ec2', bucket: 'RunInstances' },
      { service: 'ec2', bucket: 'RunInstances', rate: Number.POSITIVE_INFINITY, burst: 0 },
      { service: 'ec2', bucket: 'RunInstances', rate: 1 },
    ],
  } as const satisfies LimitsConfig;

  const problems = [
    'safetyFactor: must be a number in (0, 1]; got 1.5 (range)',
    'services.sqs.buckets.send.rate: must be a finite number > 0; got 0 (range)',
    'services.sqs.buckets.send.burst: must be a finite number >= 1; got 0.5 (range)',
    'services.sqs.defaultBucket: must name a key of services.sqs.buckets; got "missing" (unknown-bucket)',
    'services.sqs.operations.SendMessage: must name a key of services.sqs.buckets; got "nope" (unknown-bucket)',
    'overrides[0]: must set rate or burst (required)',
    'overrides[1].rate: must be a finite number > 0; got Infinity (range)',
    'overrides[1].burst: must be a finite number >= 1; got 0 (range)',
    'overrides[1]: repeats overrides[0]: same service, bucket, account and region (unique)',
    'overrides[2]: repeats overrides[0]: same service, bucket, account and region (unique)',
  ];
  const messages = (list: readonly { message: string }[]) => list.map((p) => p.message);

  it('lists every problem in the config, each naming its field and rule', () => {
    const found = validateLimitsConfig(bad);

    expect(messages(found)).toEqual(problems);
    expect(found[3]).toEqual({
      field: 'services.sqs.defaultBucket',
      rule: 'unknown-bucket',
      message: problems[3],
    });
  });

  it('names fields from where the config sits in a larger document', () => {
    const found = validateLimitsConfig({ overrides: [{ service: 'ec2', bucket: '', rate: 1 }] }, [
      'limits',
    ]);

    expect(found).toEqual([
      {
        field: 'limits.overrides[0].bucket',
        rule: 'length',
        message: 'limits.overrides[0].bucket: must be a non-empty string; got "" (length)',
      },
    ]);
  });

  it('tells a wrong type from a value out of range', () => {
    const found = validateLimitsConfig({
      safetyFactor: '0.5',
      overrides: [{ service: 'ec2', bucket: 'RunInstances', rate: '2' }],
    } as unknown as LimitsConfig);

    expect(found.map((p) => [p.field, p.rule])).toEqual([
      ['safetyFactor', 'type'],
      ['overrides[0].rate', 'type'],
    ]);
  });

  it('finds nothing wrong with an empty config or the built-in Service Quotas table', () => {
    expect(validateLimitsConfig({})).toEqual([]);
    expect(validateLimitsConfig({ services: { 'service-quotas': SERVICE_QUOTAS_LIMITS } })).toEqual(
      [],
    );
  });

  it('makes createCatalog throw InvalidLimitsConfigError carrying every problem', () => {
    const error = thrown(() => createCatalog(bad));

    expect(error).toBeInstanceOf(InvalidLimitsConfigError);
    expect(error).toBeInstanceOf(LimitsError);
    expect(messages((error as InvalidLimitsConfigError).problems)).toEqual(problems);
    expect((error as Error).message).toBe(
      `Invalid limits config (10 problem(s)): ${problems.join('; ')}`,
    );
  });

  it('makes drawsFor with an invalid config throw too', () => {
    expect(
      thrown(() => drawsFor(TARGET, ec2('DescribeSubnets'), { safetyFactor: 0 })),
    ).toBeInstanceOf(InvalidLimitsConfigError);
  });
});
