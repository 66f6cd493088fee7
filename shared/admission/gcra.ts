/**
 * The generic cell rate algorithm (GCRA): an exact token bucket whose whole state is one number,
 * the theoretical arrival time (TAT). Pure functions of (state, now, limit) — no clock, no I/O —
 * shared by the DynamoDB store (to plan its conditional writes and read their results) and by
 * the property tests (as the model).
 *
 * Time is in integer microseconds. The emission interval `T = 1/rate` is rounded *up* to a whole
 * microsecond and the tolerance `τ = burst·T` rounded *down* (a burst may be fractional: the
 * catalog trims bursts by a lateness allowance), so rounding can only make a bucket a hair
 * slower than configured, never faster, and all arithmetic stays exact in JS numbers
 * (epoch µs ≈ 1.8e15 < 2^53).
 *
 * Reservations: a group of requests is admitted in order; request `i` (cumulative cost `C_i`)
 * gets the slot `max(now, base + C_i·T − τ)` — the earliest instant its tokens conform — where
 * `base = max(tat, now)`. Slots up to `now + horizon` are granted; a slot in the future is a
 * reservation (the caller delays the call until then). The slots of a group, and of all groups
 * that follow on the same bucket, form a conforming sequence, so any window of length W holds at
 * most `burst + rate·W` tokens' worth of slots.
 */
import type { BucketLimit } from '../limits/types.js';

/** Microseconds per millisecond and per second, named so the conversions read plainly. */
export const US_PER_MS = 1_000;
export const US_PER_S = 1_000_000;

/** A bucket limit in the algorithm's units. */
export interface GcraParams {
  /** Emission interval T in µs: the time one token takes to refill (rounded up). */
  readonly intervalUs: number;
  /** Tolerance τ = burst·T in µs: how far ahead of now the TAT may run. */
  readonly toleranceUs: number;
  /** Capacity in tokens (may be fractional); a single request costing more can never be admitted. */
  readonly burst: number;
}

/**
 * Converts a limit (tokens/s, capacity) to the algorithm's parameters.
 *
 * `lateAllowanceMs` trims the burst by `rate × lateAllowanceMs` (at least 1 token stays): calls
 * leave a little after their slots (the admission write, the event loop). When that happens to
 * the first calls on a full provider bucket, the bucket sits full meanwhile and loses that much
 * refill, and the next call leaving on its slot would find it short. The trim costs that time
 * once per burst and nothing under sustained load.
 */
export function gcraParams(limit: BucketLimit, lateAllowanceMs = 0): GcraParams {
  if (!(Number.isFinite(limit.rate) && limit.rate > 0)) {
    throw new RangeError(`rate must be a finite number > 0, got ${limit.rate}`);
  }
  if (!(Number.isFinite(limit.burst) && limit.burst >= 1)) {
    throw new RangeError(`burst must be a finite number >= 1, got ${limit.burst}`);
  }
  if (!(Number.isFinite(lateAllowanceMs) && lateAllowanceMs >= 0)) {
    throw new RangeError(`lateAllowanceMs must be a finite number >= 0, got ${lateAllowanceMs}`);
  }
  const intervalUs = Math.ceil(US_PER_S / limit.rate);
  const trimmed = limit.burst - (limit.rate * lateAllowanceMs) / 1_000;
  const burst = trimmed >= 1 ? trimmed : Math.min(1, limit.burst);
  return { intervalUs, toleranceUs: Math.floor(burst * intervalUs), burst };
}

/** What the algorithm decides for a group of requests on one bucket. */
export type GcraPlan =
  | {
      /** Requests admitted: a prefix of the group, in order (≥ 1). */
      readonly kind: 'admitted';
      readonly count: number;
      /** Slot of each admitted request, µs; `slotsUs[i] <= nowUs` means "run now". */
      readonly slotsUs: readonly number[];
      /** The bucket's TAT after the admitted requests. */
      readonly newTatUs: number;
      /** Tokens taken: the admitted prefix's total cost. */
      readonly tokens: number;
    }
  | {
      /** Nothing fits before the horizon; the first request fits from `retryAtUs` on, exactly. */
      readonly kind: 'not-yet';
      readonly retryAtUs: number;
    }
  | {
      /** The first request costs more than the bucket can ever hold. */
      readonly kind: 'never-fits';
      readonly cost: number;
      readonly burst: number;
    };

/**
 * Plans the admission of `costs` (one entry a request, in order) at `nowUs` on a bucket whose
 * TAT is `tatUs` (`undefined`: the bucket has never been used).
 *
 * Admits the longest prefix whose slots all fall within `horizonUs` of now; stops before the
 * first request that costs more than `burst` (the caller rejects it). With `horizonUs = 0` this
 * is plain GCRA: admit now or say exactly when.
 */
export function planAdmission(
  tatUs: number | undefined,
  nowUs: number,
  params: GcraParams,
  costs: readonly number[],
  horizonUs: number | readonly number[],
): GcraPlan {
  const first = costs[0];
  if (first === undefined) throw new RangeError('costs must name at least one request');
  if (first > params.burst) return { kind: 'never-fits', cost: first, burst: params.burst };

  const baseUs = tatUs === undefined ? nowUs : Math.max(tatUs, nowUs);
  // One horizon for all, or one per request (how far ahead each may be reserved).
  const horizonOf = (i: number): number =>
    typeof horizonUs === 'number' ? horizonUs : (horizonUs[i] as number);
  const slotsUs: number[] = [];
  let cumulative = 0;
  for (const [i, cost] of costs.entries()) {
    if (!(Number.isInteger(cost) && cost >= 1)) {
      throw new RangeError(`cost must be a positive integer, got ${cost}`);
    }
    if (cost > params.burst) break;
    const slotUs = Math.max(
      nowUs,
      baseUs + (cumulative + cost) * params.intervalUs - params.toleranceUs,
    );
    if (slotUs > nowUs + horizonOf(i)) break;
    cumulative += cost;
    slotsUs.push(slotUs);
  }
  if (slotsUs.length === 0) {
    return { kind: 'not-yet', retryAtUs: retryAtUs(baseUs, params, first, horizonOf(0)) };
  }
  return {
    kind: 'admitted',
    count: slotsUs.length,
    slotsUs,
    newTatUs: baseUs + cumulative * params.intervalUs,
    tokens: cumulative,
  };
}

/**
 * The first instant at which `cost` tokens can be reserved within `horizonUs` on a bucket whose
 * TAT is `tatUs`: the slot `tat + cost·T − τ` minus the horizon.
 */
export function retryAtUs(
  tatUs: number,
  params: GcraParams,
  cost: number,
  horizonUs: number,
): number {
  return tatUs + cost * params.intervalUs - params.toleranceUs - horizonUs;
}

/** Slots of an admitted group when the bucket's TAT before the write was `oldTatUs`. */
export function slotsFrom(
  oldTatUs: number,
  nowUs: number,
  params: GcraParams,
  costs: readonly number[],
): number[] {
  const baseUs = Math.max(oldTatUs, nowUs);
  let cumulative = 0;
  return costs.map((cost) => {
    cumulative += cost;
    return Math.max(nowUs, baseUs + cumulative * params.intervalUs - params.toleranceUs);
  });
}

/** The most tokens one write may take: what an empty bucket can slot within the horizon. */
export function maxTokensPerWrite(params: GcraParams, horizonUs: number): number {
  return Math.floor((params.toleranceUs + horizonUs) / params.intervalUs);
}
