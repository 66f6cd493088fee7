/**
 * The `reads` section of the deployment configuration: single-flight on by default, the cache off
 * by default and per operation, refused for anything but reads; and the environment that needs a
 * reads table when reads are cached.
 */
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../../shared/config/deployment.js';
import {
  ENV,
  EnvironmentError,
  loadDispatcherEnvironment,
} from '../../../shared/config/environment.js';
import { cacheMsFor } from '../../../shared/config/reads.js';
import { problemsOf } from '../../support/config.js';

const targets = [
  { account: '111111111111', allow: [{ service: 'service-quotas', operations: ['List*'] }] },
];

describe('reads configuration', () => {
  it('coalesces identical reads and caches nothing by default', () => {
    const { reads } = parseDeploymentConfig({ targets });
    expect(reads).toEqual({ coalesce: true, cache: [] });
    expect(cacheMsFor(reads, { service: 'service-quotas', operation: 'ListServiceQuotas' })).toBe(
      0,
    );
  });

  it('caches the operations a rule names, for its cacheSeconds; the first matching rule wins', () => {
    const { reads } = parseDeploymentConfig({
      targets,
      reads: {
        coalesce: false,
        cache: [
          { service: 'service-quotas', operations: ['ListServiceQuotas'], cacheSeconds: 300 },
          { service: 'service-quotas', operations: ['List*', 'GetServiceQuota'], cacheSeconds: 60 },
          { service: 'ec2', operations: ['DescribeRegions'], cacheSeconds: 3_600 },
        ],
      },
    });
    const ms = (service: string, operation: string) => cacheMsFor(reads, { service, operation });
    expect(reads.coalesce).toBe(false);
    expect(ms('service-quotas', 'ListServiceQuotas')).toBe(300_000);
    expect(ms('service-quotas', 'ListServices')).toBe(60_000);
    expect(ms('service-quotas', 'GetServiceQuota')).toBe(60_000);
    expect(ms('ec2', 'DescribeRegions')).toBe(3_600_000);
    expect(ms('ec2', 'DescribeInstances')).toBe(0);
  });

  it('refuses to cache anything but reads, naming the entry and the rule', () => {
    expect(
      problemsOf({
        targets,
        reads: {
          cache: [
            { service: 'ec2', operations: ['DescribeImages', 'RunInstances'], cacheSeconds: 60 },
            { service: 'ec2', operations: ['Create*'], cacheSeconds: 60 },
            { service: 'sqs', operations: ['ListQueues'], cacheSeconds: 60 },
          ],
        },
      }),
    ).toEqual([
      'reads.cache[0].operations[1]: ec2:RunInstances is not a read: only read-only operations are cached (read-only)',
      'reads.cache[1].operations[0]: ec2:Create* is not a read: only read-only operations are cached (read-only)',
      'reads.cache[2].service: sqs is not a service Sluice can call (unsupported)',
    ]);
  });

  it('names the field and the rule of a cacheSeconds out of range', () => {
    expect(
      problemsOf({
        targets,
        reads: { cache: [{ service: 'ec2', operations: ['DescribeRegions'], cacheSeconds: 0 }] },
      }),
    ).toEqual(['reads.cache[0].cacheSeconds: must be at least 1 (range)']);
  });
});

describe('the dispatcher environment: the reads table', () => {
  const env = {
    [ENV.bucketsTable]: 'buckets',
    [ENV.requestsTable]: 'requests',
    [ENV.producerQueues]: JSON.stringify({ default: ['q-normal'] }),
    [ENV.scheduledQueueUrl]: 'https://sqs/q-scheduled',
    [ENV.dlqUrl]: 'https://sqs/q-dlq',
    [ENV.outputsBucket]: 'sluice-outputs',
  };
  const cached = JSON.stringify({
    targets,
    reads: {
      cache: [{ service: 'service-quotas', operations: ['ListServiceQuotas'], cacheSeconds: 300 }],
    },
  });

  it('reads it when set; without it reads are not shared', () => {
    const config = JSON.stringify({ targets });
    expect(
      loadDispatcherEnvironment({ ...env, [ENV.config]: config, [ENV.readsTable]: 'reads' }),
    ).toMatchObject({ readsTableName: 'reads' });
    expect(loadDispatcherEnvironment({ ...env, [ENV.config]: config })).not.toHaveProperty(
      'readsTableName',
    );
  });

  it('requires it when the configuration caches reads', () => {
    let failure: unknown;
    try {
      loadDispatcherEnvironment({ ...env, [ENV.config]: cached });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(EnvironmentError);
    expect((failure as EnvironmentError).problems).toEqual([
      `${ENV.readsTable} is required: the configuration caches reads (reads.cache)`,
    ]);
  });
});
