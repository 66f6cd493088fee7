/**
 * Where a group of calls goes in a bucket's timeline: appended at its end (first come, first
 * served, the common path), or cut in ahead of cells that must wait for it — cells of lower
 * priority levels, and cells of other flows of the same level that are ahead of their fair share.
 * Pure: a function of what the bucket item says (a {@link BucketView}), the time and the policy.
 *
 * Priority levels (the Kubernetes API server's Priority and Fairness is the model): a call of a
 * level waits for no cell of a lower level that has not committed to its slot yet. So that no
 * level starves, each level keeps an assured share of the rate: the cut-ins of a level (and every
 * level above it) are metered at `rate × (1 − the assured shares of the levels below)`; past the
 * meter a level appends behind the lower ones, and they keep their share. A level borrows whatever
 * the others do not use: with nothing to cut ahead of, it simply appends.
 *
 * Fair flows (fair queuing by flow): inside a level, a flow whose cells would land behind other
 * flows' is interleaved with them, its cells one every `stride` of the old timeline, the stride
 * chosen so that it gets `weight / (weight + the others' weights)` of the level's slots. A flood
 * from one producer then delays another producer of the same level only by its fair share.
 *
 * Alone or contended ({@link reachOf}): a flow alone on a bucket reserves up to the horizon, and
 * the cut-ins above are how a newcomer passes what it reserved. Once several levels or flows
 * compete, each call reserves at most its level's reach ahead and its slot is final at once:
 * the order is decided by who may reserve how far, and nothing granted has to move — on buckets
 * fast enough for the longest reach to hold a batch ({@link reachesABatch}).
 *
 * What keeps the window bound (shared/admission/timeline.ts): a cut-in lands on the bucket's grid
 * (so no cell straddles it), never before the frozen watermark or `now + freeze`, and only on a
 * bucket whose cells all cost one token (every request bucket; a resource bucket until a call of
 * several instances uses it).
 */
import type { GcraParams } from './gcra.js';
import { insertedSlots, onGrid } from './timeline.js';

/** A priority level: its name and its assured share of every bucket's rate (0–1). */
export interface LevelPolicy {
  readonly name: string;
  /** The least share of the rate this level keeps when every level is busy. */
  readonly assuredShare: number;
}

/** What a bucket item says about its future, as far as placement needs it. */
export interface BucketView {
  /** The theoretical arrival time after the last cell (µs); undefined for a fresh bucket. */
  readonly tatUs: number | undefined;
  /** The latest slot a reservation has committed to (µs); 0 when none. */
  readonly frozenUs: number;
  /** Where the grid of the cells' theoretical arrival times starts (µs); see timeline.ts. */
  readonly anchorUs: number;
  /** Cells with slots at or before this belong to an older grid: nothing cuts in before it. */
  readonly gridStartUs: number;
  /** Some cell of the bucket costs more than one token: no cut-ins. */
  readonly multiCost: boolean;
  /** Per level (index, 0 = most urgent): the slot of its last cell, as last written (a hint). */
  readonly levelTailsUs: ReadonlyMap<number, number>;
  /** Per flow of a level (`flowKey`): the slot of its last cell (a hint). */
  readonly flowTailsUs: ReadonlyMap<string, number>;
  /** Per level: the theoretical arrival time of its cut-in meter (µs). */
  readonly cutMetersUs: ReadonlyMap<number, number>;
}

/** A group of calls of one level and flow, each costing `costs[i]` tokens of this bucket. */
export interface PlacementRequest {
  readonly level: number;
  readonly flow: string;
  readonly weight: number;
  readonly costs: readonly number[];
}

/** Settings that shape placement. */
export interface PlacementPolicy {
  readonly levels: readonly LevelPolicy[];
  /** Weight of a flow at a level (default 1). */
  readonly weightOf: (level: number, flow: string) => number;
  /**
   * No cut-in lands closer to now than this (µs): a reservation commits to its slot (writes the
   * frozen watermark) this long before it, and calls admitted to run at once must be safe too.
   */
  readonly freezeUs: number;
}

/** A cut-in: the log entry it writes and what it leaves. */
export interface CutIn {
  readonly kind: 'cut-in';
  /** The calls placed (a prefix of the group; the rest go through the append path). */
  readonly count: number;
  /** The timeline point; every slot after it moves back (see timeline.ts `ShiftEntry`). */
  readonly atUs: number;
  /** The shift per inserted cell: its cost × T. */
  readonly cellUs: number;
  readonly strideUs: number;
  /** The slot of each placed call. */
  readonly slotsUs: readonly number[];
  /** The item must still be like this for the cut-in to stand (conditions of the write). */
  readonly requires: { readonly frozenBelowUs: number; readonly tatAtLeastUs: number };
  /** Hints and meter after the write. */
  readonly levelTailUs: number;
  readonly flowTailUs: number;
  /** The level's meter after the write; undefined when this cut-in does not pass lower levels. */
  readonly meterUs: number | undefined;
  /** Lower levels whose tails move back by `count × cellUs` (their cells were passed). */
  readonly passedLevels: readonly number[];
}

