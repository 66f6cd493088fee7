/**
 * What the bucket store's parts share: the item adapter, the clock, the settings, and what the
 * store last saw of each bucket. A remembered state is a hint: writes are conditioned on what
 * they rely on, and a failed condition hands back the truth.
 */
import type { BucketLimit } from '../limits/types.js';
import type { BucketItems, ItemWrite } from './bucket-item.js';
import { type BucketState, EMPTY_BUCKET } from './bucket-state.js';
import { type GcraParams, gcraParams, US_PER_MS } from './gcra.js';
import { intervalAt, type LearnedRatePolicy } from './learned-rate.js';
import type { LevelPolicy, PlacementPolicy } from './placement.js';
import { foldDropped } from './timeline.js';

/** How calls are ordered when they compete for a bucket (shared/admission/placement.ts). */
export interface SchedulingPolicy {
  /** Priority levels, most urgent first, with their assured shares. */
  readonly levels: readonly LevelPolicy[];
  /** The level of a call that names none (or one not listed). */
  readonly defaultLevel: string;
  /** The weight of a flow (default 1). */
  readonly weightOf: (level: string, flow: string) => number;
  /** No cut-in lands closer to now than this (ms). */
  readonly freezeMs: number;
  /** On a contended bucket, each level reaches this much further ahead than the one below (ms). */
  readonly reachStepMs: number;
}

/** The store's shared parts. */
export interface BucketContext {
  readonly items: BucketItems;
  readonly clock: () => number;
  readonly horizonUs: number;
  readonly lateAllowanceMs: number;
  readonly maxWrites: number;
  readonly scheduling: SchedulingPolicy;
  readonly learnedRate: LearnedRatePolicy;
  /** Last state seen per bucket key, and when. */
  readonly known: KnownStates;
}

/** What the store last saw of each bucket, with the time it saw it (a hint's age). */
export class KnownStates extends Map<string, BucketState> {
  readonly #seenAtMs = new Map<string, number>();
  readonly #clock: () => number;

  constructor(clock: () => number) {
    super();
    this.#clock = clock;
  }

  override set(key: string, state: BucketState): this {
    this.#seenAtMs?.set(key, this.#clock());
    return super.set(key, state);
  }

  /** How long ago the state of `key` was seen (ms); infinite when never. */
  ageMs(key: string): number {
    const at = this.#seenAtMs.get(key);
    return at === undefined ? Number.POSITIVE_INFINITY : this.#clock() - at;
  }
}

/** DynamoDB requests made, counted for the caller (the coordination cost). */
export interface RequestCounter {
  writes: number;
  reads: number;
}

/** The GCRA parameters of a bucket at its learned rate: the interval stretched, burst kept. */
export function effectiveParams(
  limit: BucketLimit,
  lateAllowanceMs: number,
  fraction: number,
): GcraParams {
  const configured = gcraParams(limit, lateAllowanceMs);
  if (fraction >= 1) return configured;
  const intervalUs = intervalAt(configured.intervalUs, fraction);
  return {
    intervalUs,
    toleranceUs: Math.floor(configured.burst * intervalUs),
    burst: configured.burst,
  };
}

/** The state a write left or found, read back only when the engine did not say (dynalite). */
export async function settle(
  context: BucketContext,
  key: string,
  written: ItemWrite,
  counter: RequestCounter,
): Promise<BucketState> {
  let state: BucketState;
  if (written.state === 'unknown') {
    counter.reads++;
    state = await context.items.read(key);
  } else {
    state = written.state;
  }
  context.known.set(key, state);
  return state;
}

/** What the store last saw of a bucket (an empty bucket when nothing yet). */
export function knownState(context: BucketContext, key: string): BucketState {
  return context.known.get(key) ?? EMPTY_BUCKET;
}

/**
 * The log keeps at least this many entries, and the item's fold what reservations need of the
 * ones it drops (./timeline.ts, `LogFold`): short, so the item (and every write's capacity
 * units) stays small — about 30 bytes an entry.
 */
export const LOG_KEEP = 32;
const LOG_PRUNE_AT = 64;

/** Drops old log entries once the log grows past {@link LOG_PRUNE_AT} (best effort). */
export async function pruneIfLong(
  context: BucketContext,
  key: string,
  state: BucketState,
  counter: RequestCounter,
): Promise<void> {
  if (state.log.length < LOG_PRUNE_AT) return;
  counter.writes++;
  const dropped = state.log.length - LOG_KEEP;
  const written = await context.items.prune(
    key,
    state.log.slice(dropped),
    state.headSeq,
    state.log.length,
    foldDropped(state.fold, state.log.slice(0, dropped)),
  );
  if (written.ok) context.known.set(key, written.state);
}

/** The placement policy of the store's scheduling settings, in the units placement works in. */
export function placementPolicy(
  context: BucketContext,
): PlacementPolicy & { readonly reachStepUs: number } {
  return {
    levels: context.scheduling.levels,
    weightOf: (l, flow) => context.scheduling.weightOf(levelName(context, l), flow),
    freezeUs: context.scheduling.freezeMs * US_PER_MS,
    reachStepUs: context.scheduling.reachStepMs * US_PER_MS,
  };
}

/** A level's name from its index (0 = most urgent). */
export function levelName(context: BucketContext, index: number): string {
  return context.scheduling.levels[index]?.name ?? context.scheduling.defaultLevel;
}
