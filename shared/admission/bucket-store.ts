/**
 * Admission against token buckets kept in DynamoDB: one item per bucket, its state one number
 * (the GCRA's TAT, see ./gcra.ts), changed only by range-guarded blind writes.
 *
 * The common path is one conditional UpdateItem per bucket for a whole group of requests, with
 * no read before it: the store remembers the TAT each write returned and picks the branch
 * (idle bucket: `SET tat = now + n·T`; busy bucket: `SET tat = tat + n·T` if the TAT is between
 * now and the horizon). When the guess is wrong the failed condition tells the current TAT —
 * `ReturnValuesOnConditionCheckFailure: ALL_OLD` on DynamoDB and DynamoDB Local, a consistent
 * GetItem on engines that ignore it (dynalite) — and the store tries again with the truth.
 * Concurrent dispatchers never lose updates (both writes are increments guarded by a range) and
 * never retry each other out (a failed write means the bucket moved, and the next plan uses it).
 *
 * Several buckets (a request bucket and a resource bucket) are debited one after the other; if a
 * later one admits fewer requests, the earlier ones are refunded with a write conditioned on
 * nobody having written since (`tat = ours`). A refund that loses that race is forfeited: the
 * tokens stay spent, which wastes capacity but can never admit more than the limit. This works
 * the same on every engine, where `TransactWriteItems` could not return the TATs the slots are
 * computed from.
 *
 * This file decides what to write; ./bucket-item.ts holds the writes themselves (their named
 * conditions and what each engine answers when one fails).
 */
import type { BucketLimit, BucketRef } from '../limits/types.js';
import { bucketKey } from '../storage/tables.js';
import { BucketItems, type DynamoSender } from './bucket-item.js';
import { InvalidAdmissionGroupError } from './errors.js';
import {
  type GcraParams,
  gcraParams,
  planAdmission,
  retryAtUs,
  slotsFrom,
  US_PER_MS,
} from './gcra.js';

export type { DynamoSender } from './bucket-item.js';

/** A bucket of an admission group, with the limit in force for it now. */
export interface GroupBucket {
  readonly ref: BucketRef;
  readonly limit: BucketLimit;
}

/** What was decided for one request of a group. */
export type AdmissionDecision =
  | {
      readonly kind: 'admitted';
      /** When the call may run: now, or a reserved slot later (integer ms, epoch). */
      readonly runAtMs: number;
      /** The slot granted on each bucket of the group (µs, epoch), in the group's bucket order. */
      readonly slotsUs: readonly number[];
    }
  | {
      /** Not within the horizon; from `retryAtMs` on, the first waiting request fits. */
      readonly kind: 'not-yet';
      readonly retryAtMs: number;
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
  /** Conditional writes tried per bucket before answering "not yet" under contention. @default 4 */
  readonly maxWritesPerBucket?: number;
  /** Bucket items expire (DynamoDB TTL) this long after their TAT: an idle bucket is just
   *  as good as a missing one, so deletion never changes a decision. @default 86_400 */
  readonly idleExpirySeconds?: number;
}

const MAX_HORIZON_MS = 900_000;

/** One bucket's admission of a prefix of the group. */
interface BucketGrant {
  readonly key: string;
  readonly params: GcraParams;
  count: number;
  slotsUs: number[];
  newTatUs: number;
  /** Cumulative cost per admitted request, to know what a partial refund gives back. */
  readonly cumulative: number[];
}

/**
 * Admits groups of requests against DynamoDB token buckets.
 *
 * @example
 * const store = new BucketStore({ client: new DynamoDBClient({}), tableName: 'sluice-buckets' });
 * const { decisions } = await store.admit(
 *   [{ ref: { account: '123456789012', region: 'us-east-1', service: 'ec2', bucket: 'RunInstances' },
 *      limit: { rate: 2, burst: 5 } }],
 *   [[1], [1], [1]],
 * );
 */
export class BucketStore {
  readonly #items: BucketItems;
  readonly #clock: () => number;
  readonly #horizonUs: number;
  readonly #lateAllowanceMs: number;
  readonly #maxWrites: number;
  /** Last TAT seen per bucket key. TATs only grow (but for exact refunds), so a remembered
   *  TAT is a lower bound of the real one: refusing from it without a write is always right. */
  readonly #knownTatUs = new Map<string, number | undefined>();

