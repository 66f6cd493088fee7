/**
 * Groups a batch of requests by the set of buckets they draw on, so each group is admitted with
 * one conditional write per bucket (DESIGN.md, "one conditional write per bucket group").
 */
import type { BucketDraw } from '../limits/types.js';
import { bucketKey } from '../storage/tables.js';
import type { GroupBucket } from './bucket-store.js';

/** Requests of a batch that draw on the same buckets, in their batch order. */
export interface BucketGroup {
  /** The buckets, in the order the catalog names them (request bucket before resource bucket). */
  readonly buckets: readonly GroupBucket[];
  /** Positions of the members in the batch. */
  readonly members: readonly number[];
  /** Per member, the tokens it takes from each bucket (aligned with `buckets`). */
  readonly costs: readonly (readonly number[])[];
}

/**
 * Splits a batch (one list of draws per request) into bucket groups. Requests keep their
 * relative order inside a group, so a caller that sorts the batch by priority first admits
 * higher priorities first.
 */
export function groupByBuckets(batch: readonly (readonly BucketDraw[])[]): BucketGroup[] {
  const groups = new Map<
    string,
    { buckets: GroupBucket[]; members: number[]; costs: number[][] }
  >();
  batch.forEach((draws, position) => {
    const key = draws.map((d) => bucketKey(d.ref)).join('|');
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        buckets: draws.map((d) => ({ ref: d.ref, limit: d.limit })),
        members: [],
        costs: [],
      };
      groups.set(key, group);
    }
    group.members.push(position);
    group.costs.push(draws.map((d) => d.cost));
  });
  return [...groups.values()];
}
