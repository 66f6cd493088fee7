/**
 * Reservations checking in before they run (shared/admission/reservations.ts): since a
 * reservation was granted, calls of a higher priority or of a fairer flow may have cut in ahead
 * of it, the bucket may have paused, or its learned rate may have changed. Just before its slot
 * it commits on its buckets and replays what changed; it runs only on a slot that did not move.
 *
 * One coordinator per batch: the reservations whose slots fall close together commit with one
 * write per bucket. A reservation commits {@link COMMIT_LEAD_MS} before its slot, together with
 * every other one due within {@link COMMIT_WINDOW_MS} after it — so a cut-in never waits more
 * than the freeze margin for a committed slot. One whose slot moved waits and checks in again;
 * one that moved beyond a short in-process wait, or that arrived long before its slot (a hop of
 * a slowed bucket's reservation), goes back to the scheduled queue with its new place; one the
 * log no longer explains goes through admission again.
 */

import type { GroupBucket } from '../admission/admit-group.js';
import type { CheckIn, Reservation } from '../admission/bucket-store.js';
import { METRICS } from '../contract/metrics.js';
import { bucketKey } from '../storage/tables.js';
import type { BatchContext, Due } from './context.js';
import type { ReservationEnvelope } from './envelope.js';
import { RUN_IN_PROCESS_MS } from './requeue.js';

/** A reservation commits this long before its slot: the write's time, with room to spare. */
export const COMMIT_LEAD_MS = 150;
/** Reservations due within this much after the first commit with it. */
export const COMMIT_WINDOW_MS = 200;

/** What a reservation does after checking in. */
export type Settled =
  /** Run at `runAtMs` (committed); a throttle reports `epochs`. */
  | { readonly kind: 'run'; readonly runAtMs: number; readonly epochs: readonly number[] }
  /** Wait on the scheduled queue: the slot moved far, or it is still far off. */
  | { readonly kind: 'wait'; readonly reservation: ReservationEnvelope; readonly slowed: boolean }
  /** The log no longer explains it: admit it again. */
  | { readonly kind: 'readmit' };

interface Pending {
  readonly due: Due;
  readonly buckets: readonly GroupBucket[];
  reservation: ReservationEnvelope;
  readonly settle: (settled: Settled) => void;
  readonly fail: (error: unknown) => void;
}

/** The check-ins of one batch. */
export class CheckIns {
  readonly #ctx: () => BatchContext;
  readonly #pending = new Set<Pending>();
  #running: Promise<void> | undefined;

  /** @param ctx the batch's context (read lazily: the context holds this coordinator). */
  constructor(ctx: () => BatchContext) {
    this.#ctx = ctx;
  }

  /** Checks `due` in (it must carry a reservation); resolves when it knows what to do. */
  settle(due: Due): Promise<Settled> {
    const reservation = due.reservation;
    if (reservation === undefined)
      return Promise.resolve({ kind: 'run', runAtMs: due.runAtMs, epochs: due.epochs });
    const buckets = due.work.draws.map((d) => ({ ref: d.ref, limit: d.limit }));
    return new Promise<Settled>((settle, fail) => {
      this.#pending.add({ due, buckets, reservation, settle, fail });
      this.#running ??= this.#loop().finally(() => {
        this.#running = undefined;
      });
    });
  }

  async #loop(): Promise<void> {
    const ctx = this.#ctx();
    // Let every reservation of the batch register before the first write.
    await ctx.sleep(0);
    while (this.#pending.size > 0) {
      const now = ctx.clock();
      const far = [...this.#pending].filter((p) => p.reservation.runAtMs - now > RUN_IN_PROCESS_MS);
      if (far.length > 0) {
        // Far from its slot: follow what changed (a read), and wait on the queue again.
        await this.#checkIn(ctx, far, false);
        continue;
      }
      const next = Math.min(...[...this.#pending].map((p) => p.reservation.runAtMs));
      const wait = next - COMMIT_LEAD_MS - ctx.clock();
      if (wait > 0) await ctx.sleep(wait);
      const until = next + COMMIT_WINDOW_MS;
      await this.#checkIn(
        ctx,
        [...this.#pending].filter((p) => p.reservation.runAtMs <= until),
        true,
      );
    }
  }

  async #checkIn(ctx: BatchContext, group: Pending[], commit: boolean): Promise<void> {
    const reservations: Reservation[] = group.map((p) => ({
      buckets: p.buckets,
      positions: p.reservation.positions,
      epochs: p.reservation.epochs,
    }));
    let results: Awaited<ReturnType<BatchContext['buckets']['checkIn']>>['results'];
    try {
      ({ results } = await ctx.buckets.checkIn(reservations, commit));
    } catch (error) {
      for (const p of group) {
        this.#pending.delete(p);
        p.fail(error);
      }
      return;
    }
    if (commit) reportRates(ctx, group, results);
    group.forEach((p, i) => {
      const result = results[i];
      if (result === undefined || result.kind === 'lost') {
        this.#done(p, { kind: 'readmit' });
        return;
      }
      p.reservation = {
        runAtMs: result.runAtMs,
        positions: result.positions,
        epochs: result.epochs,
      };
      const farOff = result.runAtMs - ctx.clock() > RUN_IN_PROCESS_MS;
      if (commit && result.kind === 'unchanged') {
        this.#done(p, { kind: 'run', runAtMs: result.runAtMs, epochs: result.epochs });
      } else if (farOff) {
        this.#done(p, { kind: 'wait', reservation: p.reservation, slowed: result.slowed });
      }
      // Close to its (maybe moved) slot: it stays pending and commits nearer the slot.
    });
  }

  #done(pending: Pending, settled: Settled): void {
    this.#pending.delete(pending);
    pending.settle(settled);
  }
}

/**
 * The learned rate of each request bucket the commit found, once per bucket: the dashboard's
 * effective rate follows a slowed bucket as its backlog runs, not only when new calls arrive.
 */
function reportRates(
  ctx: BatchContext,
  group: readonly Pending[],
  results: readonly CheckIn[],
): void {
  const seen = new Set<string>();
  group.forEach((p, i) => {
    const result = results[i];
    const draw = p.due.work.draws[0];
    if (result === undefined || result.kind === 'lost' || draw === undefined) return;
    const key = bucketKey(draw.ref);
    if (seen.has(key)) return;
    seen.add(key);
    ctx.telemetry.count(
      METRICS.EffectiveRatePercent,
      Math.round((result.fractions[0] ?? 1) * 100),
      { Service: draw.ref.service, Bucket: draw.ref.bucket, Region: draw.ref.region },
    );
  });
}
