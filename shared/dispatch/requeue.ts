/**
 * Re-sending a request with an SQS delay, always to the scheduled queue, the one queue only the
 * dispatcher can write: as a reservation for its slot (`sluice-run-at`), or to come back for
 * admission (not admitted yet, throttled, failed for now). Its envelope carries its producer and
 * first receipt, which the dispatcher can believe there and nowhere else. SQS delays are whole
 * seconds up to 900 s; longer waits are chained through the envelope's not-before time.
 */
import { METRICS } from '../contract/metrics.js';
import type { BatchContext, Work } from './context.js';
import { envelopeAttributes, type ReservationEnvelope } from './envelope.js';

/** SQS's longest message delay (`DelaySeconds`). */
export const MAX_DELAY_SECONDS = 900;
/**
 * Admitted calls this close to their slot wait in-process instead of a 1 s-granular SQS delay.
 * It covers the early arrival below plus SQS's one-second delay granularity.
 */
export const RUN_IN_PROCESS_MS = 2_000;
/**
 * A reservation's message is delayed to arrive this much (up to a second more) before its slot
 * and waits out the rest in-process: a call that runs late lets the provider's bucket sit full
 * and lose refill, and the calls after it then meet an empty one.
 */
export const RESERVATION_LEAD_MS = 500;

/**
 * The delay for a message that should be handled at `waitMs` from now: a reservation arrives
 * early (and waits in-process), anything else at or after its time; at most
 * {@link MAX_DELAY_SECONDS}.
 */
export function delaySecondsFor(waitMs: number, reservation: boolean): number {
  const seconds = reservation
    ? Math.max(0, Math.floor((waitMs - RESERVATION_LEAD_MS) / 1_000))
    : Math.ceil(waitMs / 1_000);
  return Math.min(MAX_DELAY_SECONDS, seconds);
}

/**
 * A reservation on a bucket running below its configured rate checks in at least this often: when
 * the rate recovers its slot moves earlier, and a message sitting in SQS until its old slot could
 * not follow.
 */
export const SLOWED_HOP_MS = 10_000;

/** A reservation to re-send: where it stands, and whether a bucket of it is slowed. */
export interface Reserved extends ReservationEnvelope {
  readonly slowed?: boolean;
}

/**
 * Re-sends the request to the scheduled queue, delayed until `atMs` (waits past 900 s are
 * chained): a reservation (arriving a little before its slot, or within {@link SLOWED_HOP_MS}
 * when a bucket is slowed), a follower of an identical read (`follows`: its waits so far), or,
 * without either, to go through admission again.
 */
export function requeue(
  ctx: BatchContext,
  work: Work,
  atMs: number,
  reservation?: Reserved,
  follows?: number,
): void {
  const waitMs = Math.max(0, atMs - ctx.clock());
  const hop = reservation?.slowed === true && waitMs > SLOWED_HOP_MS + RUN_IN_PROCESS_MS;
  const delaySeconds = hop
    ? Math.floor(SLOWED_HOP_MS / 1_000)
    : delaySecondsFor(waitMs, reservation !== undefined);
  const attributes = envelopeAttributes({
    producer: work.producer,
    firstSeenMs: work.firstSeenMs,
    ...(reservation === undefined
      ? {}
      : {
          reservation: {
            runAtMs: reservation.runAtMs,
            positions: reservation.positions,
            epochs: reservation.epochs,
          },
        }),
    ...(waitMs > MAX_DELAY_SECONDS * 1_000 ? { notBeforeMs: atMs } : {}),
    ...(follows === undefined ? {} : { follows }),
  });
  // A read it leads stays its own until it is back (identical requests keep waiting for it).
  if (work.share !== undefined) ctx.holdRead(work, atMs);
  const service = { Service: work.request.call.service };
  ctx.telemetry.count(METRICS.Requeued, 1, service);
  ctx.telemetry.count(METRICS.RequeueDelaySeconds, delaySeconds, service);
  ctx.send(work.message, {
    queueUrl: ctx.scheduledQueueUrl,
    body: work.message.body,
    delaySeconds,
    attributes,
  });
}
