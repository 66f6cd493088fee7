/**
 * The limits the dashboard draws against: for each bucket the deployment's allowlist can reach,
 * the effective limit the limits catalog gives it (overrides and safety factor applied), as the
 * dispatcher will use it: every bucket the catalog lists for each allowlisted operation
 * (`bucketsOf`: request, `:unfiltered` and `:resource` buckets). Only exact operation names can
 * be looked up; `Describe*` patterns reach buckets nobody can enumerate, and show only in the
 * all-buckets graph.
 */
import type { DeploymentConfig } from '../../shared/config/deployment.js';
import { createCatalog } from '../../shared/limits/catalog.js';

/** One effective limit of a bucket, and where it applies. */
export interface BucketLimitValue {
  readonly rate: number;
  readonly burst: number;
  /** `account region` pairs with this limit (`*` for "any region"). */
  readonly appliesTo: readonly string[];
}

/** A bucket of the allowlist with its effective limits (one per distinct value). */
export interface BucketLimits {
  readonly service: string;
  readonly bucket: string;
  readonly limits: readonly BucketLimitValue[];
}

/** Placeholder region for targets without `regions`: matches only region-independent overrides. */
const ANY_REGION = '*';

/** The buckets reachable by exact allowlisted operations, in allowlist order, with their limits. */
export function bucketLimits(config: DeploymentConfig): BucketLimits[] {
  const catalog = createCatalog(config.limits);
  const byBucket = new Map<
    string,
    { service: string; bucket: string; values: Map<string, BucketLimitValue> }
  >();
  for (const target of config.targets) {
    for (const region of target.regions ?? [ANY_REGION]) {
      for (const entry of target.allow) {
        for (const operation of entry.operations) {
          if (operation.endsWith('*')) continue;
          const buckets = catalog.bucketsOf(
            { account: target.account, region },
            { service: entry.service, operation },
          );
          for (const { ref, limit } of buckets) {
            const key = `${entry.service}\u0000${ref.bucket}`;
            const bucket = byBucket.get(key) ?? {
              service: entry.service,
              bucket: ref.bucket,
              values: new Map<string, BucketLimitValue>(),
            };
            byBucket.set(key, bucket);
            const valueKey = `${limit.rate}/${limit.burst}`;
            const where = `${target.account} ${region}`;
            const existing = bucket.values.get(valueKey);
            if (existing === undefined) {
              bucket.values.set(valueKey, { ...limit, appliesTo: [where] });
            } else if (!existing.appliesTo.includes(where)) {
              bucket.values.set(valueKey, {
                ...existing,
                appliesTo: [...existing.appliesTo, where],
              });
            }
          }
        }
      }
    }
  }
  return [...byBucket.values()].map(({ service, bucket, values }) => ({
    service,
    bucket,
    limits: [...values.values()],
  }));
}
