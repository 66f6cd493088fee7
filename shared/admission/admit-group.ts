/**
 * Admitting a group of calls that draw on the same buckets: on each bucket in turn, the calls of
 * each (level, flow) run are placed (./placement.ts) — cut in ahead of what they may pass, or
 * appended — with one conditional write per placement and no read first. A later bucket that
 * admits fewer calls than an earlier one gets the earlier appends refunded (a write conditioned
 * on nobody having written since); tokens a refund cannot give back, or a cut-in's, are forfeited:
 * capacity wasted, never over the limit.
 */
import type { BucketLimit, BucketRef } from '../limits/types.js';
import { bucketKey } from '../storage/tables.js';
import {
  type BucketContext,
  effectiveParams,
  knownState,
  pruneIfLong,
  type RequestCounter,
  settle,
} from './bucket-context.js';
import { type BucketState, hintAttribute } from './bucket-state.js';
import { InvalidAdmissionGroupError } from './errors.js';
import { type GcraParams, planAdmission, retryAtUs, slotsFrom, US_PER_MS } from './gcra.js';
import { type BucketView, flowKey, place } from './placement.js';
import { recoverIfDue } from './rate-changes.js';
import { FIXED, type TimelinePosition } from './timeline.js';

/** A bucket of an admission group, with the limit in force for it now (configured). */
export interface GroupBucket {
  readonly ref: BucketRef;
  readonly limit: BucketLimit;
}

/** Who a call is, for scheduling: its priority level and its flow (a producer, say). */
export interface CallTag {
  readonly level: string;
  readonly flow: string;
}

/** What was decided for one request of a group. */
export type AdmissionDecision =
  | {
      readonly kind: 'admitted';
      /** When the call may run: now, or a reserved slot later (integer ms, epoch). */
      readonly runAtMs: number;
      /** The slot granted on each bucket of the group (µs, epoch), in the group's bucket order. */
      readonly slotsUs: readonly number[];
      /** Where each slot stands in its bucket's timeline log (to replay changes before running). */
      readonly positions: readonly TimelinePosition[];
      /** Each bucket's learned-rate epoch at admission (a throttle report names it). */
      readonly epochs: readonly number[];
      /** Some bucket runs below its configured rate: its reservations should check in often. */
      readonly slowed: boolean;
      /** Each bucket's learned rate, as a fraction of its configured rate. */
      readonly fractions: readonly number[];
    }
  | {
      /** Not within the horizon; from `retryAtMs` on, the first waiting request fits. */
      readonly kind: 'not-yet';
      readonly retryAtMs: number;
      /** Some bucket runs below its configured rate: the wait shortens when it recovers. */
      readonly slowed: boolean;
    }
  | {
      /** The request costs more than the bucket holds: it can never run under this limit. */
      readonly kind: 'never-fits';
      readonly bucket: BucketRef;
      readonly cost: number;
      readonly burst: number;
    };

/** The decisions for a group, one per request in the given order, and what they cost. */
export interface AdmissionOutcome {
  readonly decisions: readonly AdmissionDecision[];
  /** DynamoDB requests made: conditional writes (including refunds) and reads. */
  readonly requests: { readonly writes: number; readonly reads: number };
  /** Tokens debited for requests that were then not admitted (a refund lost a race). */
  readonly forfeitedTokens: number;
}

/** One bucket's grant to the requests of a group, in their order. */
interface Grant {
  readonly key: string;
  readonly slotsUs: number[];
  readonly positions: TimelinePosition[];
  epoch: number;
  fraction: number;
  slowed: boolean;
  /** The last append (refundable while nobody wrote since): which requests, and the TAT after. */
  lastAppend?: { from: number; tokens: number[]; tatUs: number; intervalUs: number };
}

/**
 * Admits `costs` (one entry per request: tokens per bucket) with `tags` (level and flow per
 * request; all the default level and one flow when absent). Requests are taken in order within
 * a level, more urgent levels first.
 */
