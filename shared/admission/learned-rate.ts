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
 *   Nor are throttles in the first `settleSeconds` after a decrease: the calls re-spaced at the
 *   lower rate meet a provider bucket the faster ones left empty.
 * - Recovery holds the decreased rate (the *base*) for a `plateau`, then *probes*: it climbs by
 *   `probeGrowth` a second to `probeStep` × the base and holds there for `probeHoldSeconds` —
 *   long enough for the provider's own burst to run dry if the budget is not there — then climbs
 *   on to the configured rate. A throttle while probing is the probe failing, not the budget
 *   shrinking: the rate goes back to the base (which held) rather than halving below it, and the
 *   next plateau is twice as long (up to `2^maxBackoffs` times), so a budget that really is lower
 *   costs a throttle or two per probe, ever more rarely. Back at the configured rate, the
 *   back-off resets.
 * - So a bucket whose budget is shared settles at its base with a short probe now and then, and
 *   one whose competitor went away is back at its configured rate within
 *   `plateau · 2^backoffs + log(probeStep) / log(1 + probeGrowth) + probeHold + log(1 / (base ·
 *   probeStep)) / log(1 + probeGrowth)` seconds of the last throttle (about 24 s with the
 *   defaults and no back-off).
 * - Why: the `half-limit` and `shared-account` scenarios (test/bench/e2e.ts). Probing straight
 *   back to the configured rate at 20 %/s overshot to twice the real budget before the provider's
 *   burst ran dry, and each probe cost a cluster of 4–5 throttles and a halving below the real
 *   budget (0.17 throttles per call); a quick climb back to just under the rate that was
 *   throttled is the next throttle waiting to happen. The rate the provider throttled at
 *   (`ceiling`) is kept for the operator.
 *
 * Rates are fractions of the configured rate, in (0, 1]. The burst shrinks with the rate (the
 * tolerance τ = burst·T stays the same length of time), so a slowed bucket also bursts less.
 */

/** Tuning of the learned rate. */
export interface LearnedRatePolicy {
  /** Factor applied on a throttle that is not a failed probe, in (0, 1). @default 0.5 */
  readonly decrease: number;
  /** Lowest fraction of the configured rate. @default 0.05 */
  readonly minFraction: number;
  /** Seconds to hold the base before probing (doubled after each failed probe). @default 12 */
  readonly plateauSeconds: number;
  /** Growth per second while climbing. @default 0.2 */
  readonly probeGrowth: number;
  /** How far above the base a probe goes before it holds, as a factor. @default 1.5 */
  readonly probeStep: number;
  /** Seconds a probe holds before climbing on to the configured rate. @default 8 */
  readonly probeHoldSeconds: number;
  /** How many times the plateau may double after failed probes. @default 2 */
  readonly maxBackoffs: number;
  /**
   * Seconds after a decrease during which throttles are its echoes, not new evidence: the calls
   * re-spaced at the lower rate meet a provider bucket the faster ones left empty. @default 3
   */
  readonly settleSeconds: number;
  /** Smallest change worth writing, as a fraction of the configured rate. @default 0.02 */
  readonly minStep: number;
}

/** Defaults of {@link LearnedRatePolicy}. */
export const DEFAULT_LEARNED_RATE: LearnedRatePolicy = Object.freeze({
  decrease: 0.5,
  minFraction: 0.05,
  plateauSeconds: 12,
  probeGrowth: 0.2,
  probeStep: 1.5,
  probeHoldSeconds: 8,
  maxBackoffs: 2,
  settleSeconds: 3,
  minStep: 0.02,
});

/** A bucket's learned-rate state, as its item stores it. */
export interface RateState {
  /** The rate in force, as a fraction of the configured rate (1: not slowed). */
  readonly fraction: number;
  /** The fraction in force when the provider last throttled (1 when it never did). */
  readonly ceiling: number;
  /** The base the recovery curve starts from: the fraction the last throttle left. */
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
  /** Failed probes since the rate was last back at 1: the plateau is `2^backoffs` as long. */
  readonly backoffs: number;
}

/** A bucket that has never been throttled. */
export const UNTHROTTLED: RateState = Object.freeze({
  fraction: 1,
  ceiling: 1,
  decreasedTo: 1,
  decreasedAtUs: 0,
  epoch: 0,
  sinceUs: 0,
  backoffs: 0,
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
  if (state.epoch > 0 && nowUs - state.decreasedAtUs < policy.settleSeconds * 1_000_000)
    return undefined;
  const current = fractionAt(state, nowUs, policy);
  // A probe that failed: back to the base that held, and probe again later.
  const probing = state.fraction < 1 && current > state.decreasedTo * (1 + 1e-9);
  const base = probing
    ? state.decreasedTo
    : Math.max(policy.minFraction, current * policy.decrease);
  return {
    fraction: base,
    ceiling: current,
    decreasedTo: base,
    decreasedAtUs: nowUs,
    epoch: state.epoch + 1,
    // A lower bound; the change that writes the decrease sets its re-spacing point.
    sinceUs: nowUs,
    backoffs: probing ? Math.min(policy.maxBackoffs, state.backoffs + 1) : 0,
  };
}

/**
 * The fraction the recovery curve gives at `nowUs`: the base held for the plateau
 * (`plateauSeconds · 2^backoffs`), a climb of `probeGrowth` a second to `probeStep` × the base,
 * a hold of `probeHoldSeconds`, then the climb on to 1. Never below the state's own fraction,
 * never above 1.
 */
export function fractionAt(
  state: RateState,
  nowUs: number,
  policy: LearnedRatePolicy = DEFAULT_LEARNED_RATE,
): number {
  if (state.fraction >= 1) return 1;
  const seconds = Math.max(0, (nowUs - state.decreasedAtUs) / 1_000_000);
  const base = state.decreasedTo;
  const plateau = policy.plateauSeconds * 2 ** state.backoffs;
  const growth = Math.log(1 + policy.probeGrowth);
  const toStep = Math.log(policy.probeStep) / growth;
  let fraction: number;
  if (seconds <= plateau) fraction = base;
  else if (seconds <= plateau + toStep) fraction = base * Math.exp(growth * (seconds - plateau));
  else if (seconds <= plateau + toStep + policy.probeHoldSeconds)
    fraction = base * policy.probeStep;
  else
    fraction =
      base *
      policy.probeStep *
      Math.exp(growth * (seconds - plateau - toStep - policy.probeHoldSeconds));
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
