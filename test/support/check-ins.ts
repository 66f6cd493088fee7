/**
 * A bucket store's check-in answer for tests in which nothing moves a slot: every reservation
 * is `unchanged` and runs where admission put it.
 */
import type { BucketStore } from '../../shared/admission/bucket-store.js';

type CheckIn = Awaited<ReturnType<BucketStore['checkIn']>>;

/** Each reservation unchanged, at its latest slot; one write for a commit, one read otherwise. */
export function unchangedCheckIns(
  reservations: Parameters<BucketStore['checkIn']>[0],
  commit: boolean,
): CheckIn {
  return {
    results: reservations.map((r) => ({
      kind: 'unchanged' as const,
      runAtMs: Math.ceil(Math.max(...r.positions.map((p) => p.slotUs)) / 1_000),
      positions: r.positions,
      epochs: r.epochs,
      fractions: r.buckets.map(() => 1),
      slowed: false,
    })),
    requests: { writes: commit ? 1 : 0, reads: commit ? 0 : 1 },
  };
}
