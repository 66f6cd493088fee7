/**
 * Admission against token buckets kept in DynamoDB: one item per bucket, its state the GCRA's
 * theoretical arrival time (./gcra.ts) plus the short log of what moved the slots it granted
 * (./timeline.ts), changed only by conditional writes (./bucket-item.ts).
 *
 * - {@link BucketStore.admit}: one conditional write per bucket for a whole group of calls on the
 *   common path (one level, one flow: appended, first come first served); calls of a more urgent
 *   level or a flow behind its fair share cut in ahead of cells that may wait (./placement.ts).
 *   When levels or flows compete for a bucket, each call reserves no further ahead than its
 *   level's reach, and what it gets is final (`reachOf` in ./placement.ts).
 * - {@link BucketStore.checkIn}: reservations commit to their slots just before running, replaying
 *   what cut in ahead of them or re-spaced them since they were granted (./reservations.ts).
 * - {@link BucketStore.reportThrottle}: the provider throttled a call the bucket admitted: the
 *   bucket's learned rate drops, once per epoch, for every dispatcher at once, and recovers as
 *   admissions go on (./rate-changes.ts, ./learned-rate.ts).
 *
 * The guarantee, for every bucket, whatever the interleaving of dispatchers: the tokens whose
 * slots fall in any window of length W are at most `burst + rate·W` at the rate in force
 * (test/unit/admission/timeline.test.ts on the pure model; test/integration/bucket-store.test.ts
 * on both DynamoDB engines under concurrent dispatchers).
 */
import {
  type AdmissionOutcome,
  admitGroup,
  type CallTag,
  type GroupBucket,
} from './admit-group.js';
import { type BucketContext, KnownStates, type SchedulingPolicy } from './bucket-context.js';
import { BucketItems, type DynamoSender } from './bucket-item.js';
import { gcraParams, US_PER_MS } from './gcra.js';
import { DEFAULT_LEARNED_RATE, type LearnedRatePolicy } from './learned-rate.js';
import { reportThrottle } from './rate-changes.js';
import { type CheckIn, checkIn, type Reservation } from './reservations.js';

export type {
  AdmissionDecision,
  AdmissionOutcome,
  CallTag,
  GroupBucket,
} from './admit-group.js';
export type { SchedulingPolicy } from './bucket-context.js';
export type { DynamoSender } from './bucket-item.js';
export type { CheckIn, Reservation } from './reservations.js';

/** The default levels: the contract's priorities, with APF-style assured shares. */
export const DEFAULT_SCHEDULING: SchedulingPolicy = Object.freeze({
  levels: Object.freeze([
    { name: 'high', assuredShare: 0.5 },
    { name: 'normal', assuredShare: 0.4 },
    { name: 'low', assuredShare: 0.1 },
  ]),
  defaultLevel: 'normal',
  weightOf: () => 1,
  freezeMs: 300,
  reachStepMs: 500,
});

/** Settings of a {@link BucketStore}. */
export interface BucketStoreOptions {
  readonly client: DynamoSender;
  readonly tableName: string;
  /** Epoch milliseconds; injected so tests and simulations control time. @default Date.now */
  readonly clock?: () => number;
  /**
   * How far ahead slots may be reserved. Longer horizons admit bigger batches in one write;
   * shorter ones keep fewer calls committed ahead of a provider's throttling feedback.
   * At most SQS's 900 s delay, so a reserved call can always be delayed to its slot.
   * @default 60_000
   */
  readonly horizonMs?: number;
  /**
   * Trims every burst by `rate × lateAllowanceMs` so that calls leaving up to this late after
   * their slots never meet a provider bucket short of tokens (see {@link gcraParams}).
   * @default 0
   */
  readonly lateAllowanceMs?: number;
  /** Conditional writes tried per placement before answering "not yet" under contention. @default 4 */
  readonly maxWritesPerBucket?: number;
  /** Bucket items expire (DynamoDB TTL) this long after their TAT: an idle bucket is just
   *  as good as a missing one, so deletion never changes a decision. @default 86_400 */
  readonly idleExpirySeconds?: number;
  /** Priority levels, assured shares, flow weights, freeze margin. @default DEFAULT_SCHEDULING */
  readonly scheduling?: SchedulingPolicy;
  /** How the learned rate falls and recovers. @default DEFAULT_LEARNED_RATE */
  readonly learnedRate?: LearnedRatePolicy;
}

