/**
 * The simulator's throttle model on its own, with the clock passed in: a bucket of burst B and
 * rate r admits B calls at once and then one per 1/r seconds, refills fractionally, debits all of
 * a call's buckets or none, keeps callers apart, and takes its defaults from the limits catalog.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  catalogNeeds,
  retryAfterSeconds,
  type SimBucketKey,
  Throttle,
  type ThrottleScope,
} from '../../../local/simulator/throttle.js';
import { windowStats } from '../../../local/window-stats.js';
import { InvalidCostError } from '../../../shared/limits/errors.js';
import type { BucketLimit, BucketNeed } from '../../../shared/limits/types.js';
import {
  EC2_ACTION_LIMITS,
  EC2_CATEGORY_LIMITS,
  EC2_RESOURCE_BUCKETS,
} from '../../../shared/services/ec2.js';
import { SERVICE_QUOTAS_LIMITS } from '../../../shared/services/service-quotas.js';
import { thrown } from './thrown.js';

const T0 = Date.UTC(2025, 0, 1);
const CALLER: ThrottleScope = {
  account: '111111111111',
  region: 'us-east-1',
  service: 'ec2',
  action: 'RunInstances',
};

function need(bucket: string, limit: BucketLimit, cost = 1): BucketNeed {
  return { bucket, limit, cost };
}

function keyOf(scope: ThrottleScope, bucket: string): SimBucketKey {
  return { account: scope.account, region: scope.region, service: scope.service, bucket };
}

/** How many of `count` calls at `nowMs` are admitted. */
function admitMany(
  throttle: Throttle,
  count: number,
  needs: readonly BucketNeed[],
  nowMs: number,
  scope = CALLER,
): number {
  let admitted = 0;
  for (let i = 0; i < count; i++) {
    if (throttle.admit(scope, needs, nowMs).admitted) admitted++;
  }
  return admitted;
}

describe('Throttle.admit', () => {
  const LIMIT = { burst: 5, rate: 2 };
  const NEEDS = [need('RunInstances', LIMIT)];

  it('admits the whole burst at once, then refuses with the wait until one token refills', () => {
    const throttle = new Throttle();
    expect(admitMany(throttle, 5, NEEDS, T0)).toBe(5);
    expect(throttle.admit(CALLER, NEEDS, T0)).toEqual({ admitted: false, waitSeconds: 0.5 });
  });

  it('then admits one call per 1/rate: not 1 ms early, exactly on time, not twice', () => {
    const throttle = new Throttle();
    admitMany(throttle, 5, NEEDS, T0);
    expect(throttle.admit(CALLER, NEEDS, T0 + 499).admitted).toBe(false);
    expect(throttle.admit(CALLER, NEEDS, T0 + 500).admitted).toBe(true);
    expect(throttle.admit(CALLER, NEEDS, T0 + 500).admitted).toBe(false);
    expect(throttle.admit(CALLER, NEEDS, T0 + 1000).admitted).toBe(true);
  });

  it('refills fractionally: at 0.1/s half a token after 5 s, a whole one after 10 s', () => {
    const slow = { burst: 1, rate: 0.1 };
    const needs = [need('AdvertiseByoipCidr', slow)];
    const throttle = new Throttle();
    expect(throttle.admit(CALLER, needs, T0).admitted).toBe(true);
    expect(throttle.tokens(keyOf(CALLER, 'AdvertiseByoipCidr'), T0 + 5000)).toBeCloseTo(0.5, 9);
    const early = throttle.admit(CALLER, needs, T0 + 9999);
    expect(early.admitted).toBe(false);
    expect(early.admitted === false && early.waitSeconds).toBeCloseTo(0.001, 9);
    expect(throttle.admit(CALLER, needs, T0 + 10_000).admitted).toBe(true);
  });

  it('never refills above the burst', () => {
    const throttle = new Throttle();
    admitMany(throttle, 1, NEEDS, T0);
    expect(throttle.tokens(keyOf(CALLER, 'RunInstances'), T0 + 60_000)).toBe(5);
    expect(admitMany(throttle, 6, NEEDS, T0 + 60_000)).toBe(5);
  });

  it('keeps one bucket per account, region and bucket name', () => {
    const throttle = new Throttle();
    expect(admitMany(throttle, 6, NEEDS, T0)).toBe(5);
    const otherAccount = { ...CALLER, account: '222222222222' };
    const otherRegion = { ...CALLER, region: 'eu-west-1' };
    expect(admitMany(throttle, 6, NEEDS, T0, otherAccount)).toBe(5);
    expect(admitMany(throttle, 6, NEEDS, T0, otherRegion)).toBe(5);
    expect(admitMany(throttle, 6, [need('StartInstances', LIMIT)], T0)).toBe(5);
  });

  it('debits every bucket a call needs or none, and waits for the shortest of them', () => {
    const throttle = new Throttle();
    const request = need('RunInstances', { burst: 10, rate: 1 });
    const instances = (cost: number) => need('RunInstances:resource', { burst: 3, rate: 2 }, cost);
    expect(throttle.admit(CALLER, [request, instances(2)], T0).admitted).toBe(true);

    // One instance token left: a call for two is refused and spends no request token either.
    expect(throttle.admit(CALLER, [request, instances(2)], T0)).toEqual({
      admitted: false,
      waitSeconds: 0.5,
    });
    expect(throttle.tokens(keyOf(CALLER, 'RunInstances'), T0)).toBe(9);
    expect(throttle.tokens(keyOf(CALLER, 'RunInstances:resource'), T0)).toBe(1);
  });

  it('a clock that steps back neither refills nor drains a bucket', () => {
    const throttle = new Throttle();
    admitMany(throttle, 3, NEEDS, T0);
    expect(throttle.tokens(keyOf(CALLER, 'RunInstances'), T0 - 10_000)).toBe(2);
    expect(throttle.tokens(keyOf(CALLER, 'RunInstances'), T0 + 500)).toBe(3);
  });

  it('clear() fills every bucket again', () => {
    const throttle = new Throttle();
    admitMany(throttle, 5, NEEDS, T0);
    throttle.clear();
    expect(admitMany(throttle, 6, NEEDS, T0)).toBe(5);
  });

  it('never admits more than burst + rate·W calls in any window W (random arrivals)', () => {
    fc.assert(
      fc.property(
        fc.record({
          rate: fc.constantFrom(0.1, 0.3, 2, 5, 20),
          burst: fc.integer({ min: 1, max: 10 }),
        }),
        // Clumps of simultaneous calls and pauses, so buckets drain and refill.
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 })), {
          minLength: 50,
          maxLength: 400,
        }),
        fc.constantFrom(1000, 10_000, 60_000),
        (limit, gapsMs, windowMs) => {
          const throttle = new Throttle();
          const needs = [need('B', limit)];
          let now = T0;
          const admitted: number[] = [];
          for (const gap of gapsMs) {
            now += gap;
            if (throttle.admit(CALLER, needs, now).admitted) admitted.push(now);
          }
          const bound = limit.burst + (limit.rate * windowMs) / 1000;
          expect(windowStats(admitted, windowMs, bound).violations).toBe(0);
        },
      ),
    );
  });
});

