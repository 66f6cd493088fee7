/**
 * Admitting a group of calls that draw on the same buckets: on each bucket in turn, the calls of
 * each (level, flow) run are placed (./placement.ts) — cut in ahead of what they may pass, or
 * appended — with one conditional write per placement and no read first. On a contended bucket
 * the runs are appended together, each call within its own reach, in one write whose slots are
 * final (frozen); calls that do not fit wait for room in batches. A later bucket that
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
  levelName,
  placementPolicy,
  pruneIfLong,
  type RequestCounter,
  settle,
} from './bucket-context.js';
import { type BucketState, hintAttribute } from './bucket-state.js';
import {
  batchCells,
  contendedBatch,
  contendedMeters,
  MAX_ESTIMATE_AGE_US,
  MAX_RETURN_BATCH,
  markWaiting,
} from './contention.js';
import { InvalidAdmissionGroupError } from './errors.js';
import { type GcraParams, planAdmission, retryAtUs, slotsFrom, US_PER_MS } from './gcra.js';
import { type BucketView, contendedReachUs, flowKey, place, reachOf } from './placement.js';
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
      /**
       * A bucket of it is contended (reserved by reach, ./placement.ts `reachOf`): its turn comes
       * within moments and is worth waiting for in-process; otherwise `retryAtMs` is exact.
       */
      readonly contended?: boolean;
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
  lastAppend?: {
    from: number;
    tokens: number[];
    tatUs: number;
    intervalUs: number;
  };
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
  let eligible: number[] = [];
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
  /** Buckets that left calls waiting. */
  const refused: number[] = [];
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
    let pending = eligible.slice(0, count);
    const placedOrder: number[] = [];
    const deferred: number[] = [];
    while (pending.length > 0) {
      // A run: consecutive requests of one level and flow, placed together.
      const runs = runsOf(pending, tagOf, (i) => (costs[i] as number[])[b] as number);
      const first = (runs[0] as Run).costs.length;
      const placed = await placeRun(context, bucket, key, runs, levelIndex, grant, counter);
      const placedHere = placed.kind === 'placed' ? placed.count : 0;
      placedOrder.push(...pending.slice(0, placedHere));
      if (placedHere >= first) {
        pending = pending.slice(placedHere);
        continue;
      }
      // On a contended first bucket a run held back by its meter (reach 0) must not hold back
      // the runs after it: it waits, they go on. (On later buckets the admitted calls must stay
      // a prefix of the first bucket's.)
      if (b === 0 && placed.heldBack === true) {
        deferred.push(...pending.slice(placedHere, first));
        pending = pending.slice(first);
        continue;
      }
      if (placed.kind === 'not-yet') retryAtUsMax = Math.max(retryAtUsMax, placed.retryAtUs);
      pending = pending.slice(placedHere);
      break;
    }
    if (b === 0) eligible = [...placedOrder, ...deferred, ...pending, ...eligible.slice(count)];
    const admittedHere = grant.slotsUs.length;
    if (admittedHere < count) {
      refused.push(b);
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
  const contendedWaiting = new Set<number>();
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
      const view = viewOf(state, context);
      const policy = placementPolicy(context);
      const nowUs = context.clock() * US_PER_MS;
      // Contended, the waiting come back in batches that fit together (one write each), as a
      // contended append waits for them to (placeRun's `contendedBatch`).
      let chunk: number[] = [];
      let chunkFitsUs = 0;
      let chunkCells = 0;
      // What fits "now" in a picture extrapolated from an old one moves on with the clock: a
      // contended call that did not fit looks again no sooner than one reach step.
      const soonestUs = nowUs + context.scheduling.reachStepMs * US_PER_MS;
      const closeChunk = () => {
        chunkFitsUs = Math.max(chunkFitsUs, soonestUs);
        for (const w of chunk) atUs[w] = Math.max(atUs[w] as number, chunkFitsUs);
        chunk = [];
        chunkFitsUs = 0;
      };
      waiting.forEach((requestIndex, w) => {
        const cost = (costs[requestIndex] as number[])[b] as number;
        const tag = tagOf(requestIndex);
        const reach = reachOf(
          view,
          nowUs,
          context.horizonUs,
          params,
          { level: levelIndex(tag.level), flow: tag.flow },
          policy,
        );
        const fits = retryAtUs(state.tatUs as number, params, before + cost, reach.reachUs);
        before += cost;
        if (!reach.contended) {
          atUs[w] = Math.max(atUs[w] as number, fits);
          return;
        }
        contendedWaiting.add(requestIndex);
        if (chunk.length === 0) chunkCells = batchCells(params, reach.reachUs);
        chunk.push(w);
        chunkFitsUs = Math.max(chunkFitsUs, fits);
        if (chunk.length >= Math.min(chunkCells, MAX_RETURN_BATCH)) closeChunk();
      });
      closeChunk();
    });
    waiting.forEach((requestIndex, w) => {
      const ms = Math.ceil((atUs[w] as number) / US_PER_MS);
      retryAtMsOf.set(requestIndex, Math.max(ms, context.clock()));
    });
    await markWaiting(
      context,
      refused.map((b) => buckets[b] as GroupBucket),
      refused.map((b) => keys[b] as string),
      waiting.map(tagOf),
      counter,
    );
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
      decisions[requestIndex] = {
        kind: 'not-yet',
        retryAtMs,
        slowed,
        ...(contendedWaiting.has(requestIndex) ? { contended: true } : {}),
      };
    }
  });
  return { decisions: decisions as AdmissionDecision[], requests: counter, forfeitedTokens };
}

