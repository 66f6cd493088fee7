import { describe, expect, it } from 'vitest';
import { groupByBuckets } from '../../../shared/admission/groups.js';
import { drawsFor } from '../../../shared/limits/index.js';

const target = { account: '123456789012', region: 'us-east-1' };

describe('groupByBuckets', () => {
  it('puts requests with the same buckets together, keeping their order and costs', () => {
    const batch = [
      drawsFor(target, {
        service: 'ec2',
        operation: 'RunInstances',
        input: { MinCount: 1, MaxCount: 3 },
      }),
      drawsFor(target, { service: 'ec2', operation: 'DescribeVpcs', input: {} }),
      drawsFor(target, {
        service: 'ec2',
        operation: 'RunInstances',
        input: { MinCount: 1, MaxCount: 7 },
      }),
    ];
    const groups = groupByBuckets(batch);
    expect(groups).toHaveLength(2);
    expect(groups[0]?.members).toEqual([0, 2]);
    expect(groups[0]?.buckets.map((b) => b.ref.bucket)).toEqual([
      'RunInstances',
      'RunInstances:resource',
    ]);
    expect(groups[0]?.costs).toEqual([
      [1, 3],
      [1, 7],
    ]);
    expect(groups[1]?.members).toEqual([1]);
  });

  it('keeps the same operation in different accounts apart', () => {
    const call = { service: 'ec2', operation: 'DescribeVpcs', input: {} };
    const groups = groupByBuckets([
      drawsFor(target, call),
      drawsFor({ ...target, account: '210987654321' }, call),
    ]);
    expect(groups.map((g) => g.members)).toEqual([[0], [1]]);
  });
});
