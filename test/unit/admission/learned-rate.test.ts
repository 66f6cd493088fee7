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
    // Within the settle time a throttle is an echo of the decrease, even in the new epoch.
    expect(afterThrottle(first as RateState, 1, T0 + 2 * S)).toBeUndefined();
    expect(afterThrottle(first as RateState, 1, T0 + 4 * S)).toMatchObject({
      fraction: 0.25,
      ceiling: 0.5,
      epoch: 2,
    });
  });

  it('never goes below the minimum fraction', () => {
    expect(history(Array.from({ length: 50 }, (_, i) => i * 4)).fraction).toBe(
      DEFAULT_LEARNED_RATE.minFraction,
    );
  });
});

describe('fractionAt', () => {
  it('holds the base for the plateau, climbs to a probe, holds it, then climbs to the configured rate', () => {
    const state = history([0]);
    const g = Math.log(1.2);
    const toStep = Math.log(1.5) / g;
    expect(fractionAt(state, T0)).toBeCloseTo(0.5, 10);
    expect(fractionAt(state, T0 + 12 * S)).toBeCloseTo(0.5, 10);
    expect(fractionAt(state, T0 + 13 * S)).toBeCloseTo(0.6, 10);
    expect(fractionAt(state, T0 + (12 + toStep + 4) * S)).toBeCloseTo(0.75, 10);
    expect(fractionAt(state, T0 + (12 + toStep + 8 + 1) * S)).toBeCloseTo(0.75 * 1.2, 6);
    expect(fractionAt(state, T0 + 26 * S)).toBe(1);
  });

  it('goes back to the base on a throttle while probing, and waits twice as long before the next probe', () => {
    const probed = afterThrottle(history([0]), 1, T0 + 14 * S) as RateState;
    expect(probed).toMatchObject({ fraction: 0.5, decreasedTo: 0.5, backoffs: 1, epoch: 2 });
    expect(probed.ceiling).toBeGreaterThan(0.5);
    expect(fractionAt(probed, T0 + (14 + 23) * S)).toBeCloseTo(0.5, 10);
    expect(fractionAt(probed, T0 + (14 + 25) * S)).toBeGreaterThan(0.5);
    // The back-off stops doubling at maxBackoffs.
    let state = probed;
    for (let i = 0; i < 5; i++) {
      const at = state.decreasedAtUs + 60 * S;
      state = afterThrottle(state, state.epoch, at) as RateState;
    }
    expect(state.backoffs).toBe(DEFAULT_LEARNED_RATE.maxBackoffs);
    // A throttle at the base itself is the budget shrinking: halve, and forget the back-off.
    const halved = afterThrottle(state, state.epoch, state.decreasedAtUs + 4 * S) as RateState;
    expect(halved).toMatchObject({ fraction: 0.25, backoffs: 0 });
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

  it('is back at the configured rate within the plateau, the climb and the probe hold, whatever the history', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: 1, maxLength: 10 }),
        (throttles) => {
          const state = history([...throttles].sort((a, b) => a - b));
          const p = DEFAULT_LEARNED_RATE;
          const climbS = Math.log(1 / state.decreasedTo) / Math.log(1 + p.probeGrowth);
          const plateauS = p.plateauSeconds * 2 ** state.backoffs;
          const back = Math.max(...throttles) + plateauS + climbS + p.probeHoldSeconds + 1e-6;
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