/** Append at the end of the timeline (first come, first served). */
export interface Append {
  readonly kind: 'append';
}

/** The decision for a group. */
export type Placement = CutIn | Append;

/** The key of a flow's tail in {@link BucketView.flowTailsUs}. */
export function flowKey(level: number, flow: string): string {
  return `${level}/${flow}`;
}

/** The cut-in meter's interval for a level: T over the share left to it and the levels above. */
export function meterIntervalUs(
  params: GcraParams,
  levels: readonly LevelPolicy[],
  level: number,
): number {
  const below = levels.slice(level + 1).reduce((sum, l) => sum + l.assuredShare, 0);
  const share = Math.max(0.01, 1 - below);
  return Math.ceil(params.intervalUs / share);
}

/**
 * Decides where a group goes. Appends unless a cut-in is both needed (cells of lower levels, or
 * of other flows of the same level, lie after where this group belongs) and allowed (costs within
 * {@link cutInLimit}, all equal, the meter has room for at least one).
 */
export function place(
  view: BucketView,
  nowUs: number,
  params: GcraParams,
  horizonUs: number,
  request: PlacementRequest,
  policy: PlacementPolicy,
): Placement {
  const append: Append = { kind: 'append' };
  const { tatUs } = view;
  // Only one-token cells on a bucket of one-token cells: they lie on the grid (timeline.ts).
  if (tatUs === undefined || view.multiCost || request.costs.some((c) => c !== 1)) return append;

  const level = request.level;
  const tail = (map: ReadonlyMap<number, number>, l: number) => map.get(l) ?? 0;
  // Where this group belongs: after every committed slot, after `now + freeze`, after every cell
  // of a more urgent level, and after the flow's own earlier cells — on the grid.
  let earliest = Math.max(nowUs + policy.freezeUs, view.frozenUs + 1, view.gridStartUs);
  for (let l = 0; l < level; l++) earliest = Math.max(earliest, tail(view.levelTailsUs, l));
  const ownTail = view.flowTailsUs.get(flowKey(level, request.flow)) ?? 0;
  earliest = Math.max(earliest, ownTail);
  // A grid point is a cell's end in virtual time; the slot-space point is that minus τ.
  const atUs =
    onGrid(earliest + params.toleranceUs, view.anchorUs, params.intervalUs) - params.toleranceUs;

  // Only cells after `atUs` can be passed, and only if the timeline reaches past it.
  const lastSlotUs = tatUs - params.toleranceUs;
  if (lastSlotUs <= atUs) return append;
  const passedLevels: number[] = [];
  for (let l = level + 1; l < policy.levels.length; l++) {
    if (tail(view.levelTailsUs, l) > atUs) passedLevels.push(l);
  }
  let othersWeight = 0;
  const prefix = `${level}/`;
  for (const [key, slot] of view.flowTailsUs) {
    if (key.startsWith(prefix) && key !== flowKey(level, request.flow) && slot > atUs) {
      othersWeight += policy.weightOf(level, key.slice(prefix.length));
    }
  }
  if (passedLevels.length === 0 && othersWeight === 0) return append;
  const first = 1;

  const cellUs = first * params.intervalUs;
  const levelTailUs = Math.max(tail(view.levelTailsUs, level), atUs);
  // Interleave with the level's other flows while their cells last; past them, one block.
  // A whole number of intervals, so every inserted cell lands on the grid.
  const strideUs =
    othersWeight > 0 && levelTailUs > atUs
      ? Math.ceil(othersWeight / Math.max(request.weight, 1e-6)) * cellUs
      : 0;

  let allowed = request.costs.length;
  // Strided cells stop where the level's other cells do: the rest of the group is placed by the
  // next call, behind them (still ahead of lower levels).
  if (strideUs > 0) {
    // …and where the timeline does: an inserted cell needs an old one after its point, or it
    // would stand past the end with a gap before it.
    const reach = Math.min(levelTailUs, lastSlotUs);
    allowed = Math.min(allowed, Math.ceil((reach - atUs) / strideUs));
  }
  // The meter admits cut-ins that pass lower levels at the rate left after their shares.
  let meterUs: number | undefined;
  if (passedLevels.length > 0) {
    const meterInterval = meterIntervalUs(params, policy.levels, level);
    const meterTolerance = meterToleranceUs(params, policy.levels, level);
    const base = Math.max(view.cutMetersUs.get(level) ?? 0, nowUs);
    allowed = Math.min(
      allowed,
      Math.floor((nowUs + meterTolerance - base) / (first * meterInterval)),
    );
    if (allowed <= 0) return append;
    meterUs = base + allowed * first * meterInterval;
  }
  // Cells beyond the horizon are not granted here (the append path refuses them too).
  const slots = insertedSlots(atUs, cellUs, strideUs, allowed).filter(
    (slot) => slot <= nowUs + horizonUs,
  );
  if (slots.length === 0) return append;
  const count = slots.length;
  if (meterUs !== undefined && count < allowed) {
    meterUs -= (allowed - count) * first * meterIntervalUs(params, policy.levels, level);
  }
  const lastPlaced = slots[count - 1] as number;
  return {
    kind: 'cut-in',
    count,
    atUs,
    cellUs,
    strideUs,
    slotsUs: slots,
    // The last cell inserted has old cells after its point: the write checks it against the TAT.
    requires: {
      frozenBelowUs: atUs,
      tatAtLeastUs: atUs + params.toleranceUs + (count - 1) * strideUs + 1,
    },
    levelTailUs: Math.max(levelTailUs + count * cellUs, lastPlaced),
    flowTailUs: lastPlaced,
    meterUs,
    passedLevels,
  };
}