/** Consecutive calls of one level and flow, with their costs on the bucket being placed. */
interface Run {
  readonly tag: CallTag;
  readonly costs: readonly number[];
}

/**
 * Places the first of `runs` on one bucket: cut-ins while placement says so, then an append. On
 * a contended bucket the append takes the runs after it too, as far as each call's reach allows:
 * one write for the batch. Returns how many calls were placed, in order across the runs.
 */
async function placeRun(
  context: BucketContext,
  bucket: GroupBucket,
  key: string,
  runs: readonly Run[],
  levelIndex: (level: string) => number,
  grant: Grant,
  counter: RequestCounter,
): Promise<
  | { kind: 'placed'; count: number; heldBack?: boolean }
  | { kind: 'not-yet'; retryAtUs: number; heldBack?: boolean }
> {
  const { tag, costs: run } = runs[0] as Run;
  let placedCount = 0;
  let looked = false;
  let guessed = false;
  let state = knownState(context, key);
  for (let attempt = 0; attempt < context.maxWrites && placedCount < run.length; attempt++) {
    const nowUs = context.clock() * US_PER_MS;
    const fraction = state.rate.fraction;
    const params = effectiveParams(bucket.limit, context.lateAllowanceMs, fraction);
    const rest = run.slice(placedCount);
    const level = levelIndex(tag.level);
    const view = viewOf(state, context);
    const policy = placementPolicy(context);
    const reach = reachOf(
      view,
      nowUs,
      context.horizonUs,
      params,
      { level, flow: tag.flow },
      policy,
    );
    // A cut-in passes reservations that are still free to move (granted on a bucket that was
    // not contended yet): it may reach as far as they do. Reach bounds appends.
    const placement = place(
      view,
      nowUs,
      params,
      context.horizonUs,
      {
        level,
        flow: tag.flow,
        weight: context.scheduling.weightOf(tag.level, tag.flow),
        costs: rest,
      },
      policy,
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

    // The calls this append places: the run's rest, and on a contended bucket the runs after it.
    const calls: { tag: CallTag; cost: number }[] = rest.map((cost) => ({ tag, cost }));
    if (reach.contended)
      for (const later of runs.slice(1))
        for (const cost of later.costs) calls.push({ tag: later.tag, cost });
    const costs = calls.map((c) => c.cost);
    // Every call of a merged append is held to its contended reach: its slot is frozen, and a
    // frozen slot far ahead would hold back every cut-in and rate change until then.
    const reaches = calls.map((c) =>
      c.tag === tag
        ? reach.reachUs
        : contendedReachUs(view, nowUs, context.horizonUs, params, levelIndex(c.tag.level), policy),
    );
    // Contended, others append all the time: a state seen a while ago is assumed to have kept its
    // lead on the clock (the TAT moved on by as much as time did), so that calls that only fit in
    // an old picture wait for a fresher one instead of writing to fail.
    const ageUs = reach.contended ? context.known.ageMs(key) * US_PER_MS : 0;
    const planTatUs =
      state.tatUs === undefined || !Number.isFinite(ageUs) ? state.tatUs : state.tatUs + ageUs;
    const plan = planAdmission(planTatUs, nowUs, params, costs, reaches);
    if (plan.kind === 'never-fits')
      throw new InvalidAdmissionGroupError('cost above burst reached a bucket write');
    // Contended, the room ahead grows a cell at a time: a run waits until a batch of it fits
    // (one write for many calls), which its reach leaves time for.
    const batch = reach.contended ? contendedBatch(rest, params, reach.reachUs) : 1;
    const short =
      plan.kind === 'not-yet' ||
      (plan.count < batch && placedCount === 0 && state.tatUs !== undefined);
    // …but not for long: an old picture may hide that the bucket went quiet. Look again.
    if (short && ageUs > MAX_ESTIMATE_AGE_US && !looked) {
      looked = true;
      counter.reads++;
      state = await context.items.read(key);
      context.known.set(key, state);
      attempt--;
      continue;
    }
    // Held back by its meter (reach 0), the run must not hold back the runs after it.
    const heldBack = reach.contended && reach.reachUs === 0;
    if (plan.kind === 'not-yet') {
      return placedCount > 0
        ? { kind: 'placed', count: placedCount, heldBack }
        : { kind: 'not-yet', retryAtUs: plan.retryAtUs, heldBack };
    }
    if (short && state.tatUs !== undefined) {
      const tokens = rest.slice(0, batch).reduce((sum, c) => sum + c, 0);
      return {
        kind: 'not-yet',
        retryAtUs: retryAtUs(Math.max(planTatUs ?? nowUs, nowUs), params, tokens, reach.reachUs),
        heldBack,
      };
    }
    const admitted = costs.slice(0, plan.count);
    const incrementUs = plan.tokens * params.intervalUs;
    // Idle only if the picture (extrapolated when contended) says so: an old picture of a busy
    // bucket often shows a TAT now past, and an idle append would fail.
    const idle = planTatUs === undefined || planTatUs < nowUs;
    const lastSlotUs = plan.slotsUs[plan.count - 1] as number;
    // Each level's and flow's tail: the slot of its last cell in this append.
    const tails = new Map<string, { slotUs: number; offsetUs: number }>();
    let cumulative = 0;
    calls.slice(0, plan.count).forEach((c, i) => {
      cumulative += c.cost;
      const at = {
        slotUs: plan.slotsUs[i] as number,
        offsetUs: cumulative * params.intervalUs - params.toleranceUs,
      };
      tails.set(hintAttribute('levelTail', c.tag.level), at);
      tails.set(hintAttribute('flowTail', c.tag.level, c.tag.flow), at);
    });
    const tailHints = [...tails].map(([name, at]) => ({ name, ...at }));
    const meters = reach.contended
      ? contendedMeters(context, view, params, nowUs, calls.slice(0, plan.count), levelIndex)
      : [];
    // No slot much further ahead than its call's reach, whatever the TAT is when the write lands:
    // others append at the same time (a blind increment), so the guard leaves one reach step.
    const slackUs = reach.contended ? context.scheduling.reachStepMs * US_PER_MS : 0;
    let highestTatUs = Number.POSITIVE_INFINITY;
    cumulative = 0;
    admitted.forEach((cost, i) => {
      cumulative += cost;
      highestTatUs = Math.min(
        highestTatUs,
        nowUs +
          (reaches[i] as number) +
          slackUs +
          params.toleranceUs -
          cumulative * params.intervalUs,
      );
    });
    const multiCost = admitted.some((cost) => cost > 1);
    // Slots this close run without checking in: the append freezes them (bucket-item.ts). On a
    // contended bucket every slot granted is within its call's reach: all of them are final.
    const freezeAll = reach.contended;
    const freezeUntilUs = nowUs + context.scheduling.freezeMs * US_PER_MS;
    const direct = freezeAll ? [] : plan.slotsUs.filter((slot) => slot <= freezeUntilUs);
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
            tails: tailHints,
            meters,
            ...(freezeAll ? { frozenUs: lastSlotUs } : frozen),
          }
        : {
            kind: 'busy',
            fraction,
            nowUs,
            multiCost,
            incrementUs,
            highestTatUs,
            expectedTatUs: state.tatUs as number,
            lastOffsetUs: incrementUs - params.toleranceUs,
            tails: tailHints,
            meters,
            ...frozen,
            freezeAll,
          },
    );
    if (!written.ok && written.state === 'unknown' && freezeAll && !idle && !guessed) {
      // The engine did not say what it found (dynalite). A contended append fails on its range
      // guard: the TAT lies past the highest it allowed. That lower bound is enough to wait on,
      // without a read; a second miss reads.
      guessed = true;
      state = { ...state, tatUs: Math.max(state.tatUs as number, highestTatUs + 1) };
      context.known.set(key, state);
      continue;
    }
    state = await settle(context, key, written, counter);
    if (!written.ok) continue;
    const newTatUs = state.tatUs as number;
    const oldTatUs = idle ? nowUs : newTatUs - incrementUs;
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
      const fixed = freezeAll || (frozen.frozenUs !== undefined && slotUs <= frozen.frozenUs);
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

/** Splits requests into runs: consecutive requests of one level and flow. */
function runsOf(
  requests: readonly number[],
  tagOf: (i: number) => CallTag,
  costOf: (i: number) => number,
): Run[] {
  const runs: { tag: CallTag; costs: number[] }[] = [];
  for (const i of requests) {
    const tag = tagOf(i);
    const last = runs.at(-1);
    if (last !== undefined && sameTag(last.tag, tag)) last.costs.push(costOf(i));
    else runs.push({ tag, costs: [costOf(i)] });
  }
  return runs;
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
