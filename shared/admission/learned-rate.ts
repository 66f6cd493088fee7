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
 * - Recovery holds the decreased rate for a `plateau` (the provider's real budget is probably just
 *   above it), then probes upward by a constant factor per second, never above the configured
 *   rate. So a bucket whose budget is shared settles around the real budget with one probe (and
 *   about one throttle) per plateau, and a bucket whose competitor went away is back at its
 *   configured rate within `plateau + log(1 / fraction) / log(1 + probeGrowth)` seconds of the
 *   last throttle.
 * - Why these defaults: a simulation of the `half-limit` and `shared-account` scenarios
 *   (test/bench/e2e.ts) compared decreases of 0.5–0.7, with and without a quick climb back to
 *   just under the throttled rate, and plateaus of 10–15 s. Halving with no quick climb throttled
 *   least (a climb back to 95 % of a rate that was already too high is a throttle waiting to
 *   happen), and a 12 s plateau with 20 %/s probes is back at the configured rate about 16 s
 *   after a competitor stops. The rate the provider throttled at (`ceiling`) is kept for the
 *   operator: the live view shows it.
 *
 * Rates are fractions of the configured rate, in (0, 1]. The burst shrinks with the rate (the
 * tolerance τ = burst·T stays the same length of time), so a slowed bucket also bursts less.
 */

/** Tuning of the learned rate. */
export interface LearnedRatePolicy {
  /** Factor applied on a throttle, in (0, 1). @default 0.5 */
  readonly decrease: number;
  /** Lowest fraction of the configured rate. @default 0.05 */
  readonly minFraction: number;
  /** Seconds to hold the decreased rate before probing higher. @default 12 */
  readonly plateauSeconds: number;
  /** Growth per second while probing. @default 0.2 */
  readonly probeGrowth: number;
  /** Smallest change worth writing, as a fraction of the configured rate. @default 0.02 */
  readonly minStep: number;
}

/** Defaults of {@link LearnedRatePolicy}. */
export const DEFAULT_LEARNED_RATE: LearnedRatePolicy = Object.freeze({
  decrease: 0.5,
  minFraction: 0.05,
  plateauSeconds: 12,
  probeGrowth: 0.2,
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
  /**
   * Where the last decrease took effect, in slot space (µs): slots after it are spaced at this
   * epoch's rate, slots at or before it were committed at an older one (./rate-changes.ts sets
   * it to the re-spacing point). A reservation that replays to a slot after it belongs to this
   * epoch: a throttle of it is new evidence.
   */
  readonly sinceUs: number;
}

/** A bucket that has never been throttled. */
export const UNTHROTTLED: RateState = Object.freeze({
  fraction: 1,
  ceiling: 1,
  decreasedTo: 1,
  decreasedAtUs: 0,
  epoch: 0,
  sinceUs: 0,
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
    // A lower bound; the change that writes the decrease sets its re-spacing point.
    sinceUs: nowUs,
  };
}

/**
 * The fraction the recovery curve gives at `nowUs`: the decreased rate held for `plateauSeconds`,
 * then growing by `probeGrowth` per second up to 1. Never below the state's own fraction, never
 * above 1.
 */
export function fractionAt(
  state: RateState,
  nowUs: number,
  policy: LearnedRatePolicy = DEFAULT_LEARNED_RATE,
): number {
  if (state.fraction >= 1) return 1;
  const seconds = Math.max(0, (nowUs - state.decreasedAtUs) / 1_000_000);
  const probing = Math.max(0, seconds - policy.plateauSeconds);
  const fraction = state.decreasedTo * (1 + policy.probeGrowth) ** probing;
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

/**
 * The epoch a reservation belongs to once it has replayed a bucket's log up to now and stands on
 * `slotUs`: the bucket's epoch if the slot lies after the last decrease's point (it was spaced at
 * that rate), else the epoch it was granted in (it was already committed when the rate dropped).
 */
export function epochOfSlot(state: RateState, slotUs: number, grantedEpoch: number): number {
  return slotUs > state.sinceUs ? Math.max(grantedEpoch, state.epoch) : grantedEpoch;
}

/** The emission interval (µs) at a fraction of the configured one, rounded up (never faster). */
export function intervalAt(configuredIntervalUs: number, fraction: number): number {
  return Math.ceil(configuredIntervalUs / fraction);
}