export async function admitGroup(
  context: BucketContext,
  buckets: readonly GroupBucket[],
  costs: readonly (readonly number[])[],
  tags: readonly CallTag[] | undefined,
): Promise<AdmissionOutcome> {
  validateGroup(buckets, costs, tags);
  const counter: RequestCounter = { writes: 0, reads: 0 };
  const decisions: (AdmissionDecision | undefined)[] = costs.map(() => undefined);
  const keys = buckets.map((b) => bucketKey(b.ref));
  const levelIndex = levelIndexer(context);
  const tagOf = (i: number): CallTag =>
    tags?.[i] ?? { level: context.scheduling.defaultLevel, flow: 'default' };

  // Configured bursts bound every cost (a learned rate keeps the burst).
  const configured = buckets.map((b) => effectiveParams(b.limit, context.lateAllowanceMs, 1));
  const eligible: number[] = [];
  costs.forEach((requestCosts, i) => {
    const b = requestCosts.findIndex((cost, j) => cost > (configured[j] as GcraParams).burst);
    if (b >= 0) {
      decisions[i] = {
        kind: 'never-fits',
        bucket: (buckets[b] as GroupBucket).ref,
        cost: requestCosts[b] as number,
        burst: (configured[b] as GcraParams).burst,
      };
    } else eligible.push(i);
  });
  // More urgent levels first; within a level, flows in their order of first appearance.
  eligible.sort((a, b) => levelIndex(tagOf(a).level) - levelIndex(tagOf(b).level) || a - b);

  const grants: Grant[] = [];
  let count = eligible.length;
  let forfeitedTokens = 0;
  let retryAtUsMax = 0;
  for (let b = 0; b < buckets.length && count > 0; b++) {
    const key = keys[b] as string;
    const bucket = buckets[b] as GroupBucket;
    await recoverIfDue(context, bucket, counter);
    const grant: Grant = {
      key,
      slotsUs: [],
      positions: [],
      epoch: 0,
      fraction: 1,
      slowed: false,
    };
    const requests = eligible.slice(0, count);
    let next = 0;
    while (next < requests.length) {
      // A run: consecutive requests of one level and flow, placed together.
      const tag = tagOf(requests[next] as number);
      let end = next + 1;
      while (end < requests.length && sameTag(tagOf(requests[end] as number), tag)) end++;
      const run = requests.slice(next, end).map((i) => (costs[i] as number[])[b] as number);
      const placed = await placeRun(context, bucket, key, run, tag, levelIndex, grant, counter);
      if (placed.kind === 'not-yet') {
        retryAtUsMax = Math.max(retryAtUsMax, placed.retryAtUs);
        break;
      }
      next += placed.count;
      if (placed.count < run.length) break;
    }
    const admittedHere = grant.slotsUs.length;
    if (admittedHere < count) {
      for (const earlier of grants) {
        forfeitedTokens += await refund(context, earlier, admittedHere, counter);
      }
      count = admittedHere;
    }
    grants.push(grant);
  }

  // Requests past the admitted prefix wait until each of them would fit on every bucket, one
  // after another: their retries come back spread out as they will be admitted, not as a herd.
  const waiting = eligible.slice(count);
  const retryAtMsOf = new Map<number, number>();
  if (waiting.length > 0) {
    const atUs = waiting.map(() => retryAtUsMax);
    keys.forEach((key, b) => {
      const state = knownState(context, key);
      if (state.tatUs === undefined) return;
      const params = effectiveParams(
        (buckets[b] as GroupBucket).limit,
        context.lateAllowanceMs,
        state.rate.fraction,
      );
      let before = 0;
      waiting.forEach((requestIndex, w) => {
        const cost = (costs[requestIndex] as number[])[b] as number;
        const fits = retryAtUs(state.tatUs as number, params, before + cost, context.horizonUs);
        atUs[w] = Math.max(atUs[w] as number, fits);
        before += cost;
      });
    });
    waiting.forEach((requestIndex, w) => {
      const ms = Math.ceil((atUs[w] as number) / US_PER_MS);
      retryAtMsOf.set(requestIndex, Math.max(ms, context.clock()));
    });
  }
  const slowed = keys.some((key) => knownState(context, key).rate.fraction < 1);
  eligible.forEach((requestIndex, position) => {
    if (position < count) {
      const slotsUs = grants.map((g) => g.slotsUs[position] as number);
      decisions[requestIndex] = {
        kind: 'admitted',
        runAtMs: Math.ceil(Math.max(...slotsUs) / US_PER_MS),
        slotsUs,
        positions: grants.map((g) => g.positions[position] as TimelinePosition),
        epochs: grants.map((g) => g.epoch),
        slowed: grants.some((g) => g.slowed),
        fractions: grants.map((g) => g.fraction),
      };
    } else {
      const retryAtMs = retryAtMsOf.get(requestIndex) ?? context.clock();
      decisions[requestIndex] = { kind: 'not-yet', retryAtMs, slowed };
    }
  });
  return { decisions: decisions as AdmissionDecision[], requests: counter, forfeitedTokens };
}

