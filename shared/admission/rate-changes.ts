/**
 * Changes of a bucket's learned rate, written to its item for every dispatcher at once
 * (./learned-rate.ts says when and by how much; ./timeline.ts how the slots already granted move).
 *
 * A change re-spaces every slot after its point `f` (the first instant nothing has committed to,
 * and no call admitted to run at once can be: `max(frozen watermark, now + freeze)`) and, after a
 * throttle, pauses the bucket for the provider's `Retry-After` (or a penalty). It is one
 * conditional write on the TAT, epoch and rate it was computed from; when a concurrent write
 * moved the TAT it is computed again from what the failed condition returned. When the epoch has
 * moved, another dispatcher has already acted on the same evidence, and nothing is written.
 */

import { bucketKey } from '../storage/tables.js';
import type { GroupBucket } from './admit-group.js';
import {
  type BucketContext,
  effectiveParams,
  knownState,
  type RequestCounter,
  settle,
} from './bucket-context.js';
import type { Hint } from './bucket-item.js';
import type { BucketState } from './bucket-state.js';
import { hintAttribute } from './bucket-state.js';
import { type GcraParams, US_PER_MS } from './gcra.js';
import { afterThrottle, type RateState, recoveryStep } from './learned-rate.js';
import { applyEntry, applyToTat, onGrid, type RateEntry, type TimelineEntry } from './timeline.js';

/** The shortest pause after a throttle without `Retry-After`. */
export const MIN_PAUSE_MS = 1_000;

/**
 * The provider throttled a call admitted on `bucket` in `epoch`: lower the bucket's rate (once
 * per epoch) and pause it for `retryAfterMs` (or {@link MIN_PAUSE_MS}, at least one interval).
 * Returns true when this report changed the bucket.
 */
export async function reportThrottle(
  context: BucketContext,
  bucket: GroupBucket,
  epoch: number,
  retryAfterMs: number | undefined,
  counter: RequestCounter,
): Promise<boolean> {
  const key = bucketKey(bucket.ref);
  let state = knownState(context, key);
  if (state.rate.epoch < epoch || state.tatUs === undefined) {
    counter.reads++;
    state = await context.items.read(key);
    context.known.set(key, state);
  }
  for (let attempt = 0; attempt < context.maxWrites; attempt++) {
    const nowUs = context.clock() * US_PER_MS;
    const next = afterThrottle(state.rate, epoch, nowUs, context.learnedRate);
    if (next === undefined) return false;
    const newParams = effectiveParams(bucket.limit, context.lateAllowanceMs, next.fraction);
    const pauseMs = retryAfterMs ?? Math.max(MIN_PAUSE_MS, newParams.intervalUs / US_PER_MS);
    const written = await writeChange(context, bucket, key, state, next, nowUs, pauseMs, counter);
    if (written.ok) return true;
    state = written.state;
  }
  return false;
}

/** Writes the next recovery step of the bucket's learned rate, if one is due (best effort). */
export async function recoverIfDue(
  context: BucketContext,
  bucket: GroupBucket,
  counter: RequestCounter,
): Promise<void> {
  const key = bucketKey(bucket.ref);
  const state = knownState(context, key);
  const nowUs = context.clock() * US_PER_MS;
  const fraction = recoveryStep(state.rate, nowUs, context.learnedRate);
  if (fraction === undefined) return;
  await writeChange(context, bucket, key, state, { ...state.rate, fraction }, nowUs, 0, counter);
}

async function writeChange(
  context: BucketContext,
  bucket: GroupBucket,
  key: string,
  state: BucketState,
  rate: RateState,
  nowUs: number,
  pauseMs: number,
  counter: RequestCounter,
): Promise<{ ok: true } | { ok: false; state: BucketState }> {
  const change = planChange(
    state,
    effectiveParams(bucket.limit, context.lateAllowanceMs, state.rate.fraction),
    effectiveParams(bucket.limit, context.lateAllowanceMs, rate.fraction),
    nowUs,
    context.scheduling.freezeMs * US_PER_MS,
    pauseMs * US_PER_MS,
  );
  const hints: Hint[] = [];
  const move = (slotUs: number) => change.entries.reduce((s, e) => applyEntry(s, e), slotUs);
  for (const [level, tailUs] of state.levelTailsUs)
    hints.push({ name: hintAttribute('levelTail', level), valueUs: move(tailUs) });
  for (const [flow, tailUs] of state.flowTailsUs) {
    const colon = flow.indexOf(':');
    hints.push({
      name: hintAttribute('flowTail', flow.slice(0, colon), flow.slice(colon + 1)),
      valueUs: move(tailUs),
    });
  }
  // A decrease's epoch starts at its re-spacing point: slots after it are spaced at the new rate.
  const since = rate.epoch === state.rate.epoch ? rate : { ...rate, sinceUs: change.atUs };
  counter.writes++;
  const written = await context.items.changeRate(key, {
    expectedTatUs: state.tatUs,
    expectedAnchorUs: state.anchorUs,
    anchorUs: change.anchorUs,
    gridStartUs: change.gridStartUs,
    expectedEpoch: state.rate.epoch,
    expectedFraction: state.rate.fraction,
    atUs: change.atUs,
    entries: change.entries,
    newTatUs: change.tatUs,
    rate: since,
    hints,
  });
  const after = await settle(context, key, written, counter);
  return written.ok ? { ok: true } : { ok: false, state: after };
}

