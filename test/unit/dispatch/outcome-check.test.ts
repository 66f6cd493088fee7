/**
 * Which read shows a call's effect for a producer: the registry's check, only where one of the
 * producer's allowlist entries allows the call without resource conditions (the target role
 * grants the read for such entries only).
 */
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../../shared/config/deployment.js';
import { CallRunner } from '../../../shared/dispatch/call-runner.js';
import type { BatchContext, Work } from '../../../shared/dispatch/context.js';
import { readBackOperation } from '../../../shared/dispatch/outcome-check.js';

const ACCOUNT = '111111111111';
const deployment = parseDeploymentConfig({
  targets: [
    { account: ACCOUNT, allow: [{ service: 'ec2', operations: ['CreateTags', 'Describe*'] }] },
  ],
  producers: [
    { name: 'free', allow: [{ accounts: [ACCOUNT], service: 'ec2', operations: ['CreateTags'] }] },
    {
      name: 'scoped',
      allow: [
        {
          accounts: [ACCOUNT],
          service: 'ec2',
          operations: ['CreateTags'],
          conditions: { 'ec2:ResourceTag/team': 'web' },
        },
      ],
    },
  ],
});
const ctx = { deployment, runner: new CallRunner({ targets: [] }) } as unknown as BatchContext;

function work(producer: string, operation: string): Work {
  const input = { Resources: ['i-1'], Tags: [{ Key: 'team', Value: 'web' }] };
  return {
    producer,
    request: {
      v: 1,
      id: 'r',
      target: { account: ACCOUNT, region: 'us-east-1' },
      call: { service: 'ec2', operation, input },
    },
  } as unknown as Work;
}

describe('readBackOperation', () => {
  it('is DescribeTags for a tagging call allowed without resource conditions', () => {
    expect(readBackOperation(ctx, work('free', 'CreateTags'))).toBe('DescribeTags');
  });

  it('is none when the entry allowing the call has resource conditions', () => {
    expect(readBackOperation(ctx, work('scoped', 'CreateTags'))).toBeUndefined();
  });

  it('is none for a call the registry has no check for', () => {
    expect(readBackOperation(ctx, work('free', 'CreateSecurityGroup'))).toBeUndefined();
  });
});