/** Places one run on one bucket: cut-ins while placement says so, then an append. */
async function placeRun(
  context: BucketContext,
  bucket: GroupBucket,
  key: string,
  run: readonly number[],
  tag: CallTag,
  levelIndex: (level: string) => number,
  grant: Grant,
  counter: RequestCounter,
): Promise<{ kind: 'placed'; count: number } | { kind: 'not-yet'; retryAtUs: number }> {
  let placedCount = 0;
  let state = knownState(context, key);
  for (let attempt = 0; attempt < context.maxWrites && placedCount < run.length; attempt++) {
    const nowUs = context.clock() * US_PER_MS;
    const fraction = state.rate.fraction;
    const params = effectiveParams(bucket.limit, context.lateAllowanceMs, fraction);
    const rest = run.slice(placedCount);
    const level = levelIndex(tag.level);
    const placement = place(
      viewOf(state, context),
      nowUs,
      params,
      context.horizonUs,
      {
        level,
        flow: tag.flow,
        weight: context.scheduling.weightOf(tag.level, tag.flow),
        costs: rest,
      },
      {
        levels: context.scheduling.levels,
        weightOf: (l, flow) => context.scheduling.weightOf(levelName(context, l), flow),
        freezeUs: context.scheduling.freezeMs * US_PER_MS,
      },
    );
    if (placement.kind === 'cut-in') {
      counter.writes++;
      const written = await context.items.cutIn(key, {
        fraction,
        anchorUs: state.anchorUs,
        entry: {
          seq: 0,
          kind: 'shift',
          atUs: placement.atUs,
          byUs: placement.cellUs,
          strideUs: placement.strideUs,
          count: placement.count,
        },
        shiftUs: placement.count * placement.cellUs,
        atUs: placement.requires.frozenBelowUs,
        tatAtLeastUs: placement.requires.tatAtLeastUs,
        hints: [
          { name: hintAttribute('levelTail', tag.level), valueUs: placement.levelTailUs },
          { name: hintAttribute('flowTail', tag.level, tag.flow), valueUs: placement.flowTailUs },
          ...(placement.meterUs === undefined
            ? []
            : [{ name: hintAttribute('cutMeter', tag.level), valueUs: placement.meterUs }]),
        ],
        shifted: placement.passedLevels.map((l) =>
          hintAttribute('levelTail', levelName(context, l)),
        ),
        expectedTatUs: state.tatUs ?? nowUs,
      });
      state = await settle(context, key, written, counter);
      if (!written.ok) continue;
      for (const slotUs of placement.slotsUs) {
        // A cut-in lands after now + freeze: its call checks in before it runs.
        grant.slotsUs.push(slotUs);
        grant.positions.push({ slotUs, seq: state.headSeq, shiftUs: state.fold.shiftUs });
      }
      markGrant(grant, state);
      placedCount += placement.count;
      attempt = -1; // a placement that went through earns the next one a full set of attempts
      await pruneIfLong(context, key, state, counter);
      continue;
    }

    const plan = planAdmission(state.tatUs, nowUs, params, rest, context.horizonUs);
    if (plan.kind === 'not-yet') {
      return placedCount > 0
        ? { kind: 'placed', count: placedCount }
        : { kind: 'not-yet', retryAtUs: plan.retryAtUs };
    }
    if (plan.kind !== 'admitted')
      throw new InvalidAdmissionGroupError('cost above burst reached a bucket write');
    const incrementUs = plan.tokens * params.intervalUs;
    const idle = state.tatUs === undefined || state.tatUs < nowUs;
    const lastSlotUs = plan.slotsUs[plan.count - 1] as number;
    const tails = [
      hintAttribute('levelTail', tag.level),
      hintAttribute('flowTail', tag.level, tag.flow),
    ];
    const multiCost = rest.slice(0, plan.count).some((cost) => cost > 1);
    // Slots this close run without checking in: the append freezes them (bucket-item.ts).
    const freezeUntilUs = nowUs + context.scheduling.freezeMs * US_PER_MS;
    const direct = plan.slotsUs.slice(0, plan.count).filter((s) => s <= freezeUntilUs);
    const frozen = direct.length === 0 ? {} : { frozenUs: Math.max(...direct) };
    counter.writes++;
    const written = await context.items.append(
      key,
      idle
        ? {
            kind: 'idle',
            fraction,
            nowUs,
            multiCost,
            newTatUs: nowUs + incrementUs,
            lastSlotUs,
            tails,
            ...frozen,
          }
        : {
            kind: 'busy',
            fraction,
            nowUs,
            multiCost,
            incrementUs,
            highestTatUs: nowUs + context.horizonUs + params.toleranceUs - incrementUs,
            expectedTatUs: state.tatUs as number,
            lastOffsetUs: incrementUs - params.toleranceUs,
            tails,
            ...frozen,
          },
    );
    state = await settle(context, key, written, counter);
    if (!written.ok) continue;
    const newTatUs = state.tatUs as number;
    const oldTatUs = idle ? nowUs : newTatUs - incrementUs;
    const admitted = rest.slice(0, plan.count);
    const slots = slotsFrom(oldTatUs, nowUs, params, admitted);
    grant.lastAppend = {
      from: grant.slotsUs.length,
      tokens: [...admitted],
      tatUs: newTatUs,
      intervalUs: params.intervalUs,
    };
    for (const slotUs of slots) {
      grant.slotsUs.push(slotUs);
      // A slot the append froze never moves; any other checks in before it runs.
      const fixed = frozen.frozenUs !== undefined && slotUs <= frozen.frozenUs;
      grant.positions.push(
        fixed
          ? { slotUs, seq: FIXED }
          : { slotUs, seq: state.headSeq, shiftUs: state.fold.shiftUs },
      );
    }
    markGrant(grant, state);
    return { kind: 'placed', count: placedCount + plan.count };
  }
  if (placedCount > 0) return { kind: 'placed', count: placedCount };
  // Still contended after every attempt: others are taking this bucket right now, so waiting
  // for the slot the last known TAT gives (at least a moment) is the right answer.
  const nowUs = context.clock() * US_PER_MS;
  const params = effectiveParams(bucket.limit, context.lateAllowanceMs, state.rate.fraction);
  const first = run[0] as number;
  const at =
    state.tatUs === undefined
      ? nowUs
      : retryAtUs(Math.max(state.tatUs, nowUs), params, first, context.horizonUs);
  return { kind: 'not-yet', retryAtUs: Math.max(at, nowUs + params.intervalUs) };
}

