/**
 * The vocabulary of limits: what a bucket is, how fast it refills, and what a call costs.
 * Rates are tokens per second and may be fractional (EC2's `AdvertiseByoipCidr` refills 0.1/s).
 */

/** A token bucket's shape: `burst` tokens of capacity, refilled at `rate` tokens per second. */
export interface BucketLimit {
  /** Tokens added per second; > 0, fractional allowed. */
  readonly rate: number;
  /** Capacity: the most tokens that can be spent at once; ≥ 1. */
  readonly burst: number;
}

/** Which bucket: the provider keeps one per account, region, service and bucket name. */
export interface BucketRef {
  /** 12-digit AWS account id whose limits the call spends. */
  readonly account: string;
  /** Region the call runs in, e.g. `us-east-1`. */
  readonly region: string;
  /** Service id as used in the request contract, e.g. `ec2`, `service-quotas`. */
  readonly service: string;
  /** Bucket name within the service, e.g. `mutating`, `RunInstances`, `RunInstances:resource`. */
  readonly bucket: string;
}

/**
 * A bucket of one account and region, with the limit in force for it: the default, overridden
 * by the operator, times the safety factor.
 */
export interface EffectiveBucket {
  readonly ref: BucketRef;
  readonly limit: BucketLimit;
}

/** One bucket a call draws on, with the bucket's effective limit and the tokens the call takes. */
export interface BucketDraw extends EffectiveBucket {
  /** Tokens taken from this bucket by one call; a positive integer. */
  readonly cost: number;
}

/** A bucket as a service's rules name it, before it is tied to an account and region. */
export interface BucketSpec {
  /** Bucket name within the service, e.g. `RunInstances` or `RunInstances:resource`. */
  readonly bucket: string;
  /** The provider's default limit for this bucket. */
  readonly limit: BucketLimit;
}

/**
 * A bucket a call needs, before it is tied to an account and region: what a service's rules
 * say (bucket name, default limit, cost). The catalog adds the account and region, applies
 * operator overrides and the safety factor, and turns it into a {@link BucketDraw}.
 */
export interface BucketNeed extends BucketSpec {
  /** Tokens one call takes; a positive integer. */
  readonly cost: number;
}

/**
 * A service's throttling rules: which buckets its operations draw on, with the provider's
 * default limits. Every service of the registry has one; the catalog builds one for each
 * operator-configured service from its {@link ServiceLimits} table.
 */
export interface LimitRules {
  /**
   * The buckets one call draws on, request bucket first, with default limits and costs.
   * @throws {InvalidCostError} when a cost read from the input is missing or malformed.
   */
  needs(operation: string, input: Readonly<Record<string, unknown>>): readonly BucketNeed[];
  /**
   * Every bucket the operation can draw on, whatever its input, request bucket first: each
   * bucket of {@link LimitRules.needs}, for any input, is one of these, with the same limit.
   */
  bucketsOf(operation: string): readonly BucketSpec[];
}

/**
 * Table-driven limits for a service: named buckets, which operation draws on which bucket, and
 * the bucket every other operation draws on. Each call takes one token from one bucket.
 * Used for built-in services that need no more (Service Quotas) and for operator-configured ones.
 */
export interface ServiceLimits {
  /** Bucket for operations not listed in `operations`; must be a key of `buckets`. */
  readonly defaultBucket: string;
  /** Bucket name → limit. Names must not contain `#` (it separates the parts of a bucket key). */
  readonly buckets: Readonly<Record<string, BucketLimit>>;
  /** Operation name (case-sensitive, e.g. `SendMessage`) → bucket name, a key of `buckets`. */
  readonly operations?: Readonly<Record<string, string>>;
}
