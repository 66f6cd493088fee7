/**
 * The simulated provider's throttle model: a plain continuous token bucket (capacity `burst`,
 * fractional refill of `rate` tokens per second) per caller account, region, service and bucket
 * name, plus an optional escalating penalty per action. Time is passed in (milliseconds), so
 * tests drive it with a fake clock and every count is exact.
 *
 * It is deliberately not Sluice's GCRA code (`shared/admission/gcra.ts`): a test that passes
 * against it shows the admission code matches the provider's model, not itself. Bucket names
 * and default limits come from the service registry's limit rules (the provider's documented
 * defaults, before any operator override or safety factor), so the simulator and the catalog
 * agree by construction.
 */
import type { BucketLimit, BucketNeed } from '../../shared/limits/types.js';
import { SERVICES } from '../../shared/services/registry.js';
import type { SimCall, SimService } from './call.js';

/** A bucket of the simulated provider: one per caller account, region, service and bucket name. */
export interface SimBucketKey {
  readonly account: string;
  readonly region: string;
  readonly service: SimService;
  /** Bucket name as the limits catalog names it, e.g. `RunInstances`, `RunInstances:resource`. */
  readonly bucket: string;
}

/**
 * Limit overrides: a function of the bucket (return `undefined` to keep the default), or a map
 * from bucket name (`RunInstances`, `DescribeInstances:unfiltered`, `ListServiceQuotas` …) to a
 * limit for every account and region.
 */
export type SimLimits =
  | ((key: SimBucketKey) => BucketLimit | undefined)
  | Readonly<Record<string, BucketLimit>>;

/**
 * Escalating penalty, like Keeper's: once an action is throttled, every call to it is throttled
 * for `durationMs`, and each call during the penalty restarts it.
 */
export interface SimPenalty {
  readonly durationMs: number;
}

/** Options of {@link Throttle}; all optional. */
export interface ThrottleOptions {
  /** Limit overrides; the catalog's defaults otherwise. */
  readonly limits?: SimLimits;
  readonly penalty?: SimPenalty;
}

/** Whether a call was admitted; if not, how long until it would fit (or the penalty ends). */
export type Admission =
  | { readonly admitted: true }
  | { readonly admitted: false; readonly waitSeconds: number };

/** What a call's buckets belong to: its caller and action. */
export type ThrottleScope = Pick<SimCall, 'account' | 'region' | 'service' | 'action'>;

interface Bucket {
  readonly limit: BucketLimit;
  tokens: number;
  updatedMs: number;
}

/** Tolerance of float arithmetic in bucket levels (0.1/s refills do not add up exactly). */
const EPSILON = 1e-9;

/** Token buckets and penalties of every caller; state in memory, time passed in. */
export class Throttle {
  private readonly buckets = new Map<string, Bucket>();
  /** Action (account, region, service, action) → end of its penalty, ms. */
  private readonly penalties = new Map<string, number>();
  /** Bucket → tokens taken by admitted calls. */
  private readonly debits = new Map<string, number>();

  constructor(private readonly options: ThrottleOptions = {}) {}

  /**
   * Debits every bucket the call needs, or none: EC2 does not half-admit a call. A bucket never
   * used starts full, as an account's buckets are.
   * @throws {RangeError} when a limit (default or override) has `rate ≤ 0` or `burst < 1`.
   */
  admit(scope: ThrottleScope, needs: readonly BucketNeed[], nowMs: number): Admission {
    const penalty = this.options.penalty;
    const penaltyKey = [scope.account, scope.region, scope.service, scope.action].join('\n');
    if (penalty !== undefined) {
      const until = this.penalties.get(penaltyKey);
      if (until !== undefined && nowMs < until) {
        // Every call during the penalty extends it: hammering a provider like this never ends.
        this.penalties.set(penaltyKey, nowMs + penalty.durationMs);
        return { admitted: false, waitSeconds: penalty.durationMs / 1000 };
      }
    }
    const draws = needs.map((need) => {
      const key: SimBucketKey = {
        account: scope.account,
        region: scope.region,
        service: scope.service,
        bucket: need.bucket,
      };
      return { bucket: this.bucket(key, need.limit, nowMs), cost: need.cost };
    });
    let waitSeconds = 0;
    for (const { bucket, cost } of draws) {
      if (bucket.tokens + EPSILON < cost) {
        waitSeconds = Math.max(waitSeconds, (cost - bucket.tokens) / bucket.limit.rate);
      }
    }
    if (waitSeconds > 0) {
      if (penalty !== undefined) {
        this.penalties.set(penaltyKey, nowMs + penalty.durationMs);
        waitSeconds = Math.max(waitSeconds, penalty.durationMs / 1000);
      }
      return { admitted: false, waitSeconds };
    }
    for (const { bucket, cost } of draws) bucket.tokens = Math.max(0, bucket.tokens - cost);
    for (const need of needs) {
      const id = bucketId({ ...scope, bucket: need.bucket });
      this.debits.set(id, (this.debits.get(id) ?? 0) + need.cost);
    }
    return { admitted: true };
  }