function markGrant(grant: Grant, state: BucketState): void {
  grant.epoch = state.rate.epoch;
  grant.fraction = state.rate.fraction;
  grant.slowed = state.rate.fraction < 1;
}

/**
 * Gives back the tokens of requests `keep` and later, if they were all granted by the bucket's
 * last append and nobody wrote since. Returns the tokens forfeited.
 */
async function refund(
  context: BucketContext,
  grant: Grant,
  keep: number,
  counter: RequestCounter,
): Promise<number> {
  const total = grant.slotsUs.length;
  if (keep >= total) return 0;
  const append = grant.lastAppend;
  grant.slotsUs.length = keep;
  grant.positions.length = keep;
  if (append === undefined || keep < append.from) return total - keep; // cut-ins: forfeited
  const tokens = append.tokens.slice(keep - append.from).reduce((sum, t) => sum + t, 0);
  const refundedUs = append.tatUs - tokens * append.intervalUs;
  counter.writes++;
  const written = await context.items.refund(grant.key, append.tatUs, refundedUs);
  if (written.ok) context.known.set(grant.key, written.state);
  return written.ok ? 0 : tokens;
}

function viewOf(state: BucketState, context: BucketContext): BucketView {
  const byIndex = (map: ReadonlyMap<string, number>) => {
    const out = new Map<number, number>();
    context.scheduling.levels.forEach((l, i) => {
      const v = map.get(l.name);
      if (v !== undefined) out.set(i, v);
    });
    return out;
  };
  const flows = new Map<string, number>();
  for (const [k, v] of state.flowTailsUs) {
    const colon = k.indexOf(':');
    const index = context.scheduling.levels.findIndex((l) => l.name === k.slice(0, colon));
    if (index >= 0) flows.set(flowKey(index, k.slice(colon + 1)), v);
  }
  return {
    tatUs: state.tatUs,
    frozenUs: state.frozenUs,
    anchorUs: state.anchorUs,
    gridStartUs: state.gridStartUs,
    multiCost: state.multiCost,
    levelTailsUs: byIndex(state.levelTailsUs),
    flowTailsUs: flows,
    cutMetersUs: byIndex(state.cutMetersUs),
  };
}

