/**
 * The learned rate of a bucket: the share of its configured rate that the provider really grants,
 * when other clients of the account spend the same budget. Pure: a function of the bucket's rate
 * state, the time and the policy; the bucket item stores the state so every dispatcher uses the
 * same rate (shared/admission/bucket-item.ts), and a change re-spaces the reservations already
 * granted (shared/admission/timeline.ts, rate entries).
 *
 * - A provider throttle of a call admitted under the current *epoch* divides the rate by
 *   `1 / decrease` (multiplicative decrease, as TCP and the SDK's CUBIC limiter do) and starts a
 *   new epoch. Calls already in flight under the old epoch throttle too, but they are not new
 *   evidence: their reports find a newer epoch and change nothing. One throttle, one decrease.
 * - The rate at which the provider throttled is remembered (`ceiling`). Recovery first returns to
 *   just under it (`approach`), holds there (`plateau`: that is where the provider's real budget
 *   probably is), then probes upward by a constant factor per second, never above the configured
 *   rate. So a bucket whose budget is shared settles just under the real budget with a probe every
 *   plateau, and a bucket whose competitor went away is back at its configured rate within about
 *   `approach + plateau + log(1 / fraction) / log(1 + probeGrowth)` seconds.
 *
 * Rates are fractions of the configured rate, in (0, 1]. The burst shrinks with the rate (the
 * tolerance τ = burst·T stays the same length of time), so a slowed bucket also bursts less.
 */

/** Tuning of the learned rate. */
export interface LearnedRatePolicy {
  /** Factor applied on a throttle, in (0, 1). @default 0.7 */
  readonly decrease: number;
  /** Lowest fraction of the configured rate. @default 0.05 */
  readonly minFraction: number;
  /** Seconds to climb back to just under the rate that was throttled. @default 5 */
  readonly approachSeconds: number;
  /** Where the climb stops, as a share of the throttled rate. @default 0.95 */
  readonly approachTo: number;
  /** Seconds to hold there before probing higher. @default 15 */
  readonly plateauSeconds: number;
  /** Growth per second while probing. @default 0.25 */
  readonly probeGrowth: number;
  /** Smallest change worth writing, as a fraction of the configured rate. @default 0.02 */
  readonly minStep: number;
}

/** Defaults of {@link LearnedRatePolicy}. */
export const DEFAULT_LEARNED_RATE: LearnedRatePolicy = Object.freeze({
  decrease: 0.7,
  minFraction: 0.05,
  approachSeconds: 5,
  approachTo: 0.95,
  plateauSeconds: 15,
  probeGrowth: 0.25,
  minStep: 0.02,
});

/** A bucket's learned-rate state, as its item stores it. */
export interface RateState {
  /** The rate in force, as a fraction of the configured rate (1: not slowed). */
  readonly fraction: number;
  /** The fraction in force when the provider last throttled (1 when it never did). */
  readonly ceiling: number;
  /** The fraction the last throttle decreased the rate to: where the recovery curve starts. */
  readonly decreasedTo: number;
  /** When the last throttle decreased the rate (µs); 0 when it never did. */
  readonly decreasedAtUs: number;
  /** Increases by one on every decrease; a throttle report names the epoch it was admitted in. */
  readonly epoch: number;
}

/** A bucket that has never been throttled. */
export const UNTHROTTLED: RateState = Object.freeze({
  fraction: 1,
  ceiling: 1,
  decreasedTo: 1,
  decreasedAtUs: 0,
  epoch: 0,
});

/**
 * The state after a provider throttle of a call admitted in `admittedEpoch`; `undefined` when the
 * report is not new evidence (the epoch moved on since that call was admitted).
 */
export function afterThrottle(
  state: RateState,
  admittedEpoch: number,
  nowUs: number,
  policy: LearnedRatePolicy = DEFAULT_LEARNED_RATE,
): RateState | undefined {
  if (admittedEpoch !== state.epoch) return undefined;
  const current = fractionAt(state, nowUs, policy);
  const decreased = Math.max(policy.minFraction, current * policy.decrease);
  return {
    fraction: decreased,
    ceiling: current,
    decreasedTo: decreased,
    decreasedAtUs: nowUs,
    epoch: state.epoch + 1,
  };
}

/**
 * The fraction the recovery curve gives at `nowUs`: the decreased rate climbing linearly to
 * `approachTo × ceiling` over `approachSeconds`, holding for `plateauSeconds`, then growing by
 * `probeGrowth` per second up to 1. Never below the state's own fraction, never above 1.
 */
export function fractionAt(
  state: RateState,
  nowUs: number,
  policy: LearnedRatePolicy = DEFAULT_LEARNED_RATE,
): number {
  if (state.fraction >= 1) return 1;
  const seconds = Math.max(0, (nowUs - state.decreasedAtUs) / 1_000_000);
  const start = state.decreasedTo;
  const target = Math.max(start, Math.min(1, policy.approachTo * state.ceiling));
  let fraction: number;
  if (seconds <= policy.approachSeconds) {
    const progress = policy.approachSeconds > 0 ? seconds / policy.approachSeconds : 1;
    fraction = start + (target - start) * progress;
  } else if (seconds <= policy.approachSeconds + policy.plateauSeconds) {
    fraction = target;
  } else {
    const probing = seconds - policy.approachSeconds - policy.plateauSeconds;
    fraction = target * (1 + policy.probeGrowth) ** probing;
  }
  return Math.min(1, Math.max(state.fraction, fraction));
}

/**
 * The fraction to write now, if the curve has moved far enough from the one in force to be worth
 * a write (`minStep`, or all the way back to 1); otherwise `undefined`.
 */
export function recoveryStep(
  state: RateState,
  nowUs: number,
  policy: LearnedRatePolicy = DEFAULT_LEARNED_RATE,
): number | undefined {
  if (state.fraction >= 1) return undefined;
  const next = fractionAt(state, nowUs, policy);
  if (next >= 1) return 1;
  return next - state.fraction >= policy.minStep ? next : undefined;
}

/** The emission interval (µs) at a fraction of the configured one, rounded up (never faster). */
export function intervalAt(configuredIntervalUs: number, fraction: number): number {
  return Math.ceil(configuredIntervalUs / fraction);
}
