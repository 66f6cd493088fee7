/**
 * Reservations checking in before they run. A reservation carries the slot it was granted on
 * each bucket and the log position it has seen (./timeline.ts); since then, calls of a higher
 * level or a fairer flow may have cut in ahead of it, the bucket may have paused, or its rate may
 * have changed. Just before its slot, a batch of reservations *commits* on each bucket — one
 * conditional write per bucket, `frz = the latest slot` — and replays the log entries it had not
 * seen, all from the item that write returns. A slot that did not move is then safe to run: no
 * later change can land at or before the watermark. A slot that moved is checked in again nearer
 * its new time. A reservation whose entries were dropped from the log is *lost*: it goes through
 * admission again (its tokens are wasted, never doubled).
 */

import { bucketKey } from '../storage/tables.js';
import type { GroupBucket } from './admit-group.js';
import { type BucketContext, type RequestCounter, settle } from './bucket-context.js';
import type { BucketState } from './bucket-state.js';
import { US_PER_MS } from './gcra.js';
import { epochOfSlot } from './learned-rate.js';
import { recoverIfDue } from './rate-changes.js';
import { FIXED, replay, type TimelinePosition } from './timeline.js';

/** A reservation: its buckets, where it stands on each, and each one's learned-rate epoch. */
export interface Reservation {
  readonly buckets: readonly GroupBucket[];
  readonly positions: readonly TimelinePosition[];
  readonly epochs: readonly number[];
}

/** Where a reservation stands after checking in. */
export type CheckIn =
  | {
      /** Committed (or, for a peek, unchanged): it runs at `runAtMs`. */
      readonly kind: 'unchanged';
      readonly runAtMs: number;
      readonly positions: readonly TimelinePosition[];
      /** Each bucket's epoch now (`epochOfSlot`): the one a throttle of the call reports. */
      readonly epochs: readonly number[];
      /** Each bucket's learned rate as the check-in found it (1: not slowed). */
      readonly fractions: readonly number[];
      /** Some bucket runs below its configured rate (check in again before a long wait). */
      readonly slowed: boolean;
    }
  | {
      /** Its slot moved: wait and check in again. */
      readonly kind: 'moved';
      readonly runAtMs: number;
      readonly positions: readonly TimelinePosition[];
      readonly epochs: readonly number[];
      readonly fractions: readonly number[];
      readonly slowed: boolean;
    }
  | { readonly kind: 'lost' };

/**
 * Commits `reservations` (all due soon) on their buckets and replays what changed: one write per
 * bucket for the whole batch. With `commit` false, only reads (a reservation checking in long
 * before its slot, to follow a rate change): nothing is committed and nothing is safe yet.
 */
export async function checkIn(
  context: BucketContext,
  reservations: readonly Reservation[],
  commit: boolean,
  counter: RequestCounter,
): Promise<CheckIn[]> {
  const latest = new Map<string, number>();
  for (const r of reservations) {
    r.buckets.forEach((bucket, b) => {
      const position = r.positions[b] as TimelinePosition;
      if (position.seq === FIXED) return; // nothing can move it: no write, nothing to replay
      const key = bucketKey(bucket.ref);
      latest.set(key, Math.max(latest.get(key) ?? 0, position.slotUs));
    });
  }
  const states = new Map<string, BucketState>();
  await Promise.all(
    [...latest].map(async ([key, slotUs]) => {
      let state: BucketState;
      if (commit) {
        counter.writes++;
        state = await settle(context, key, await context.items.commit(key, slotUs), counter);
      } else {
        counter.reads++;
        state = await context.items.read(key);
        context.known.set(key, state);
      }
      states.set(key, state);
    }),
  );
  if (commit) {
    // A slowed bucket recovers as its calls run, not only when new calls arrive: a backlog
    // admitted long ago must speed up too. After the commit, the change lands after every slot
    // of this batch (they are frozen), so it moves none of them; later ones see it when they
    // check in.
    const slowed = new Map<string, GroupBucket>();
    for (const r of reservations)
      for (const bucket of r.buckets) {
        const key = bucketKey(bucket.ref);
        if ((states.get(key)?.rate.fraction ?? 1) < 1) slowed.set(key, bucket);
      }
    await Promise.all([...slowed.values()].map((bucket) => recoverIfDue(context, bucket, counter)));
  }
  return reservations.map((r) => {
    const positions: TimelinePosition[] = [];
    const epochs: number[] = [];
    const fractions: number[] = [];
    let moved = false;
    let slowed = false;
    for (let b = 0; b < r.buckets.length; b++) {
      const before = r.positions[b] as TimelinePosition;
      const granted = r.epochs[b] ?? 0;
      const state = states.get(bucketKey((r.buckets[b] as GroupBucket).ref));
      if (before.seq === FIXED || state === undefined) {
        positions.push(before);
        epochs.push(granted);
        fractions.push(state?.rate.fraction ?? 1);
        continue;
      }
      const now = replay(before, state.log, state.headSeq, state.fold);
      if (now === undefined) return { kind: 'lost' } as const;
      if (now.slotUs !== before.slotUs) moved = true;
      if (state.rate.fraction < 1) slowed = true;
      positions.push(now);
      // Replayed to the present: spaced at the rate in force, unless committed before it came.
      epochs.push(epochOfSlot(state.rate, now.slotUs, granted));
      fractions.push(state.rate.fraction);
    }
    const runAtMs = Math.ceil(Math.max(...positions.map((p) => p.slotUs)) / US_PER_MS);
    return { kind: moved ? 'moved' : 'unchanged', runAtMs, positions, epochs, fractions, slowed };
  });
}
