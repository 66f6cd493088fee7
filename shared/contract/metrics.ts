/**
 * CloudWatch metric names, defined once so that the code that emits a metric and the dashboards
 * and alarms that read it (infra/) cannot drift apart.
 *
 * Dimensions must have few values. Every distinct combination of dimension values is a separate
 * custom metric, billed and listed on its own: never use a request `id` or an account id as a
 * dimension. Account ids, request ids and tags belong in structured log fields only. For the same
 * reason `Bucket` is the bucket's name within its service (`mutating`, `RunInstances`), never
 * the full bucket key, which contains the account.
 */

/** The CloudWatch namespace all Sluice metrics are published under. */
export const METRIC_NAMESPACE = 'Sluice';

/** Metric names. Each entry says what one data point means and which dimensions it carries. */
export const METRICS = {
  /** Calls admitted by a bucket (one per call, per bucket drawn on). Service, Bucket, Region. */
  AdmittedCalls: 'AdmittedCalls',
  /** Calls a bucket could not admit yet and that were deferred. Service, Bucket, Region. */
  NotAdmitted: 'NotAdmitted',
  /** Conditional writes to the buckets table, to compare with AdmittedCalls. Service, Region. */
  AdmissionWrites: 'AdmissionWrites',
  /** Calls the provider throttled although Sluice admitted them. Service, Bucket, Region. */
  ProviderThrottles: 'ProviderThrottles',
  /** Messages re-sent to the queue with a delay (reservation, throttle or back-off). Service. */
  Requeued: 'Requeued',
  /** The delay a re-sent message was given, in seconds. Service. */
  RequeueDelaySeconds: 'RequeueDelaySeconds',
  /** Requests that ended, by how they ended. Service, Status. */
  Results: 'Results',
  /** Wall time of one call to the provider, in milliseconds. Service, Region. */
  CallDurationMs: 'CallDurationMs',
  /** Messages rejected for breaking the contract (no Service: it may be the invalid part). */
  Rejected: 'Rejected',
  /**
   * A bucket's learned rate as a percentage of its configured one (100: not slowed), one data
   * point per admission write. Service, Bucket, Region.
   */
  EffectiveRatePercent: 'EffectiveRatePercent',
  /** From first receipt to the call leaving, ms, per priority level. Service, Priority. */
  WaitTimeMs: 'WaitTimeMs',
  /**
   * Requests finished with the output of an identical read's call (single-flight): no call and
   * no token of their own. Service.
   */
  CoalescedCalls: 'CoalescedCalls',
  /** Requests finished with a cached output of an identical read: no call, no token. Service. */
  CachedCalls: 'CachedCalls',
} as const;

/** A Sluice metric name. */
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** The CloudWatch unit of each metric, for embedded metric format and alarms. */
export const METRIC_UNITS = {
  AdmittedCalls: 'Count',
  NotAdmitted: 'Count',
  AdmissionWrites: 'Count',
  ProviderThrottles: 'Count',
  Requeued: 'Count',
  RequeueDelaySeconds: 'Seconds',
  Results: 'Count',
  CallDurationMs: 'Milliseconds',
  Rejected: 'Count',
  EffectiveRatePercent: 'Percent',
  WaitTimeMs: 'Milliseconds',
  CoalescedCalls: 'Count',
  CachedCalls: 'Count',
} as const satisfies Record<MetricName, 'Count' | 'Seconds' | 'Milliseconds' | 'Percent'>;

/**
 * Dimension names. All have bounded values: SDK service ids, bucket names from the limits
 * catalog, result statuses, AWS regions. Never add one for request ids or account ids.
 */
export const DIMENSIONS = {
  /** SDK service id, e.g. `ec2`. */
  Service: 'Service',
  /** Bucket name within the service, e.g. `mutating`; never the full bucket key. */
  Bucket: 'Bucket',
  /** Result status: `succeeded`, `failed` or `rejected`. */
  Status: 'Status',
  /** AWS region the call runs in, e.g. `us-east-1`. */
  Region: 'Region',
  /** The request's priority level: `high`, `normal` or `low`. */
  Priority: 'Priority',
} as const;

/** A Sluice dimension name. */
export type DimensionName = (typeof DIMENSIONS)[keyof typeof DIMENSIONS];
