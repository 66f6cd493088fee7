import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowStats } from '../../../local/window-stats.js';
import {
  gcraParams,
  maxTokensPerWrite,
  planAdmission,
  US_PER_S,
} from '../../../shared/admission/gcra.js';

/** One admitted request as seen by the model: when it may run and what it took. */
interface Slot {
  atUs: number;
  cost: number;
  arrivedUs: number;
}

/** Drives one bucket through a list of (delay, group) arrivals, as any number of callers would. */
function simulate(
  limit: { rate: number; burst: number },
  horizonUs: number,
  arrivals: readonly { gapUs: number; costs: number[] }[],
) {
  const params = gcraParams(limit);
  let tat: number | undefined;
  let nowUs = 1_700_000_000_000_000;
  const slots: Slot[] = [];
  const refusals: { nowUs: number; retryAtUs: number; tat: number | undefined; costs: number[] }[] =
    [];
  for (const { gapUs, costs } of arrivals) {
    nowUs += gapUs;
    const plan = planAdmission(tat, nowUs, params, costs, horizonUs);
    if (plan.kind === 'admitted') {
      plan.slotsUs.forEach((atUs, i) => {
        slots.push({ atUs, cost: costs[i] as number, arrivedUs: nowUs });
      });
      tat = plan.newTatUs;
    } else if (plan.kind === 'not-yet') {
      refusals.push({ nowUs, retryAtUs: plan.retryAtUs, tat, costs });
    }
  }
  return { params, slots, refusals };
}

/** The most tokens whose slots fall in any closed window of `windowUs`. */
function maxTokensInWindow(slots: readonly Slot[], windowUs: number): number {
  return windowStats(
    slots.flatMap((s) => Array.from({ length: s.cost }, () => s.atUs)),
    windowUs,
  ).max;
}

const limitArb = fc.record({
  // Fractional rates included: EC2 has buckets refilling 0.1, 0.15 and 0.3 tokens per second.
  rate: fc.oneof(
    fc.constantFrom(0.1, 0.15, 0.3, 2, 5, 20, 50),
    fc.double({ min: 0.05, max: 500, noNaN: true }),
  ),
  // Fractional bursts included: the catalog trims bursts by its lateness allowance.
  burst: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.double({ min: 1, max: 60, noNaN: true })),
});
const arrivalsArb = fc.array(
  fc.record({
    gapUs: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 50_000 }),
      fc.integer({ min: 0, max: 20 * US_PER_S }),
    ),
    costs: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 12 }),
  }),
  { minLength: 1, maxLength: 120 },
);
const horizonArb = fc.constantFrom(0, 1 * US_PER_S, 10 * US_PER_S, 60 * US_PER_S);

describe('gcraParams', () => {
  it('rounds the emission interval up so a bucket is never faster than configured', () => {
    const params = gcraParams({ rate: 3, burst: 5 });
    expect(params).toEqual({ intervalUs: 333_334, toleranceUs: 1_666_670, burst: 5 });
    expect(US_PER_S / params.intervalUs).toBeLessThanOrEqual(3);
  });

  it('keeps fractional rates: 0.1 per second is one token every 10 s', () => {
    expect(gcraParams({ rate: 0.1, burst: 1 }).intervalUs).toBe(10 * US_PER_S);
  });

  it('rejects a zero rate and a burst below one, naming the field', () => {
    expect(() => gcraParams({ rate: 0, burst: 1 })).toThrow(
      new RangeError('rate must be a finite number > 0, got 0'),
    );
    expect(() => gcraParams({ rate: 1, burst: 0.5 })).toThrow(
      new RangeError('burst must be a finite number >= 1, got 0.5'),
    );
  });
});

