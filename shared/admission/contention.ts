/**
 * What a contended bucket needs beyond placement (./placement.ts `reachOf` says when a bucket is
 * contended and how far each call may reach): how many calls a write waits for, how long a
 * remembered picture of the bucket is trusted, the levels' meters an append runs on, and the
 * marker a waiting flow leaves so that a flood that had the bucket to itself sees it contended.
 * Used by ./admit-group.ts.
 */
import type { CallTag, GroupBucket } from './admit-group.js';
import {
  type BucketContext,
  effectiveParams,
  knownState,
  levelName,
  placementPolicy,
  type RequestCounter,
} from './bucket-context.js';
import type { MeterHint } from './bucket-item.js';
import { flowTailKey, hintAttribute } from './bucket-state.js';
import { type GcraParams, US_PER_MS } from './gcra.js';
import {
  type BucketView,
  CONTENTION_WINDOW_US,
  meterIntervalUs,
  meterToleranceUs,
  reachesABatch,
} from './placement.js';

/**
 * How many calls of a run a contended append waits for: the whole run, as long as it takes at
 * most half the reach (the rest of the reach is the slack that keeps the bucket busy meanwhile).
 */
export function contendedBatch(
  run: readonly number[],
  params: GcraParams,
  reachUs: number,
): number {
  const cells = batchCells(params, reachUs);
  let tokens = 0;
  let n = 0;
  for (const cost of run) {
    if (tokens + cost > cells && n > 0) break;
    tokens += cost;
    n++;
  }
  return n;
}

/** Tokens a contended batch may take: half of what fits within the reach. */
export function batchCells(params: GcraParams, reachUs: number): number {
  return Math.max(1, Math.floor((reachUs + params.toleranceUs) / 2 / params.intervalUs));
}

/** A contended bucket's remembered state is extrapolated for this long, then read again. */
export const MAX_ESTIMATE_AGE_US = 1_000_000;

/** Calls that come back for admission together: one SQS batch. */
export const MAX_RETURN_BATCH = 10;

/**
 * The meters a contended append of `calls` runs on. Precedence over the levels below is metered
 * as for cut-ins: a call of level l runs the meter of every level from l down to the one above
 * the lowest (what those levels together take ahead of the ones below them), so each level below
 * keeps its assured share; past its meter a level's reach drops to 0 (placement.ts
 * `contendedReachUs`). A hint: an increment (no update lost to a concurrent one), or a restart
 * from now when it lay well in the past — a picture up to a second old may not show what others
 * added since, and restarting would drop it.
 */
export function contendedMeters(
  context: BucketContext,
  view: BucketView,
  params: GcraParams,
  nowUs: number,
  calls: readonly { readonly tag: CallTag; readonly cost: number }[],
  levelIndex: (level: string) => number,
): MeterHint[] {
  const levels = context.scheduling.levels;
  const lowest = levels.length - 1;
  const perLevel = new Map<number, number>();
  for (const c of calls)
    for (let m = levelIndex(c.tag.level); m < lowest; m++)
      perLevel.set(m, (perLevel.get(m) ?? 0) + c.cost);
  return [...perLevel].map(([m, tokens]) => {
    const incrementUs = tokens * meterIntervalUs(params, levels, m);
    const idleBeforeUs = nowUs - Math.max(meterToleranceUs(params, levels, m), MAX_ESTIMATE_AGE_US);
    const known = view.cutMetersUs.get(m) ?? 0;
    return {
      name: hintAttribute('cutMeter', levelName(context, m)),
      incrementUs,
      ...(known < idleBeforeUs ? { restartAtUs: nowUs + incrementUs } : {}),
    };
  });
}

/**
 * Waiting flows make themselves seen: a flow with no recent slot on a bucket raises its tail hint
 * to now (one small write per bucket, at most every half contention window), so that a flow
 * holding the bucket's future sees it contended and stops reserving far ahead. Without it a
 * flow that never gets a slot would stay invisible behind a flood. Needless (and skipped) when
 * two others are at work: they already see each other. Best effort.
 */
export async function markWaiting(
  context: BucketContext,
  buckets: readonly GroupBucket[],
  keys: readonly string[],
  tags: readonly CallTag[],
  counter: RequestCounter,
): Promise<void> {
  const nowUs = context.clock() * US_PER_MS;
  const staleBeforeUs = nowUs - CONTENTION_WINDOW_US / 2;
  for (const [b, key] of keys.entries()) {
    let state = knownState(context, key);
    const params = effectiveParams(
      (buckets[b] as GroupBucket).limit,
      context.lateAllowanceMs,
      state.rate.fraction,
    );
    if (!reachesABatch(params, placementPolicy(context))) continue;
    const seen = new Set<string>();
    for (const tag of tags) {
      const name = hintAttribute('flowTail', tag.level, tag.flow);
      if (seen.has(name)) continue;
      seen.add(name);
      const own = flowTailKey(tag.level, tag.flow);
      if ((state.flowTailsUs.get(own) ?? 0) >= staleBeforeUs) continue;
      // Two others at work already see each other: the bucket is contended for everyone.
      let others = 0;
      for (const [other, tailUs] of state.flowTailsUs)
        if (other !== own && tailUs > nowUs - CONTENTION_WINDOW_US) others++;
      if (others >= 2) continue;
      counter.writes++;
      const written = await context.items.raiseHint(key, name, nowUs);
      if (written.state !== 'unknown') {
        state = written.state;
        context.known.set(key, state);
      }
    }
  }
}