const MAX_HORIZON_MS = 900_000;

/**
 * Admits groups of requests against DynamoDB token buckets.
 *
 * @example
 * const store = new BucketStore({ client: new DynamoDBClient({}), tableName: 'sluice-buckets' });
 * const { decisions } = await store.admit(
 *   [{ ref: { account: '123456789012', region: 'us-east-1', service: 'ec2', bucket: 'RunInstances' },
 *      limit: { rate: 2, burst: 5 } }],
 *   [[1], [1], [1]],
 *   [{ level: 'high', flow: 'web' }, { level: 'low', flow: 'batch' }, { level: 'low', flow: 'batch' }],
 * );
 */
export class BucketStore {
  readonly #context: BucketContext;

  constructor(options: BucketStoreOptions) {
    const horizonMs = options.horizonMs ?? 60_000;
    if (!(Number.isInteger(horizonMs) && horizonMs >= 0 && horizonMs <= MAX_HORIZON_MS)) {
      throw new RangeError(
        `horizonMs must be an integer from 0 to ${MAX_HORIZON_MS}, got ${horizonMs}`,
      );
    }
    const lateAllowanceMs = options.lateAllowanceMs ?? 0;
    gcraParams({ rate: 1, burst: 1 }, lateAllowanceMs); // validates it now, not mid-batch
    this.#context = {
      items: new BucketItems(
        options.client,
        options.tableName,
        options.idleExpirySeconds ?? 86_400,
      ),
      clock: options.clock ?? Date.now,
      horizonUs: horizonMs * US_PER_MS,
      lateAllowanceMs,
      maxWrites: options.maxWritesPerBucket ?? 4,
      scheduling: options.scheduling ?? DEFAULT_SCHEDULING,
      learnedRate: options.learnedRate ?? DEFAULT_LEARNED_RATE,
      known: new KnownStates(options.clock ?? Date.now),
    };
  }

  /**
   * Admits a group of requests that draw on the same buckets.
   *
   * @param buckets the buckets every request of the group draws on, in a fixed order.
   * @param costs one entry per request: the tokens it takes from each bucket.
   * @param tags per request, its priority level and flow (default: the default level, one flow).
   * @returns one decision per request. Within a level and flow, admitted requests are a prefix;
   *   a request that costs more than a bucket's burst is `never-fits` and holds up nobody.
   */
  admit(
    buckets: readonly GroupBucket[],
    costs: readonly (readonly number[])[],
    tags?: readonly CallTag[],
  ): Promise<AdmissionOutcome> {
    return admitGroup(this.#context, buckets, costs, tags);
  }

  /**
   * Reservations due soon commit to their slots (`commit`), or reservations far from their slots
   * follow what changed (a read). One DynamoDB request per bucket for the whole batch.
   */
  async checkIn(
    reservations: readonly Reservation[],
    commit: boolean,
  ): Promise<{
    readonly results: readonly CheckIn[];
    readonly requests: { writes: number; reads: number };
  }> {
    const counter = { writes: 0, reads: 0 };
    const results = await checkIn(this.#context, reservations, commit, counter);
    return { results, requests: counter };
  }

  /**
   * The provider throttled a call admitted on `bucket` in learned-rate `epoch`: the bucket slows
   * down (once per epoch) and pauses for `retryAfterMs` (or a penalty). True when it changed.
   */
  async reportThrottle(
    bucket: GroupBucket,
    epoch: number,
    retryAfterMs?: number,
  ): Promise<boolean> {
    return reportThrottle(this.#context, bucket, epoch, retryAfterMs, { writes: 0, reads: 0 });
  }
}