describe('planAdmission', () => {
  const now = 1_000 * US_PER_S;

  it('admits a whole burst at once on an idle bucket', () => {
    const params = gcraParams({ rate: 2, burst: 5 });
    const plan = planAdmission(undefined, now, params, [1, 1, 1, 1, 1], 0);
    expect(plan).toEqual({
      kind: 'admitted',
      count: 5,
      slotsUs: [now, now, now, now, now],
      newTatUs: now + 2_500_000,
      tokens: 5,
    });
  });

  it('says exactly when the next token fits once the burst is spent', () => {
    const params = gcraParams({ rate: 2, burst: 5 });
    const plan = planAdmission(now + 2_500_000, now, params, [1], 0);
    expect(plan).toEqual({ kind: 'not-yet', retryAtUs: now + 500_000 });
  });

  it('reserves later slots, one emission interval apart, when the bucket is full', () => {
    const params = gcraParams({ rate: 2, burst: 5 });
    const plan = planAdmission(now + 2_500_000, now, params, [1, 1, 1], 10 * US_PER_S);
    expect(plan).toMatchObject({
      kind: 'admitted',
      count: 3,
      slotsUs: [now + 500_000, now + 1_000_000, now + 1_500_000],
    });
  });

  it('holds each request to its own horizon: the prefix stops at the first that reaches too far', () => {
    const params = gcraParams({ rate: 2, burst: 5 });
    // Full bucket: slots at +0.5, +1, +1.5, +2 s; the third may only go 1.2 s ahead.
    const plan = planAdmission(
      now + 2_500_000,
      now,
      params,
      [1, 1, 1, 1],
      [10 * US_PER_S, 10 * US_PER_S, 1_200_000, 10 * US_PER_S],
    );
    expect(plan).toMatchObject({ kind: 'admitted', count: 2 });
    // When even the first reaches too far, "not yet" says when it fits within its own horizon.
    expect(planAdmission(now + 2_500_000, now, params, [1], [300_000])).toEqual({
      kind: 'not-yet',
      retryAtUs: now + 200_000,
    });
  });

  it('trims the burst by rate × lateness allowance, keeping at least one token', () => {
    expect(gcraParams({ rate: 2, burst: 5 }, 250).burst).toBe(4.5);
    expect(gcraParams({ rate: 20, burst: 100 }, 250).burst).toBe(95);
    expect(gcraParams({ rate: 10, burst: 1 }, 250).burst).toBe(1);
    expect(gcraParams({ rate: 2, burst: 5 }, 0).burst).toBe(5);
    expect(() => gcraParams({ rate: 2, burst: 5 }, -1)).toThrow(/lateAllowanceMs/);
  });

  it('keeps fractional bursts: 4.5 tokens admit 4 at once and the 5th a quarter second later at 2/s', () => {
    const params = gcraParams({ rate: 2, burst: 4.5 });
    const plan = planAdmission(undefined, now, params, [1, 1, 1, 1, 1, 1], 10 * US_PER_S);
    expect(plan).toMatchObject({
      kind: 'admitted',
      slotsUs: [now, now, now, now, now + 250_000, now + 750_000],
    });
    expect(planAdmission(undefined, now, params, [5], 10 * US_PER_S)).toMatchObject({
      kind: 'never-fits',
    });
  });

  it('admits only the prefix whose slots fall within the horizon', () => {
    const params = gcraParams({ rate: 1, burst: 1 });
    const plan = planAdmission(undefined, now, params, [1, 1, 1, 1], 2 * US_PER_S);
    expect(plan).toMatchObject({
      kind: 'admitted',
      count: 3,
      slotsUs: [now, now + US_PER_S, now + 2 * US_PER_S],
    });
  });

  it('tells "never fits" (cost above burst) from "not yet"', () => {
    const params = gcraParams({ rate: 2, burst: 1000 });
    expect(planAdmission(undefined, now, params, [1001], 60 * US_PER_S)).toEqual({
      kind: 'never-fits',
      cost: 1001,
      burst: 1000,
    });
  });

  it('stops the prefix before a request that can never fit', () => {
    const params = gcraParams({ rate: 2, burst: 10 });
    expect(planAdmission(undefined, now, params, [3, 11, 1], 0)).toMatchObject({
      kind: 'admitted',
      count: 1,
    });
  });

  it('never admits more than burst + rate·W in any window W (random arrivals, rates, bursts, costs)', () => {
    fc.assert(
      fc.property(limitArb, horizonArb, arrivalsArb, (limit, horizonUs, arrivals) => {
        const { slots } = simulate(limit, horizonUs, arrivals);
        for (const windowUs of [0, 1 * US_PER_S, 10 * US_PER_S, 37 * US_PER_S]) {
          const bound = limit.burst + (limit.rate * windowUs) / US_PER_S;
          expect(maxTokensInWindow(slots, windowUs)).toBeLessThanOrEqual(bound + 1e-9);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('states an exact retry time: the first request fits at retryAt and not a microsecond before', () => {
    fc.assert(
      fc.property(limitArb, horizonArb, arrivalsArb, (limit, horizonUs, arrivals) => {
        const { params, refusals } = simulate(limit, horizonUs, arrivals);
        for (const { tat, retryAtUs, nowUs, costs } of refusals) {
          expect(retryAtUs).toBeGreaterThan(nowUs);
          expect(planAdmission(tat, retryAtUs, params, costs, horizonUs).kind).toBe('admitted');
          expect(planAdmission(tat, retryAtUs - 1, params, costs, horizonUs).kind).toBe('not-yet');
        }
      }),
      { numRuns: 400 },
    );
  });

  it('never lets reservations overlap: future slots are apart by at least the later cost', () => {
    fc.assert(
      fc.property(limitArb, horizonArb, arrivalsArb, (limit, horizonUs, arrivals) => {
        const { params, slots } = simulate(limit, horizonUs, arrivals);
        // Slots are handed out in admission order; reserved ones (in the future when granted)
        // must each start after the tokens of the one before them have refilled.
        for (let i = 1; i < slots.length; i++) {
          const previous = slots[i - 1] as Slot;
          const current = slots[i] as Slot;
          expect(current.atUs).toBeGreaterThanOrEqual(previous.atUs);
          if (current.atUs > current.arrivedUs && previous.atUs > current.arrivedUs) {
            expect(current.atUs - previous.atUs).toBeGreaterThanOrEqual(
              current.cost * params.intervalUs,
            );
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('uses the bucket at its rate under sustained demand', () => {
    fc.assert(
      fc.property(limitArb, fc.integer({ min: 1, max: 5 }), (limit, cost) => {
        fc.pre(cost <= Math.floor(limit.burst));
        const params = gcraParams(limit);
        const durationUs = Math.ceil((20 / limit.rate) * US_PER_S);
        // A caller that retries exactly at the stated time, never earlier, never later.
        let tat: number | undefined;
        let nowUs = 0;
        let tokens = 0;
        // Bounded: each round admits or moves time forward; a stuck retry time fails the test.
        for (let round = 0; nowUs <= durationUs; round++) {
          expect(round).toBeLessThan(10_000);
          const plan = planAdmission(tat, nowUs, params, [cost], 0);
          if (plan.kind === 'admitted') {
            tokens += cost;
            tat = plan.newTatUs;
          } else if (plan.kind === 'not-yet') {
            expect(plan.retryAtUs).toBeGreaterThan(nowUs);
            nowUs = plan.retryAtUs;
          }
        }
        const ideal = Math.floor(
          params.toleranceUs / params.intervalUs + durationUs / params.intervalUs,
        );
        expect(tokens).toBeGreaterThanOrEqual(ideal - cost + 1);
        expect(tokens).toBeLessThanOrEqual(ideal);
      }),
      { numRuns: 200 },
    );
  });
});

describe('maxTokensPerWrite', () => {
  it('is the burst plus what refills within the horizon', () => {
    expect(maxTokensPerWrite(gcraParams({ rate: 50, burst: 25 }), 10 * US_PER_S)).toBe(525);
  });
});
