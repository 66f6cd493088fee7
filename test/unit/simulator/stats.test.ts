/**
 * The simulator's counters and execution log on their own: one counter set per (account,
 * region, service, action), sums across services, `ClientToken` execution counts, and a reset
 * that keeps the live executions view.
 */
import { describe, expect, it } from 'vitest';
import type { SimCall } from '../../../local/simulator/call.js';
import { Stats } from '../../../local/simulator/stats.js';

const T0 = Date.UTC(2025, 0, 1);

function call(action: string, over: Partial<SimCall> = {}): SimCall {
  return {
    service: 'ec2',
    action,
    account: '111111111111',
    region: 'us-east-1',
    accessKeyId: '',
    input: {},
    ...over,
  };
}

describe('Stats counters', () => {
  it('keeps counters per (account, region, service, action), listed in that order', () => {
    const stats = new Stats();
    stats.countersOf(call('RunInstances', { account: '222222222222' })).received++;
    stats.countersOf(call('StartInstances')).received++;
    stats.countersOf(call('RunInstances')).throttled++;
    stats.countersOf(call('RunInstances')).throttled++;
    stats.countersOf(call('ListServiceQuotas', { service: 'service-quotas' })).executed++;
    expect(stats.list().map((s) => [s.account, s.service, s.action, s.throttled])).toEqual([
      ['111111111111', 'ec2', 'RunInstances', 2],
      ['111111111111', 'ec2', 'StartInstances', 0],
      ['111111111111', 'service-quotas', 'ListServiceQuotas', 0],
      ['222222222222', 'ec2', 'RunInstances', 0],
    ]);
  });

  it('sumFor adds an action’s counters over services; zero for an action never seen', () => {
    const stats = new Stats();
    stats.countersOf(call('TagResource')).errors++;
    stats.countersOf(call('TagResource', { service: 'service-quotas' })).errors++;
    stats.countersOf(call('TagResource', { region: 'eu-west-1' })).errors++;
    expect(stats.sumFor('111111111111', 'us-east-1', 'TagResource')).toEqual({
      received: 0,
      executed: 0,
      throttled: 0,
      duplicateTokens: 0,
      dryRuns: 0,
      errors: 2,
    });
    expect(stats.sumFor('111111111111', 'us-east-1', 'Nothing').errors).toBe(0);
  });
});

describe('Stats executions', () => {
  it('records executions in order, with the ClientToken when there is one', () => {
    const stats = new Stats();
    stats.recordExecution(call('RunInstances'), T0, 'token-1');
    stats.recordExecution(call('DescribeInstances'), T0 + 1);
    expect(stats.executions).toEqual([
      {
        account: '111111111111',
        region: 'us-east-1',
        service: 'ec2',
        action: 'RunInstances',
        input: {},
        atMs: T0,
        clientToken: 'token-1',
      },
      {
        account: '111111111111',
        region: 'us-east-1',
        service: 'ec2',
        action: 'DescribeInstances',
        input: {},
        atMs: T0 + 1,
      },
    ]);
  });

  it('counts executions per ClientToken across accounts and actions', () => {
    const stats = new Stats();
    stats.recordExecution(call('RunInstances'), T0, 'a');
    stats.recordExecution(call('RunInstances', { account: '222222222222' }), T0, 'a');
    stats.recordExecution(call('StartInstances'), T0, 'b');
    stats.recordExecution(call('DescribeInstances'), T0);
    expect(stats.executedClientTokens()).toEqual(
      new Map([
        ['a', 2],
        ['b', 1],
      ]),
    );
  });

  it('clear() zeroes counters and empties the same executions array callers hold', () => {
    const stats = new Stats();
    const view = stats.executions;
    stats.countersOf(call('RunInstances')).executed++;
    stats.recordExecution(call('RunInstances'), T0, 'a');
    stats.clear();
    expect(view).toHaveLength(0);
    expect(stats.executions).toBe(view);
    expect(stats.list()).toEqual([]);
  });
});