describe('Throttle penalty', () => {
  const NEEDS = [need('RunInstances', { burst: 1, rate: 1 })];

  it('throttles every call during the penalty, each restarting it, then admits again', () => {
    const throttle = new Throttle({ penalty: { durationMs: 2000 } });
    expect(throttle.admit(CALLER, NEEDS, T0).admitted).toBe(true);
    // Empty bucket: throttled, and the wait is the penalty's, not the bucket's 1 s.
    expect(throttle.admit(CALLER, NEEDS, T0)).toEqual({ admitted: false, waitSeconds: 2 });
    // The bucket has refilled, but the penalty (until +2000) holds and now lasts until +3500.
    expect(throttle.admit(CALLER, NEEDS, T0 + 1500)).toEqual({ admitted: false, waitSeconds: 2 });
    expect(throttle.admit(CALLER, NEEDS, T0 + 3499).admitted).toBe(false);
    // That call restarted it until +5499.
    expect(throttle.admit(CALLER, NEEDS, T0 + 5498).admitted).toBe(false);
    expect(throttle.admit(CALLER, NEEDS, T0 + 7498).admitted).toBe(true);
  });

  it('applies to the throttled action only', () => {
    const throttle = new Throttle({ penalty: { durationMs: 2000 } });
    admitMany(throttle, 2, NEEDS, T0);
    const other = { ...CALLER, action: 'StartInstances' };
    expect(
      throttle.admit(other, [need('StartInstances', { burst: 1, rate: 1 })], T0).admitted,
    ).toBe(true);
  });

  it('clear() lifts penalties', () => {
    const throttle = new Throttle({ penalty: { durationMs: 2000 } });
    admitMany(throttle, 2, NEEDS, T0);
    throttle.clear();
    expect(throttle.admit(CALLER, NEEDS, T0 + 1).admitted).toBe(true);
  });
});

describe('Throttle limits', () => {
  it('an override by bucket name replaces the default for every caller', () => {
    const throttle = new Throttle({ limits: { RunInstances: { burst: 2, rate: 1 } } });
    const needs = [need('RunInstances', { burst: 5, rate: 2 })];
    expect(admitMany(throttle, 3, needs, T0)).toBe(2);
    expect(admitMany(throttle, 3, needs, T0, { ...CALLER, account: '222222222222' })).toBe(2);
  });

  it('an override function can change one account and keep the default elsewhere', () => {
    const throttle = new Throttle({
      limits: (key) => (key.account === CALLER.account ? { burst: 1, rate: 1 } : undefined),
    });
    const needs = [need('RunInstances', { burst: 5, rate: 2 })];
    expect(admitMany(throttle, 6, needs, T0)).toBe(1);
    expect(admitMany(throttle, 6, needs, T0, { ...CALLER, account: '222222222222' })).toBe(5);
  });

  it('rejects a limit with a rate of 0 or a burst below 1, naming the bucket', () => {
    const throttle = new Throttle({ limits: { RunInstances: { burst: 0.5, rate: 1 } } });
    const err = thrown(() =>
      throttle.admit(CALLER, [need('RunInstances', { burst: 5, rate: 2 })], T0),
    );
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe(
      'Invalid simulator limit for 111111111111\nus-east-1\nec2\nRunInstances: {"burst":0.5,"rate":1}',
    );
    const zeroRate = new Throttle({ limits: { B: { burst: 1, rate: 0 } } });
    expect(
      thrown(() => zeroRate.admit(CALLER, [need('B', { burst: 1, rate: 1 })], T0)),
    ).toBeInstanceOf(RangeError);
  });
});