function levelIndexer(context: BucketContext): (level: string) => number {
  const levels = context.scheduling.levels;
  const fallback = Math.max(
    0,
    levels.findIndex((l) => l.name === context.scheduling.defaultLevel),
  );
  return (level) => {
    const i = levels.findIndex((l) => l.name === level);
    return i >= 0 ? i : fallback;
  };
}

function levelName(context: BucketContext, index: number): string {
  return context.scheduling.levels[index]?.name ?? context.scheduling.defaultLevel;
}

function sameTag(a: CallTag, b: CallTag): boolean {
  return a.level === b.level && a.flow === b.flow;
}

function validateGroup(
  buckets: readonly GroupBucket[],
  costs: readonly (readonly number[])[],
  tags: readonly CallTag[] | undefined,
): void {
  if (buckets.length === 0)
    throw new InvalidAdmissionGroupError('a group needs at least one bucket');
  const keys = new Set(buckets.map((b) => bucketKey(b.ref)));
  if (keys.size !== buckets.length)
    throw new InvalidAdmissionGroupError('a group names a bucket twice');
  if (tags !== undefined && tags.length !== costs.length)
    throw new InvalidAdmissionGroupError(`${tags.length} tags for ${costs.length} requests`);
  costs.forEach((requestCosts, i) => {
    if (requestCosts.length !== buckets.length) {
      throw new InvalidAdmissionGroupError(
        `request ${i} has ${requestCosts.length} costs for ${buckets.length} buckets`,
      );
    }
    for (const cost of requestCosts) {
      if (!(Number.isInteger(cost) && cost >= 1)) {
        throw new InvalidAdmissionGroupError(
          `request ${i} has cost ${cost}; costs are positive integers`,
        );
      }
    }
  });
}
