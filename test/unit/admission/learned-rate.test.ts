import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  afterThrottle,
  DEFAULT_LEARNED_RATE,
  fractionAt,
  intervalAt,
  type RateState,
  recoveryStep,
  UNTHROTTLED,
} from '../../../shared/admission/learned-rate.js';

const S = 1_000_000;
const T0 = 1_700_000_000 * S;

/** Throttles at the given seconds (each reported in the epoch in force), then the state. */
function history(throttlesAtS: readonly number[]): RateState {
  let state: RateState = UNTHROTTLED;
  for (const at of throttlesAtS) state = afterThrottle(state, state.epoch, T0 + at * S) ?? state;
  return state;
}

describe('afterThrottle', () => {
  it('decreases the rate once per epoch: reports of calls admitted before are not new evidence', () => {
    const first = afterThrottle(UNTHROTTLED, 0, T0);
    expect(first).toMatchObject({ fraction: 0.5, ceiling: 1, decreasedTo: 0.5, epoch: 1 });
    expect(afterThrottle(first as RateState, 0, T0 + 100)).toBeUndefined();
    expect(afterThrottle(first as RateState, 1, T0)).toMatchObject({
      fraction: 0.25,
      ceiling: 0.5,
      epoch: 2,
    });
  });

  it('never goes below the minimum fraction', () => {
    expect(history(Array.from({ length: 50 }, (_, i) => i * 0.01)).fraction).toBe(
      DEFAULT_LEARNED_RATE.minFraction,
    );
  });
});

describe('fractionAt', () => {
  it('holds the decreased rate for the plateau, then probes back to the configured rate', () => {
    const state = history([0]);
    expect(fractionAt(state, T0)).toBeCloseTo(0.5, 10);
    expect(fractionAt(state, T0 + 12 * S)).toBeCloseTo(0.5, 10);
    expect(fractionAt(state, T0 + 13 * S)).toBeCloseTo(0.6, 10);
    expect(fractionAt(state, T0 + 15 * S)).toBeCloseTo(0.5 * 1.2 ** 3, 10);
    expect(fractionAt(state, T0 + 16 * S)).toBe(1);
  });

  it('starts its recovery from the latest throttle: a rate that keeps throttling stays down', () => {
    const state = history([0, 13, 26]);
    expect(state.epoch).toBe(3);
    expect(fractionAt(state, T0 + 30 * S)).toBeLessThan(fractionAt(history([0]), T0 + 14 * S));
  });

  it('is never above 1, never below the fraction in force, and never falls as time passes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 60, noNaN: true }), { maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 120, noNaN: true }), { minLength: 2, maxLength: 20 }),
        (throttles, probes) => {
          const state = history([...throttles].sort((a, b) => a - b));
          const last = Math.max(0, ...throttles);
          let previous = 0;
          for (const at of [...probes].sort((a, b) => a - b)) {
            const f = fractionAt(state, T0 + (last + at) * S);
            expect(f).toBeLessThanOrEqual(1);
            expect(f).toBeGreaterThanOrEqual(state.fraction);
            expect(f).toBeGreaterThanOrEqual(previous);
            previous = f;
          }
        },
      ),
    );
  });

  it('is back at the configured rate within plateau + the probe time, whatever the history', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: 1, maxLength: 10 }),
        (throttles) => {
          const state = history([...throttles].sort((a, b) => a - b));
          const p = DEFAULT_LEARNED_RATE;
          const probeS = Math.log(1 / state.decreasedTo) / Math.log(1 + p.probeGrowth);
          const back = Math.max(...throttles) + p.plateauSeconds + probeS + 1e-6;
          expect(fractionAt(state, T0 + back * S)).toBe(1);
        },
      ),
    );
  });
});

describe('recoveryStep', () => {
  it('writes only steps worth a write, and the last one all the way back', () => {
    const state = history([0]);
    expect(recoveryStep(state, T0 + 5 * S)).toBeUndefined();
    expect(recoveryStep(state, T0 + 12.01 * S)).toBeUndefined();
    expect(recoveryStep(state, T0 + 13 * S)).toBeCloseTo(0.6, 10);
    expect(recoveryStep({ ...state, fraction: 0.99 }, T0 + 30 * S)).toBe(1);
    expect(recoveryStep(UNTHROTTLED, T0)).toBeUndefined();
  });
});

describe('intervalAt', () => {
  it('rounds the slowed interval up: never faster than the fraction says', () => {
    expect(intervalAt(500_000, 0.7)).toBe(714_286);
    expect(intervalAt(333_334, 1)).toBe(333_334);
  });
});
