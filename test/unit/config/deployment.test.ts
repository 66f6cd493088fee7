import { describe, expect, it } from 'vitest';
import {
  DeploymentConfigError,
  parseDeploymentConfig,
  replyToAllowed,
} from '../../../shared/config/deployment.js';
import {
  ENV,
  EnvironmentError,
  loadDispatcherEnvironment,
} from '../../../shared/config/environment.js';

const targets = [
  { account: '111111111111', allow: [{ service: 'ec2', operations: ['Describe*'] }] },
];

function problemsOf(value: unknown): string[] {
  try {
    parseDeploymentConfig(value);
  } catch (error) {
    if (error instanceof DeploymentConfigError) return error.problems.map((p) => p.message);
    throw error;
  }
  return [];
}

describe('parseDeploymentConfig', () => {
  it('applies the tuning defaults', () => {
    expect(parseDeploymentConfig({ targets })).toMatchObject({
      horizonMs: 60_000,
      lateAllowanceMs: 250,
      maxConcurrentCalls: 16,
      leaseMs: 120_000,
      resultTtlDays: 7,
      maxWaitMs: 86_400_000,
      maxOutputBytes: 104_857_600,
    });
    expect(parseDeploymentConfig({ targets, lateAllowanceMs: 0 }).lateAllowanceMs).toBe(0);
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
    expect(replyToAllowed(config, topic)).toBe(true);
    expect(replyToAllowed(config, queue)).toBe(true);
    expect(replyToAllowed(config, `${topic}-2`)).toBe(false);
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

describe('loadDispatcherEnvironment', () => {
  const env = {
    [ENV.bucketsTable]: 'buckets',
    [ENV.requestsTable]: 'requests',
    [ENV.queueUrls]: JSON.stringify({ normal: 'https://sqs/q-normal' }),
    [ENV.scheduledQueueUrl]: 'https://sqs/q-scheduled',
    [ENV.dlqUrl]: 'https://sqs/q-dlq',
    [ENV.outputsBucket]: 'sluice-outputs',
    [ENV.config]: JSON.stringify({ targets }),
  };

  it('reads the scheduled queue with the others; priorities without a queue use normal', () => {
    expect(loadDispatcherEnvironment(env)).toMatchObject({
      queueUrls: { high: 'https://sqs/q-normal', normal: 'https://sqs/q-normal' },
      scheduledQueueUrl: 'https://sqs/q-scheduled',
    });
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
