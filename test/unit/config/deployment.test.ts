import { describe, expect, it } from 'vitest';
import {
  allowedWithoutConditions,
  disallowedReason,
  parseDeploymentConfig,
  replyToAllowed,
} from '../../../shared/config/deployment.js';
import {
  ENV,
  EnvironmentError,
  loadDispatcherEnvironment,
} from '../../../shared/config/environment.js';
import { problemsOf } from '../../support/config.js';

const targets = [
  { account: '111111111111', allow: [{ service: 'ec2', operations: ['Describe*'] }] },
];

describe('parseDeploymentConfig', () => {
  it('applies the tuning defaults', () => {
    expect(parseDeploymentConfig({ targets })).toMatchObject({
      horizonMs: 60_000,
      lateAllowanceMs: 250,
      maxConcurrentCalls: 16,
      leaseMs: 120_000,
      resultTtlDays: 7,
      maxWaitMs: 86_400_000,
      maxOutputBytes: 8_388_608,
    });
    expect(parseDeploymentConfig({ targets, lateAllowanceMs: 0 }).lateAllowanceMs).toBe(0);
  });

  it('tells a wrong-typed value from a missing one, naming the field and the rule', () => {
    expect(problemsOf({ targets, leaseMs: '5' })).toEqual([
      'leaseMs: must be a number, not a string (type)',
    ]);
    expect(problemsOf({ targets: {} })).toEqual([
      'targets: must be an array, not an object (type)',
    ]);
    expect(problemsOf({ targets: [{ account: '111111111111', allow: 'ec2' }] })).toEqual([
      'targets[0].allow: must be an array, not a string (type)',
    ]);
    expect(problemsOf({})).toEqual(['targets: is required (required)']);
  });

  it('takes a maxOutputBytes up to 500 MiB, naming the field and rule beyond', () => {
    expect(parseDeploymentConfig({ targets, maxOutputBytes: 1_000_000 }).maxOutputBytes).toBe(
      1_000_000,
    );
    expect(problemsOf({ targets, maxOutputBytes: 600 * 1_048_576 })).toEqual([
      'maxOutputBytes: must be at most 524288000 (range)',
    ]);
  });

  it('names the field and the rule of a lateness allowance out of range', () => {
    expect(problemsOf({ targets, lateAllowanceMs: 20_000 })).toEqual([
      'lateAllowanceMs: must be at most 10000 (range)',
    ]);
    expect(problemsOf({ targets, lateAllowanceMs: 1.5 })).toEqual([
      expect.stringMatching(/^lateAllowanceMs: /),
    ]);
  });
});