/** How far ahead a call may be reserved, and whether others compete for the bucket. */
export interface Reach {
  /** Slots later than `now + reachUs` are not granted now ("not yet"). */
  readonly reachUs: number;
  /** Another level or flow has used the bucket recently: slots are final when granted. */
  readonly contended: boolean;
}

/** How recently another level or flow must have used a bucket for it to count as contended. */
export const CONTENTION_WINDOW_US = 5_000_000;

/**
 * A call's reach. Alone on a bucket, a flow may reserve up to the horizon: one write admits a
 * whole batch ahead of time, and the rare newcomer cuts in ahead of it (its reservations check in
 * and move). When other levels or flows compete, nobody reserves far ahead: a level's reach is
 * the freeze margin plus one step per level below it, so a call waits behind at most the reach
 * of the level below it, and what is granted is final at once (no check-in, nothing to move).
 * The rest wait for their turn. A level past its cut-in meter (the rate less the assured shares
 * of the levels below, as for cut-ins) takes only what nobody else would use right now: the
 * levels below keep their assured shares.
 */
export function reachOf(
  view: BucketView,
  nowUs: number,
  horizonUs: number,
  params: GcraParams,
  request: Pick<PlacementRequest, 'level' | 'flow'>,
  policy: PlacementPolicy & { readonly reachStepUs: number },
): Reach {
  if (!reachesABatch(params, policy)) return { reachUs: horizonUs, contended: false };
  const own = flowKey(request.level, request.flow);
  const since = nowUs - CONTENTION_WINDOW_US;
  let contended = false;
  for (const [key, tail] of view.flowTailsUs) {
    if (key !== own && tail > since) {
      contended = true;
      break;
    }
  }
  if (!contended) return { reachUs: horizonUs, contended };
  return {
    reachUs: contendedReachUs(view, nowUs, horizonUs, params, request.level, policy),
    contended,
  };
}

/**
 * A level's reach on a contended bucket (see {@link reachOf}): the freeze margin plus one step
 * per level below; 0 past its meter (it takes only what would otherwise go unused right now).
 */
export function contendedReachUs(
  view: BucketView,
  nowUs: number,
  horizonUs: number,
  params: GcraParams,
  level: number,
  policy: PlacementPolicy & { readonly reachStepUs: number },
): number {
  const below = policy.levels.length - 1 - level;
  const overMeter =
    below > 0 &&
    (view.cutMetersUs.get(level) ?? 0) + meterIntervalUs(params, policy.levels, level) >
      nowUs + meterToleranceUs(params, policy.levels, level);
  if (overMeter) return 0;
  return Math.min(horizonUs, policy.freezeUs + below * policy.reachStepUs);
}

/** Cells the longest reach must hold for a bucket to be scheduled by reach when contended. */
export const MIN_REACH_CELLS = 10;

/**
 * Whether reaches apply to this bucket at all: the longest reach must hold a batch of cells
 * ({@link MIN_REACH_CELLS}). A slower bucket (RunInstances at 2/s: 1.3 s is under 3 cells) would
 * grant a call or two per write and leave its slots unused between SQS's whole-second waits; it
 * keeps reserving ahead, and what passes its reservations cuts in.
 */
export function reachesABatch(
  params: GcraParams,
  policy: PlacementPolicy & { readonly reachStepUs: number },
): boolean {
  const longestUs = policy.freezeUs + (policy.levels.length - 1) * policy.reachStepUs;
  return longestUs >= MIN_REACH_CELLS * params.intervalUs;
}

/** How far a level's cut-in meter may run ahead of now: the bucket's burst at the meter's pace. */
export function meterToleranceUs(
  params: GcraParams,
  levels: readonly LevelPolicy[],
  level: number,
): number {
  return Math.floor(params.burst * meterIntervalUs(params, levels, level));
}