  /**
   * Tokens in a bucket at `nowMs` (refilled); a bucket never used is full.
   * @throws {RangeError} for a bucket name the catalog does not know and no override names.
   */
  tokens(key: SimBucketKey, nowMs: number): number {
    const bucket = this.buckets.get(bucketId(key));
    if (bucket === undefined) return this.limitFor(key, undefined).burst;
    refill(bucket, nowMs);
    return bucket.tokens;
  }

  /** Tokens taken from a bucket by the calls it admitted, since the start or {@link clear}. */
  debited(key: SimBucketKey): number {
    return this.debits.get(bucketId(key)) ?? 0;
  }

  /** Every bucket full again, no penalties, nothing debited. */
  clear(): void {
    this.buckets.clear();
    this.penalties.clear();
    this.debits.clear();
  }

  private bucket(key: SimBucketKey, defaultLimit: BucketLimit, nowMs: number): Bucket {
    const id = bucketId(key);
    let bucket = this.buckets.get(id);
    if (bucket === undefined) {
      const limit = this.limitFor(key, defaultLimit);
      bucket = { limit, tokens: limit.burst, updatedMs: nowMs };
      this.buckets.set(id, bucket);
      return bucket;
    }
    refill(bucket, nowMs);
    return bucket;
  }

  /** The override for the bucket, else `defaultLimit`, else the catalog's default. */
  private limitFor(key: SimBucketKey, defaultLimit: BucketLimit | undefined): BucketLimit {
    const limits = this.options.limits;
    const override = typeof limits === 'function' ? limits(key) : limits?.[key.bucket];
    const limit = override ?? defaultLimit ?? defaultLimitOf(key);
    if (!(limit.rate > 0) || !(limit.burst >= 1)) {
      throw new RangeError(
        `Invalid simulator limit for ${bucketId(key)}: ${JSON.stringify(limit)}`,
      );
    }
    return limit;
  }
}

/**
 * `Retry-After` for a throttled call: whole seconds until it would fit, at least 1. (AWS sends
 * none; the simulator can, standing in for providers that do.)
 */
export function retryAfterSeconds(waitSeconds: number): number {
  return Math.max(1, Math.ceil(waitSeconds - EPSILON));
}

/**
 * The buckets a call draws on, with their default limits and costs: the registry's limit rules
 * for the service (what the provider documents, as the catalog starts from).
 *
 * @param input EC2: the call's input in SDK member names (`ec2SdkInput`); Service Quotas: unused.
 * @throws {InvalidCostError} when an EC2 resource bucket's cost input is missing or malformed.
 */
export function catalogNeeds(
  service: SimService,
  action: string,
  input: Readonly<Record<string, unknown>>,
): readonly BucketNeed[] {
  return rulesOf(service).needs(action, input);
}

/** The default limit of a bucket named without a call (for {@link Throttle.tokens}). */
function defaultLimitOf(key: SimBucketKey): BucketLimit {
  // Buckets are named after their operation, with a `:unfiltered` or `:resource` suffix.
  const [operation = ''] = key.bucket.split(':');
  const limit = rulesOf(key.service)
    .bucketsOf(operation)
    .find((b) => b.bucket === key.bucket)?.limit;
  if (limit === undefined) {
    const service = key.service === 'ec2' ? 'EC2' : 'Service Quotas';
    throw new RangeError(`Unknown ${service} bucket ${key.bucket}`);
  }
  return limit;
}

function rulesOf(service: SimService) {
  const definition = SERVICES[service];
  if (definition === undefined) throw new RangeError(`service ${service} is not in the registry`);
  return definition.limits;
}

function bucketId(key: SimBucketKey): string {
  return [key.account, key.region, key.service, key.bucket].join('\n');
}

/** Adds the tokens earned since the bucket's last update, up to its burst. */
function refill(bucket: Bucket, nowMs: number): void {
  // A clock that steps back (a test resetting its fake clock) refills nothing rather than drains.
  const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
  bucket.tokens = Math.min(
    bucket.limit.burst,
    bucket.tokens + (elapsedMs / 1000) * bucket.limit.rate,
  );
  bucket.updatedMs = Math.max(bucket.updatedMs, nowMs);
}