/** What a change of the interval (and a pause) does to a bucket's timeline. */
export interface PlannedChange {
  /** The slot-space point: every slot after it moves; nothing at or before it. */
  readonly atUs: number;
  readonly entries: readonly TimelineEntry[];
  readonly tatUs: number | undefined;
  readonly anchorUs: number;
  readonly gridStartUs: number;
}

/**
 * Plans a change from `from` to `to` (the same burst, another interval) with a pause of
 * `pauseUs` from now: the cells after the first grid point clear of the frozen watermark and of
 * `now + freeze` are re-spaced onto the new grid — when the rate drops, `D` keeps every one of
 * them at or after its old slot — and then pushed back by whole new intervals until the first
 * of them is no earlier than `now + pauseUs`. Pure; see timeline.ts for why the bound holds.
 */
export function planChange(
  state: BucketState,
  from: GcraParams,
  to: GcraParams,
  nowUs: number,
  freezeUs: number,
  pauseUs: number,
): PlannedChange {
  const earliest = Math.max(state.frozenUs + 1, nowUs + freezeUs, state.gridStartUs);
  const centerUs = onGrid(earliest + from.toleranceUs, state.anchorUs, from.intervalUs);
  const atUs = centerUs - from.toleranceUs;
  const entries: TimelineEntry[] = [];
  let tatUs = state.tatUs;
  let anchorUs = state.anchorUs;
  let gridStartUs = state.gridStartUs;
  if (tatUs === undefined) return { atUs, entries, tatUs, anchorUs, gridStartUs };

  // Cells after the center: all of them have slots after `atUs`, and every other cell at or
  // before it (a re-spaced slot never lands at or before `atUs`: see the extra below).
  const reserved = tatUs > centerUs;
  let firstSlotUs = centerUs + from.intervalUs - from.toleranceUs;
  // When the rate drops the tolerance grows by burst·(T′ − T) and the interval by T′ − T: a cell
  // one new interval after a point would run (burst − 1)·(T′ − T) earlier than one old interval
  // after it. The extra (a whole number of new intervals) keeps every cell at or after its old
  // slot, and every new cell after the last old one.
  const slower = to.intervalUs - from.intervalUs;
  const extraUs =
    slower > 0 ? Math.ceil(((from.burst - 1) * slower + 1) / to.intervalUs) * to.intervalUs : 0;
  if (reserved && to.intervalUs !== from.intervalUs) {
    const rate: RateEntry = {
      seq: 0,
      kind: 'rate',
      atUs,
      fromUs: from.intervalUs,
      toUs: to.intervalUs,
      fromTolUs: from.toleranceUs,
      toTolUs: to.toleranceUs,
      extraUs,
    };
    entries.push(rate);
    tatUs = applyToTat(tatUs, rate, from.toleranceUs);
    anchorUs = centerUs + extraUs;
    gridStartUs = atUs;
    firstSlotUs = anchorUs + to.intervalUs - to.toleranceUs;
  } else if (!reserved && to.intervalUs !== from.intervalUs) {
    // Nothing to re-space: the next cells start a grid of the new interval after the TAT.
    gridStartUs = Math.max(gridStartUs, tatUs - from.toleranceUs);
    if (tatUs - from.toleranceUs > nowUs) {
      // Cells are reserved, all before the point: the next one comes after the last at the new
      // interval — with the extra when the rate drops, so no later than its old slot would be.
      tatUs += extraUs;
    } else if (tatUs > nowUs) {
      // Nothing reserved: what the bucket still owes, in tokens, stays the same at the new
      // interval (a token bucket's level does not change with its refill rate).
      tatUs = nowUs + Math.ceil(((tatUs - nowUs) * to.intervalUs) / from.intervalUs);
    }
    anchorUs = tatUs;
  }
  if (pauseUs > 0) {
    if (reserved) {
      const byUs =
        Math.ceil(Math.max(0, nowUs + pauseUs - firstSlotUs) / to.intervalUs) * to.intervalUs;
      if (byUs > 0) {
        const pause: TimelineEntry = { seq: 0, kind: 'shift', atUs, byUs, strideUs: 0, count: 1 };
        entries.push(pause);
        tatUs = applyToTat(tatUs, pause, to.toleranceUs);
      }
    } else {
      // Nothing reserved after the point: no new slot before the pause ends.
      gridStartUs = Math.max(gridStartUs, tatUs - to.toleranceUs);
      tatUs = Math.max(tatUs, nowUs + pauseUs - to.intervalUs + to.toleranceUs);
      anchorUs = Math.max(anchorUs, tatUs);
    }
  }
  return { atUs, entries, tatUs, anchorUs, gridStartUs };
}
