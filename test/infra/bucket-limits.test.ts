/**
 * The dashboard's bucket limits: every bucket the catalog lists for each exact allowlisted
 * operation, with its effective limit per target (safety factor and overrides applied).
 */
import { describe, expect, it } from 'vitest';
import { bucketLimits } from '../../infra/monitoring/bucket-limits.js';
import { parseDeploymentConfig } from '../../shared/config/deployment.js';
import { testConfig } from './support.js';

describe('bucketLimits', () => {
  it('lists request, unfiltered and resource buckets of exact operations with effective limits', () => {
    const limits = bucketLimits(parseDeploymentConfig(testConfig()));

    const own = ['111111111111 eu-west-1'];
    // Account 222222222222 has no regions: its limits apply to any region ('*'); its
    // `Describe*` pattern names no bucket.
    const member = ['222222222222 *'];
    expect(limits).toEqual([
      {
        service: 'ec2',
        bucket: 'DescribeInstances',
        limits: [{ rate: 16, burst: 80, appliesTo: own }],
      },
      {
        service: 'ec2',
        bucket: 'DescribeInstances:unfiltered',
        limits: [{ rate: 8, burst: 40, appliesTo: own }],
      },
      // The override (4 / 10) with the safety factor 0.8.
      { service: 'ec2', bucket: 'RunInstances', limits: [{ rate: 3.2, burst: 8, appliesTo: own }] },
      {
        service: 'ec2',
        bucket: 'RunInstances:resource',
        limits: [{ rate: 1.6, burst: 800, appliesTo: own }],
      },
      {
        service: 'service-quotas',
        bucket: 'ListServiceQuotas',
        limits: [{ rate: 8, burst: 8, appliesTo: own }],
      },
      {
        service: 'ec2',
        bucket: 'TerminateInstances',
        limits: [{ rate: 4, burst: 80, appliesTo: member }],
      },
      {
        service: 'ec2',
        bucket: 'TerminateInstances:resource',
        limits: [{ rate: 16, burst: 800, appliesTo: member }],
      },
    ]);
  });

  it('keeps one entry per distinct limit, naming where each applies', () => {
    const config = parseDeploymentConfig({
      targets: [
        {
          account: '111111111111',
          regions: ['eu-west-1', 'us-east-1'],
          allow: [{ service: 'ec2', operations: ['CreateTags'] }],
        },
      ],
      limits: {
        overrides: [{ region: 'us-east-1', service: 'ec2', bucket: 'CreateTags', rate: 20 }],
      },
    });

    expect(bucketLimits(config)).toEqual([
      {
        service: 'ec2',
        bucket: 'CreateTags',
        limits: [
          { rate: 10, burst: 100, appliesTo: ['111111111111 eu-west-1'] },
          { rate: 20, burst: 100, appliesTo: ['111111111111 us-east-1'] },
        ],
      },
    ]);
  });
});
