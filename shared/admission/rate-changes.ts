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
import { US_PER_MS } from './gcra.js';
import { afterThrottle, type RateState, recoveryStep } from './learned-rate.js';
import { applyEntry, applyToTat, type TimelineEntry } from './timeline.js';

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
  const oldParams = effectiveParams(bucket.limit, context.lateAllowanceMs, state.rate.fraction);
  const newParams = effectiveParams(bucket.limit, context.lateAllowanceMs, rate.fraction);
  const atUs = Math.max(state.frozenUs + 1, nowUs + context.scheduling.freezeMs * US_PER_MS);
  const pauseUs = Math.max(0, nowUs + pauseMs * US_PER_MS - atUs);
  const entries: TimelineEntry[] = [];
  if (newParams.intervalUs !== oldParams.intervalUs) {
    entries.push({
      seq: 0,
      kind: 'rate',
      atUs,
      fromUs: oldParams.intervalUs,
      toUs: newParams.intervalUs,
    });
  }
  if (pauseUs > 0)
    entries.push({ seq: 0, kind: 'shift', atUs, byUs: pauseUs, strideUs: 0, count: 1 });
  const move = (slotUs: number) => entries.reduce((s, e) => applyEntry(s, e), slotUs);
  let newTatUs: number | undefined;
  if (state.tatUs !== undefined) {
    newTatUs = entries.reduce((tat, e) => applyToTat(tat, e), state.tatUs);
    // A paused bucket grants no new slot before the pause ends, even if nothing is reserved.
    if (pauseUs > 0) {
      newTatUs = Math.max(newTatUs, atUs + pauseUs - newParams.intervalUs + newParams.toleranceUs);
    }
  }
  const hints: Hint[] = [];
  for (const [level, tailUs] of state.levelTailsUs)
    hints.push({ name: hintAttribute('levelTail', level), valueUs: move(tailUs) });
  for (const [flow, tailUs] of state.flowTailsUs) {
    const colon = flow.indexOf(':');
    hints.push({
      name: hintAttribute('flowTail', flow.slice(0, colon), flow.slice(colon + 1)),
      valueUs: move(tailUs),
    });
  }
  counter.writes++;
  const written = await context.items.changeRate(key, {
    expectedTatUs: state.tatUs,
    expectedEpoch: state.rate.epoch,
    expectedFraction: state.rate.fraction,
    atUs,
    entries,
    newTatUs,
    rate,
    hints,
  });
  const after = await settle(context, key, written, counter);
  return written.ok ? { ok: true } : { ok: false, state: after };
}