  constructor(options: BucketStoreOptions) {
    const horizonMs = options.horizonMs ?? 60_000;
    if (!(Number.isInteger(horizonMs) && horizonMs >= 0 && horizonMs <= MAX_HORIZON_MS)) {
      throw new RangeError(
        `horizonMs must be an integer from 0 to ${MAX_HORIZON_MS}, got ${horizonMs}`,
      );
    }
    this.#items = new BucketItems(
      options.client,
      options.tableName,
      options.idleExpirySeconds ?? 86_400,
    );
    this.#clock = options.clock ?? Date.now;
    this.#horizonUs = horizonMs * US_PER_MS;
    this.#lateAllowanceMs = options.lateAllowanceMs ?? 0;
    gcraParams({ rate: 1, burst: 1 }, this.#lateAllowanceMs); // validates it now, not mid-batch
    this.#maxWrites = options.maxWritesPerBucket ?? 4;
  }

  /**
   * Admits a group of requests that draw on the same buckets.
   *
   * @param buckets the buckets every request of the group draws on, in a fixed order.
   * @param costs one entry per request, in priority order: the tokens it takes from each bucket.
   * @returns one decision per request. Admitted requests are a prefix of those that can fit at
   *   all; a request that costs more than a bucket's burst is `never-fits` and does not hold up
   *   the others.
   */
  async admit(
    buckets: readonly GroupBucket[],
    costs: readonly (readonly number[])[],
  ): Promise<AdmissionOutcome> {
    validateGroup(buckets, costs);
    const params = buckets.map((b) => gcraParams(b.limit, this.#lateAllowanceMs));
    const keys = buckets.map((b) => bucketKey(b.ref));
    const counter = { writes: 0, reads: 0 };
    const decisions: (AdmissionDecision | undefined)[] = costs.map(() => undefined);

    // A request above a bucket's burst can never run; decide it now so it blocks nobody.
    const eligible: number[] = [];
    costs.forEach((requestCosts, i) => {
      const b = requestCosts.findIndex((cost, j) => cost > (params[j] as GcraParams).burst);
      if (b >= 0) {
        const bucket = buckets[b] as GroupBucket;
        const burst = (params[b] as GcraParams).burst;
        decisions[i] = {
          kind: 'never-fits',
          bucket: bucket.ref,
          cost: requestCosts[b] as number,
          burst,
        };
      } else {
        eligible.push(i);
      }
    });

    const grants: BucketGrant[] = [];
    let count = eligible.length;
    let forfeitedTokens = 0;
    let retryAtUsMax = 0;
    for (let b = 0; b < buckets.length && count > 0; b++) {
      const bucketCosts = eligible.slice(0, count).map((i) => (costs[i] as number[])[b] as number);
      const grant = await this.#admitOnBucket(
        keys[b] as string,
        params[b] as GcraParams,
        bucketCosts,
        counter,
      );
      const admittedHere = grant.kind === 'admitted' ? grant.grant.count : 0;
      if (grant.kind === 'not-yet') retryAtUsMax = Math.max(retryAtUsMax, grant.retryAtUs);
      if (admittedHere < count) {
        for (const earlier of grants) {
          forfeitedTokens += await this.#refund(earlier, admittedHere, counter);
        }
        count = admittedHere;
      }
      if (grant.kind === 'admitted') grants.push(grant.grant);
    }

    // Requests past the admitted prefix wait until the first of them fits on every bucket.
    const firstWaiting = eligible[count];
    if (firstWaiting !== undefined) {
      const waitingCosts = costs[firstWaiting] as number[];
      keys.forEach((key, b) => {
        const known = this.#knownTatUs.get(key);
        if (known !== undefined) {
          const at = retryAtUs(
            known,
            params[b] as GcraParams,
            waitingCosts[b] as number,
            this.#horizonUs,
          );
          retryAtUsMax = Math.max(retryAtUsMax, at);
        }
      });
    }
    const retryAtMs = Math.max(Math.ceil(retryAtUsMax / US_PER_MS), this.#clock());

    eligible.forEach((requestIndex, position) => {
      if (position < count) {
        const slotsUs = grants.map((g) => g.slotsUs[position] as number);
        decisions[requestIndex] = {
          kind: 'admitted',
          runAtMs: Math.ceil(Math.max(...slotsUs) / US_PER_MS),
          slotsUs,
        };
      } else {
        decisions[requestIndex] = { kind: 'not-yet', retryAtMs };
      }
    });

    return {
      decisions: decisions as AdmissionDecision[],
      requests: counter,
      forfeitedTokens,
    };
  }

  /**
   * Pushes a bucket back after the provider throttled a call it admitted: no new slot before
   * `untilMs`, for every dispatcher at once, since they all read the same TAT. Slots already
   * reserved stand. Returns false when the bucket was already pushed at least that far.
   */
  async penalize(bucket: GroupBucket, untilMs: number): Promise<boolean> {
    const params = gcraParams(bucket.limit, this.#lateAllowanceMs);
    const key = bucketKey(bucket.ref);
    // The first token after the push conforms at tat + T − τ = untilMs.
    const pushedUs = untilMs * US_PER_MS + params.toleranceUs - params.intervalUs;
    const written = await this.#items.pushTo(key, pushedUs);
    const known = written.ok ? written.tatUs : written.item;
    if (typeof known === 'number') this.#knownTatUs.set(key, known);
    else this.#knownTatUs.delete(key);
    return written.ok;
  }

  /** Admits the longest fitting prefix of `costs` on one bucket, writing until it succeeds. */
  async #admitOnBucket(
    key: string,
    params: GcraParams,
    costs: readonly number[],
    counter: { writes: number; reads: number },
  ): Promise<{ kind: 'admitted'; grant: BucketGrant } | { kind: 'not-yet'; retryAtUs: number }> {
    let known = this.#knownTatUs.get(key);
    let nowUs = this.#clock() * US_PER_MS;
    for (let attempt = 0; attempt < this.#maxWrites; attempt++) {
      nowUs = this.#clock() * US_PER_MS;
      const plan = planAdmission(known, nowUs, params, costs, this.#horizonUs);
      // never-fits was filtered out before; what remains is admitted or not yet.
      if (plan.kind === 'not-yet') return { kind: 'not-yet', retryAtUs: plan.retryAtUs };
      if (plan.kind !== 'admitted')
        throw new InvalidAdmissionGroupError('cost above burst reached a bucket write');

      const incrementUs = plan.tokens * params.intervalUs;
      const idle = known === undefined || known < nowUs;
      counter.writes++;
      const written = idle
        ? await this.#items.writeIdle(key, nowUs, nowUs + incrementUs)
        : await this.#items.writeBusy(
            key,
            nowUs,
            incrementUs,
            nowUs + this.#horizonUs + params.toleranceUs - incrementUs,
          );
      if (written.ok) {
        const newTatUs = written.tatUs;
        const oldTatUs = idle ? nowUs : newTatUs - incrementUs;
        this.#knownTatUs.set(key, newTatUs);
        const admittedCosts = costs.slice(0, plan.count);
        let sum = 0;
        return {
          kind: 'admitted',
          grant: {
            key,
            params,
            count: plan.count,
            slotsUs: slotsFrom(oldTatUs, nowUs, params, admittedCosts),
            newTatUs,
            cumulative: admittedCosts.map((c) => {
              sum += c;
              return sum;
            }),
          },
        };
      }
      if (written.item === 'unknown') {
        counter.reads++;
        known = await this.#items.readTat(key);
      } else {
        known = written.item;
      }
      this.#knownTatUs.set(key, known);
    }
    // Still contended after every attempt: others are taking this bucket right now, so waiting
    // for the slot the last known TAT gives (at least a moment) is the right answer.
    const first = costs[0] as number;
    const at =
      known === undefined
        ? nowUs
        : retryAtUs(Math.max(known, nowUs), params, first, this.#horizonUs);
    return { kind: 'not-yet', retryAtUs: Math.max(at, nowUs + params.intervalUs) };
  }

  /**
   * Gives back the tokens of requests `keep` and later, if nobody wrote the bucket since our
   * write. Returns the tokens forfeited (0 when the refund went through).
   */
  async #refund(grant: BucketGrant, keep: number, counter: { writes: number }): Promise<number> {
    const kept = keep === 0 ? 0 : (grant.cumulative[keep - 1] as number);
    const total = grant.cumulative[grant.count - 1] as number;
    const tokens = total - kept;
    if (tokens === 0) return 0;
    const refundedTatUs = grant.newTatUs - tokens * grant.params.intervalUs;
    counter.writes++;
    const written = await this.#items.refund(grant.key, grant.newTatUs, refundedTatUs);
    grant.count = keep;
    grant.slotsUs = grant.slotsUs.slice(0, keep);
    if (!written.ok) return tokens;
    grant.newTatUs = refundedTatUs;
    this.#knownTatUs.set(grant.key, refundedTatUs);
    return 0;
  }
}

function validateGroup(
  buckets: readonly GroupBucket[],
  costs: readonly (readonly number[])[],
): void {
  if (buckets.length === 0)
    throw new InvalidAdmissionGroupError('a group needs at least one bucket');
  const keys = new Set(buckets.map((b) => bucketKey(b.ref)));
  if (keys.size !== buckets.length)
    throw new InvalidAdmissionGroupError('a group names a bucket twice');
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
