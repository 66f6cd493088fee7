/**
 * The service registry: one entry per service, read by the call runner (SDK client, idempotency
 * tokens, read-only rule), the limits catalog and the construct (IAM actions).
 */
import { describe, expect, it } from 'vitest';
import { CallRunner } from '../../../shared/dispatch/call-runner.js';
import { BUILT_IN_SERVICES } from '../../../shared/limits/index.js';
import { EC2_DEFINITION } from '../../../shared/services/ec2.js';
import {
  iamActionsFor,
  outcomeCheckActionsFor,
  SERVICES,
} from '../../../shared/services/registry.js';

const call = (service: string, operation: string) => ({ service, operation, input: {} });

describe('SERVICES', () => {
  it('keys every entry by its own id, and the catalog knows the same services', () => {
    for (const [id, definition] of Object.entries(SERVICES)) expect(definition.id).toBe(id);
    expect(BUILT_IN_SERVICES).toEqual(Object.keys(SERVICES));
  });

  it.each([
    ['ec2', 'DescribeVpcs'],
    ['service-quotas', 'ListServiceQuotas'],
  ])(
    'loads the %s client package with a command for %s, and none for a made-up name',
    async (id, operation) => {
      const loaded = await SERVICES[id]?.load();

      expect(loaded?.command(operation)).toBeTypeOf('function');
      expect(loaded?.command('NoSuchOperation')).toBeUndefined();
    },
  );
});

describe('iamActionsFor', () => {
  it("puts each operation or pattern under the service's IAM prefix", () => {
    expect(iamActionsFor('service-quotas', ['List*', 'GetServiceQuota'])).toEqual([
      'servicequotas:List*',
      'servicequotas:GetServiceQuota',
    ]);
    expect(iamActionsFor('ec2', ['Describe*'])).toEqual(['ec2:Describe*']);
  });

  it('refuses a service that is not in the registry, naming the known ones', () => {
    let error: unknown;
    try {
      iamActionsFor('lambda', ['Invoke']);
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      'service lambda is not in the registry (known: ec2, service-quotas)',
    );
  });
});

describe('outcomeCheckActionsFor', () => {
  it('adds the read that checks a granted tagging call, once, for names and patterns', () => {
    expect(outcomeCheckActionsFor('ec2', ['CreateTags'])).toEqual(['ec2:DescribeTags']);
    expect(outcomeCheckActionsFor('ec2', ['CreateTags', 'DeleteTags'])).toEqual([
      'ec2:DescribeTags',
    ]);
    expect(outcomeCheckActionsFor('ec2', ['Create*'])).toEqual(['ec2:DescribeTags']);
  });

  it('adds nothing for operations without a check', () => {
    expect(outcomeCheckActionsFor('ec2', ['RunInstances', 'Describe*'])).toEqual([]);
    expect(outcomeCheckActionsFor('service-quotas', ['List*'])).toEqual([]);
  });
});

describe('CallRunner.outcomeCheckOf with the registry', () => {
  const runner = new CallRunner({ targets: [] });
  const tagging = (operation: string, input: Record<string, unknown>) => ({
    service: 'ec2',
    operation,
    input,
  });

  it('names the read for calls whose effect fits one page of DescribeTags', () => {
    const input = { Resources: ['i-1'], Tags: [{ Key: 'team', Value: 'web' }] };
    expect(runner.outcomeCheckOf(tagging('CreateTags', input))).toBe('DescribeTags');
    expect(runner.outcomeCheckOf(tagging('DeleteTags', { Resources: ['i-1'] }))).toBe(
      'DescribeTags',
    );
  });

  it('has none for other calls, malformed inputs, or more pairs than one page holds', () => {
    expect(runner.outcomeCheckOf(call('ec2', 'CreateSecurityGroup'))).toBeUndefined();
    expect(runner.outcomeCheckOf(tagging('CreateTags', { Resources: 'i-1' }))).toBeUndefined();
    const many = {
      Resources: Array.from({ length: 50 }, (_, i) => `i-${i}`),
      Tags: Array.from({ length: 21 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })),
    };
    expect(runner.outcomeCheckOf(tagging('CreateTags', many))).toBeUndefined();
  });
});

describe('CallRunner.isSafeToRepeat with the registry', () => {
  const runner = new CallRunner({ targets: [] });

  it('calls an EC2 DryRun safe to repeat (it changes nothing), and a DryRun field elsewhere not', () => {
    const dryRun = { service: 'ec2', operation: 'CreateTags', input: { DryRun: true } };
    expect(runner.isSafeToRepeat(dryRun)).toBe(true);
    expect(runner.isSafeToRepeat({ ...dryRun, input: { DryRun: false } })).toBe(false);
    // Service Quotas takes no DryRun: the SDK drops the field and the request is made.
    const increase = {
      service: 'service-quotas',
      operation: 'RequestServiceQuotaIncrease',
      input: { DryRun: true },
    };
    expect(runner.isSafeToRepeat(increase)).toBe(false);
  });

  it('calls read-only and token-protected operations safe to repeat', () => {
    expect(runner.isSafeToRepeat(call('ec2', 'DescribeInstances'))).toBe(true);
    expect(runner.isSafeToRepeat(call('service-quotas', 'GetServiceQuota'))).toBe(true);
    expect(runner.isSafeToRepeat(call('ec2', 'RunInstances'))).toBe(true);
  });

  it('calls TerminateInstances safe to repeat: terminating twice terminates once', () => {
    expect(runner.isSafeToRepeat(call('ec2', 'TerminateInstances'))).toBe(true);
  });

  it('calls StartInstances unsafe and gives it no ClientToken: EC2 takes none for it', () => {
    expect(EC2_DEFINITION.idempotencyTokens.StartInstances).toBeUndefined();
    expect(EC2_DEFINITION.idempotencyTokens.RunInstances).toBe('ClientToken');
    expect(runner.isSafeToRepeat(call('ec2', 'StartInstances'))).toBe(false);
  });

  it('calls other mutating operations, and unknown services, unsafe', () => {
    expect(runner.isSafeToRepeat(call('ec2', 'CreateSecurityGroup'))).toBe(false);
    expect(runner.isSafeToRepeat(call('service-quotas', 'RequestServiceQuotaIncrease'))).toBe(
      false,
    );
    expect(runner.isSafeToRepeat(call('lambda', 'Invoke'))).toBe(false);
  });
});
