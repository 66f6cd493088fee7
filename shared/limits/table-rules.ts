/**
 * Limit rules from a table (see {@link ServiceLimits}): each operation takes one token from its
 * bucket, or from the default bucket. Service Quotas' built-in rules and every
 * operator-configured service use it.
 */
import { LimitsError } from './errors.js';
import type { BucketSpec, LimitRules, ServiceLimits } from './types.js';

/**
 * The rules of a table. The table must be valid (every bucket it names has a limit:
 * `validateLimitsConfig` checks operators' tables, unit tests the built-in ones); it is used as
 * given, so pass a frozen one.
 */
export function tableRules(table: ServiceLimits): LimitRules {
  const bucketOf = (operation: string): BucketSpec => {
    const bucket = ownValue(table.operations ?? {}, operation) ?? table.defaultBucket;
    const limit = ownValue(table.buckets, bucket);
    if (limit === undefined) throw new LimitsError(`bucket '${bucket}' has no limit`);
    return { bucket, limit };
  };
  return Object.freeze({
    needs: (operation: string) => [{ ...bucketOf(operation), cost: 1 }],
    bucketsOf: (operation: string) => [bucketOf(operation)],
  });
}

/** `record[key]` only for own keys, so an operation named `constructor` finds nothing. */
function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