describe('Throttle.tokens', () => {
  const ec2Key = (bucket: string) => keyOf(CALLER, bucket);
  const quotasKey = (bucket: string): SimBucketKey => ({
    ...ec2Key(bucket),
    service: 'service-quotas',
  });

  it('a bucket never used is full at the limits catalog default', () => {
    const throttle = new Throttle();
    expect(throttle.tokens(ec2Key('RunInstances'), T0)).toBe(
      EC2_ACTION_LIMITS.get('RunInstances')?.burst,
    );
    expect(throttle.tokens(ec2Key('RunInstances:resource'), T0)).toBe(
      EC2_RESOURCE_BUCKETS.get('RunInstances')?.limit.burst,
    );
    expect(throttle.tokens(ec2Key('DescribeInstances:unfiltered'), T0)).toBe(
      EC2_CATEGORY_LIMITS['unfiltered-describe'].burst,
    );
    expect(throttle.tokens(ec2Key('DescribeInstances'), T0)).toBe(
      EC2_CATEGORY_LIMITS['non-mutating'].burst,
    );
    expect(throttle.tokens(quotasKey('ListServiceQuotas'), T0)).toBe(
      SERVICE_QUOTAS_LIMITS.buckets.ListServiceQuotas?.burst,
    );
    expect(throttle.tokens(quotasKey('default'), T0)).toBe(
      SERVICE_QUOTAS_LIMITS.buckets.default?.burst,
    );
  });

  it('an override applies to a bucket never used', () => {
    const throttle = new Throttle({ limits: { RunInstances: { burst: 42, rate: 1 } } });
    expect(throttle.tokens(ec2Key('RunInstances'), T0)).toBe(42);
  });

  it('a bucket the catalog does not know is a RangeError naming it', () => {
    const throttle = new Throttle();
    const ec2 = thrown(() => throttle.tokens(ec2Key('CreateTags:resource'), T0));
    expect(ec2).toBeInstanceOf(RangeError);
    expect((ec2 as Error).message).toBe('Unknown EC2 bucket CreateTags:resource');
    const quotas = thrown(() => throttle.tokens(quotasKey('CreateSupportCase'), T0));
    expect(quotas).toBeInstanceOf(RangeError);
    expect((quotas as Error).message).toBe('Unknown Service Quotas bucket CreateSupportCase');
  });
});

describe('catalogNeeds', () => {
  it('EC2 RunInstances draws one request token and MaxCount instance tokens', () => {
    expect(catalogNeeds('ec2', 'RunInstances', { MaxCount: 3 })).toEqual([
      { bucket: 'RunInstances', limit: EC2_ACTION_LIMITS.get('RunInstances'), cost: 1 },
      {
        bucket: 'RunInstances:resource',
        limit: EC2_RESOURCE_BUCKETS.get('RunInstances')?.limit,
        cost: 3,
      },
    ]);
  });

  it('EC2 RunInstances without MaxCount is the catalog InvalidCostError', () => {
    const err = thrown(() => catalogNeeds('ec2', 'RunInstances', {}));
    expect(err).toBeInstanceOf(InvalidCostError);
    expect((err as InvalidCostError).field).toBe('MaxCount');
  });

  it('Service Quotas: a documented operation has its own bucket, any other the default', () => {
    expect(catalogNeeds('service-quotas', 'GetServiceQuota', {})).toEqual([
      { bucket: 'GetServiceQuota', limit: SERVICE_QUOTAS_LIMITS.buckets.GetServiceQuota, cost: 1 },
    ]);
    expect(catalogNeeds('service-quotas', 'CreateSupportCase', {})).toEqual([
      { bucket: 'default', limit: SERVICE_QUOTAS_LIMITS.buckets.default, cost: 1 },
    ]);
  });
});

describe('retryAfterSeconds', () => {
  it('rounds the wait up to whole seconds, at least 1', () => {
    expect(retryAfterSeconds(0.01)).toBe(1);
    expect(retryAfterSeconds(2)).toBe(2);
    expect(retryAfterSeconds(2.1)).toBe(3);
  });

  it('does not add a second for float noise', () => {
    expect(retryAfterSeconds(0.1 * 3 * 10)).toBe(3); // 3.0000000000000004
  });
});