describe('parseDeploymentConfig: reply destinations', () => {
  const topic = 'arn:aws:sns:eu-west-1:111111111111:results';
  const queue = 'https://sqs.eu-west-1.amazonaws.com/111111111111/results.fifo';
  const key = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';

  it('reads queues and topics, as strings or with their KMS key, and allows exactly those', () => {
    const config = parseDeploymentConfig({
      targets,
      replyTo: [topic, { destination: queue, kmsKeyArn: key }],
    });
    expect(config.replyTo).toEqual([
      { destination: topic },
      { destination: queue, kmsKeyArn: key },
    ]);
    // The implicit producer may use every one of them.
    expect(replyToAllowed(config, 'default', topic)).toBe(true);
    expect(replyToAllowed(config, 'default', queue)).toBe(true);
    expect(replyToAllowed(config, 'default', `${topic}-2`)).toBe(false);
  });

  it('names a malformed destination, a key that is not a key ARN, an unknown field and a repeat', () => {
    expect(
      problemsOf({
        targets,
        replyTo: [
          'sqs-results',
          { destination: topic, kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:alias/results' },
          { destination: queue, key },
        ],
      }),
    ).toEqual([
      'replyTo[0].destination: must be an http or https URL (an SQS queue URL) or an SNS topic ARN (arn:aws:sns:…) (format)',
      'replyTo[1].kmsKeyArn: must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/<key id> (pattern)',
      'replyTo[2].key: is not a field of the contract (unknown-field)',
    ]);
    expect(problemsOf({ targets, replyTo: [topic, { destination: topic }] })).toEqual([
      `replyTo[1].destination: ${topic} is listed twice (unique)`,
    ]);
  });
});

describe('parseDeploymentConfig: checks beyond the schema', () => {
  it('names a repeated account and an externalId without a role', () => {
    const allow = targets[0]?.allow;
    expect(
      problemsOf({
        targets: [
          { account: '111111111111', allow },
          { account: '111111111111', externalId: 'shared-secret', allow },
        ],
      }),
    ).toEqual([
      'targets[1].account: 111111111111 is listed twice (unique)',
      'targets[1].externalId: only means something with roleArn (requires-role)',
    ]);
  });

  it('names a limits problem by its field inside limits', () => {
    expect(
      problemsOf({ targets, limits: { safetyFactor: 2, overrides: [{ service: 'ec2' }] } }),
    ).toEqual([
      'limits.safetyFactor: must be a number in (0, 1]; got 2 (range)',
      'limits.overrides[0].bucket: must be a non-empty string; got undefined (required)',
      'limits.overrides[0]: must set rate or burst (required)',
    ]);
  });
});

describe('producers', () => {
  const twoTargets = [
    {
      account: '111111111111',
      regions: ['eu-west-1', 'us-east-1'],
      allow: [{ service: 'ec2', operations: ['Describe*', 'RunInstances', 'TerminateInstances'] }],
    },
    { account: '222222222222', allow: [{ service: 'service-quotas', operations: ['List*'] }] },
  ];
  const replyTo = ['https://sqs.eu-west-1.amazonaws.com/111111111111/web-results'];
  const config = parseDeploymentConfig({
    targets: twoTargets,
    replyTo,
    producers: [
      {
        name: 'web',
        allow: [
          {
            accounts: ['111111111111'],
            regions: ['eu-west-1'],
            service: 'ec2',
            operations: ['Describe*'],
          },
          {
            accounts: ['111111111111'],
            regions: ['eu-west-1'],
            service: 'ec2',
            operations: ['TerminateInstances'],
            conditions: { 'ec2:ResourceTag/team': 'web' },
          },
        ],
        replyTo,
      },
      {
        name: 'quota-bot',
        allow: [
          {
            accounts: ['222222222222'],
            service: 'service-quotas',
            operations: ['ListServiceQuotas'],
          },
        ],
      },
    ],
  });
  const ec2 = (operation: string) => ({ service: 'ec2', operation });

  it('without producers, has one, default, allowed everything the targets allow', () => {
    const implicit = parseDeploymentConfig({ targets: twoTargets, replyTo });
    expect(implicit.implicitProducer).toBe(true);
    expect(implicit.producers).toEqual([
      {
        name: 'default',
        allow: [
          {
            accounts: ['111111111111'],
            regions: ['eu-west-1', 'us-east-1'],
            service: 'ec2',
            operations: ['Describe*', 'RunInstances', 'TerminateInstances'],
          },
          { accounts: ['222222222222'], service: 'service-quotas', operations: ['List*'] },
        ],
        replyTo,
        maxPriority: 'high',
      },
    ]);
    const target = { account: '111111111111', region: 'us-east-1' };
    expect(disallowedReason(implicit, 'default', target, ec2('RunInstances'))).toBeUndefined();
    expect(disallowedReason(implicit, 'default', target, ec2('CreateTags'))?.message).toBe(
      'call.operation: ec2:CreateTags is not allowed for account 111111111111 (not-allowed)',
    );
  });

  it('tells whether an entry without resource conditions allows a call (its effect may be read back)', () => {
    const eu = { account: '111111111111', region: 'eu-west-1' };
    expect(allowedWithoutConditions(config, 'web', eu, ec2('DescribeInstances'))).toBe(true);
    // Allowed, but only under conditions.
    expect(allowedWithoutConditions(config, 'web', eu, ec2('TerminateInstances'))).toBe(false);
    // Not allowed at all, or not here.
    expect(allowedWithoutConditions(config, 'web', eu, ec2('RunInstances'))).toBe(false);
    const us = { ...eu, region: 'us-east-1' };
    expect(allowedWithoutConditions(config, 'web', us, ec2('DescribeInstances'))).toBe(false);
    expect(allowedWithoutConditions(config, 'nobody', eu, ec2('DescribeInstances'))).toBe(false);
  });

  it('allows a producer its own entries only: accounts, regions, operations', () => {
    expect(config.producers.map((p) => p.name)).toEqual(['web', 'quota-bot']);
    const eu = { account: '111111111111', region: 'eu-west-1' };
    expect(disallowedReason(config, 'web', eu, ec2('DescribeInstances'))).toBeUndefined();
    expect(disallowedReason(config, 'web', eu, ec2('TerminateInstances'))).toBeUndefined();
    expect(
      [
        disallowedReason(config, 'web', eu, ec2('RunInstances')),
        disallowedReason(config, 'web', { ...eu, region: 'us-east-1' }, ec2('DescribeInstances')),
        disallowedReason(config, 'quota-bot', eu, ec2('DescribeInstances')),
        disallowedReason(config, 'web', { ...eu, region: 'zz-fake-99' }, ec2('DescribeInstances')),
        disallowedReason(
          config,
          'web',
          { ...eu, account: '333333333333' },
          ec2('DescribeInstances'),
        ),
      ].map((p) => p?.message),
    ).toEqual([
      'call.operation: ec2:RunInstances is not allowed for producer web in account 111111111111 (not-allowed)',
      'target.region: us-east-1 is not allowed for producer web in account 111111111111 (not-allowed)',
      'target.account: 111111111111 is not allowed for producer quota-bot (not-allowed)',
      "target.region: zz-fake-99 is not a known AWS region (a new one goes in the deployment's extraRegions) (not-allowed)",
      'target.account: 333333333333 is not a target of this deployment (not-allowed)',
    ]);
  });

  it('allows a producer only its own reply queues', () => {
    expect(replyToAllowed(config, 'web', replyTo[0] as string)).toBe(true);
    expect(replyToAllowed(config, 'quota-bot', replyTo[0] as string)).toBe(false);
  });

  it('bounds regions to the known ones and extraRegions', () => {
    const target = { account: '222222222222', region: 'xx-new-1' };
    const call = { service: 'service-quotas', operation: 'ListServiceQuotas' };
    expect(disallowedReason(config, 'quota-bot', target, call)?.rule).toBe('not-allowed');
    const extended = parseDeploymentConfig({
      targets: twoTargets,
      extraRegions: ['xx-new-1'],
      producers: [
        {
          name: 'quota-bot',
          allow: [{ accounts: ['222222222222'], service: 'service-quotas', operations: ['List*'] }],
        },
      ],
    });
    expect(disallowedReason(extended, 'quota-bot', target, call)).toBeUndefined();
  });

  it('weighs producers as flows of fair scheduling, and names a weight for anything else', () => {
    const producers = [
      {
        name: 'web',
        allow: [{ accounts: ['111111111111'], service: 'ec2', operations: ['Describe*'] }],
      },
    ];
    const weighted = parseDeploymentConfig({
      targets,
      producers,
      scheduling: { flowWeights: { web: 3 } },
    });
    expect(weighted.scheduling.weightOf('normal', 'web')).toBe(3);
    expect(
      problemsOf({ targets, producers, scheduling: { flowWeights: { 'sluice-web-queue': 2 } } }),
    ).toEqual([
      'scheduling.flowWeights.sluice-web-queue: sluice-web-queue is not a producer of this deployment (web) (not-a-producer)',
    ]);
  });

  it("reads a producer's maxPriority (default high), and names a bad one by its field", () => {
    const allow = [{ accounts: ['111111111111'], service: 'ec2', operations: ['Describe*'] }];
    const capped = parseDeploymentConfig({
      targets,
      producers: [
        { name: 'batch', allow, maxPriority: 'low' },
        { name: 'web', allow },
      ],
    });
    expect(capped.producers.map((p) => [p.name, p.maxPriority])).toEqual([
      ['batch', 'low'],
      ['web', 'high'],
    ]);
    const [problem] = problemsOf({
      targets,
      producers: [{ name: 'batch', allow, maxPriority: 'urgent' }],
    });
    expect(problem).toMatch(/^producers\[0\]\.maxPriority: /);
  });

  it('takes the reach step of contended buckets, and names a bad one by its field', () => {
    expect(parseDeploymentConfig({ targets }).scheduling.reachStepMs).toBe(500);
    expect(
      parseDeploymentConfig({ targets, scheduling: { reachStepMs: 1_000 } }).scheduling.reachStepMs,
    ).toBe(1_000);
    const [problem] = problemsOf({ targets, scheduling: { reachStepMs: -1 } });
    expect(problem).toMatch(/^scheduling\.reachStepMs: /);
  });

  it('names a malformed producer name by its field and rule', () => {
    const allow = [{ accounts: ['111111111111'], service: 'ec2', operations: ['Describe*'] }];
    expect(problemsOf({ targets, producers: [{ name: 'Web Team', allow }] })).toEqual([
      'producers[0].name: must be 1 to 32 lowercase letters, digits or -, starting with a letter (e.g. web-team) (pattern)',
    ]);
  });

  it('lists every problem of the producers at once, each with its field and rule', () => {
    expect(
      problemsOf({
        targets: [{ ...twoTargets[0], regions: ['eu-west-1', 'zz-fake-99'] }, twoTargets[1]],
        producers: [
          {
            name: 'ops',
            allow: [
              {
                accounts: ['111111111111', '333333333333'],
                regions: ['ap-south-1'],
                service: 'ec2',
                operations: ['Create*', 'DescribeInstances'],
                conditions: { 'ec2:ResourceTag/team': 'ops', 's3:prefix': 'x' },
              },
            ],
            replyTo: ['https://sqs.eu-west-1.amazonaws.com/111111111111/elsewhere'],
          },
          {
            name: 'ops',
            allow: [
              { accounts: ['222222222222'], service: 'service-quotas', operations: ['List*'] },
            ],
          },
        ],
      }),
    ).toEqual([
      'producers[0].allow[0].regions[0]: ap-south-1 is not among the regions of account 111111111111 (outside-target)',
      'producers[0].allow[0].operations[0]: ec2:Create* is not in the allowlist of account 111111111111 (outside-target)',
      'producers[0].allow[0].accounts[1]: 333333333333 is not a target of this deployment (not-a-target)',
      'producers[0].allow[0].conditions.s3:prefix: must be a ec2: or aws: condition key (pattern)',
      'producers[0].allow[0].operations[1]: ec2:DescribeInstances supports no resource conditions in IAM; list it in an entry without conditions (no-conditions)',
      'producers[0].replyTo[0]: must also be listed in the deployment replyTo (outside-deployment)',
      'producers[1].name: ops is listed twice (unique)',
      'targets[0].regions[1]: zz-fake-99 is not a known AWS region; add it to extraRegions if it is new (unknown-region)',
    ]);
  });
});

describe('loadDispatcherEnvironment', () => {
  const env = {
    [ENV.bucketsTable]: 'buckets',
    [ENV.requestsTable]: 'requests',
    [ENV.producerQueues]: JSON.stringify({ default: ['q-high', 'q-normal'] }),
    [ENV.scheduledQueueUrl]: 'https://sqs/q-scheduled',
    [ENV.dlqUrl]: 'https://sqs/q-dlq',
    [ENV.outputsBucket]: 'sluice-outputs',
    [ENV.config]: JSON.stringify({ targets }),
  };

  it("reads each request queue's producer, and the scheduled queue", () => {
    const loaded = loadDispatcherEnvironment(env);
    expect([...loaded.producerQueues]).toEqual([
      ['q-high', 'default'],
      ['q-normal', 'default'],
    ]);
    expect(loaded.scheduledQueueUrl).toBe('https://sqs/q-scheduled');
    expect(loaded.ownAccountRoleArn).toBeUndefined();
  });

  it('refuses queues of a producer the deployment does not have, and a queue of two producers', () => {
    const queues = JSON.stringify({ default: ['q-1'], ghost: ['q-1'] });
    expect(() => loadDispatcherEnvironment({ ...env, [ENV.producerQueues]: queues })).toThrow(
      `dispatcher environment: ${ENV.producerQueues} names ghost, not a producer of the deployment; ${ENV.producerQueues}: queue q-1 belongs to both default and ghost`,
    );
  });

  it('reads the outputs bucket', () => {
    expect(loadDispatcherEnvironment(env).outputsBucketName).toBe('sluice-outputs');
  });

  it('lists every missing variable, the scheduled queue and the outputs bucket among them', () => {
    const {
      [ENV.scheduledQueueUrl]: _scheduled,
      [ENV.dlqUrl]: _dlq,
      [ENV.outputsBucket]: _outputs,
      ...rest
    } = env;
    expect(() => loadDispatcherEnvironment(rest)).toThrow(EnvironmentError);
    try {
      loadDispatcherEnvironment(rest);
    } catch (error) {
      expect((error as EnvironmentError).problems).toEqual([
        `${ENV.scheduledQueueUrl} is required`,
        `${ENV.dlqUrl} is required`,
        `${ENV.outputsBucket} is required`,
      ]);
    }
  });
});
