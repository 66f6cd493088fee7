/**
 * The messages the dispatcher reads, and the envelope it puts on those it re-sends: `sluice-*`
 * string message attributes, named and read here only. They steer the dispatcher, so they are
 * trusted only where only the dispatcher writes (DESIGN.md, "Producers and trust"): the
 * reservation only on the scheduled queue; first-seen and not-before only ever delay a request.
 */
import type { TimelinePosition } from '../admission/timeline.js';

/** A message as received from a request queue (Lambda's SQS record, or the local poller's). */
export interface IncomingMessage {
  readonly messageId: string;
  readonly body: string;
  /** String message attributes (Sluice's envelope on re-sent messages). */
  readonly attributes: Readonly<Record<string, string>>;
  /** When the message was first sent (SQS `SentTimestamp`), epoch ms. */
  readonly sentAtMs: number;
  /** Name of the queue it came from (the event source ARN's last part), if known. */
  readonly queueName?: string;
}

/** Message attributes Sluice puts on the messages it re-sends. */
export const ENVELOPE = {
  /**
   * A reservation: the slot (epoch ms) this message was admitted for; it runs on arrival.
   * Honoured only on the scheduled queue, which producers cannot send to.
   */
  runAt: 'sluice-run-at',
  /** A wait longer than SQS's 900 s delay: re-send again until this time (epoch ms). */
  notBefore: 'sluice-not-before',
  /** When the request was first received (epoch ms): the start of its longest wait. */
  firstSeen: 'sluice-first-seen',
  /**
   * A reservation's place on each bucket's timeline (shared/admission/timeline.ts), in the order
   * of the call's buckets: `slotUs:seq:epoch`, comma-separated. With `sluice-run-at`, and trusted
   * only where it is.
   */
  timeline: 'sluice-timeline',
  /** On dead letters and replies: why. */
  reason: 'sluice-reason',
} as const;

/** A reservation: its slot, and where it stands on each of its buckets' timelines. */
export interface ReservationEnvelope {
  readonly runAtMs: number;
  readonly positions: readonly TimelinePosition[];
  /** Each bucket's learned-rate epoch when the call was admitted (a throttle report names it). */
  readonly epochs: readonly number[];
}

/** The envelope a re-sent request carries. */
export interface Envelope {
  readonly firstSeenMs: number;
  /** The reservation, for a message to the scheduled queue. */
  readonly reservation?: ReservationEnvelope;
  /** The end of a wait that is chained past SQS's longest delay. */
  readonly notBeforeMs?: number;
}

/** The longest a dead letter's reason may be (an SQS attribute value is at most 256 KiB). */
const MAX_REASON_CHARS = 1_000;

/**
 * When the request was first received: the envelope's time, else when SQS got the message
 * (a fresh request), else `nowMs`.
 */
export function firstSeenOf(message: IncomingMessage, nowMs: number): number {
  return Number(message.attributes[ENVELOPE.firstSeen]) || message.sentAtMs || nowMs;
}

/** Whether the message claims to be a reservation (whether to honour it is the caller's call). */
export function claimsReservation(message: IncomingMessage): boolean {
  return message.attributes[ENVELOPE.runAt] !== undefined;
}

/**
 * The reservation a message carries, if it is well formed: a slot, and one position and epoch per
 * bucket of the call (`buckets`). Anything else is no reservation (the caller admits it again).
 */
export function reservationOf(
  message: IncomingMessage,
  buckets: number,
): ReservationEnvelope | undefined {
  const runAtMs = Number(message.attributes[ENVELOPE.runAt]);
  if (!(Number.isSafeInteger(runAtMs) && runAtMs > 0)) return undefined;
  const parts = (message.attributes[ENVELOPE.timeline] ?? '').split(',');
  if (parts.length !== buckets) return undefined;
  const positions: TimelinePosition[] = [];
  const epochs: number[] = [];
  for (const part of parts) {
    const numbers = part.split(':').map(Number);
    // A log position is ≥ 0, or −1 for a slot nothing can move (shared/admission/timeline.ts).
    if (numbers.length !== 3 || !numbers.every((n) => Number.isSafeInteger(n) && n >= -1)) {
      return undefined;
    }
    const [slotUs, seq, epoch] = numbers as [number, number, number];
    positions.push({ slotUs, seq });
    epochs.push(epoch);
  }
  return { runAtMs, positions, epochs };
}

/** The end of a chained wait, epoch ms, if the message carries one. */
export function notBeforeOf(message: IncomingMessage): number | undefined {
  const notBeforeMs = Number(message.attributes[ENVELOPE.notBefore]);
  return Number.isFinite(notBeforeMs) ? notBeforeMs : undefined;
}

/** The attributes of a re-sent request. */
export function envelopeAttributes(envelope: Envelope): Record<string, string> {
  const attributes: Record<string, string> = {
    [ENVELOPE.firstSeen]: String(envelope.firstSeenMs),
  };
  const { reservation } = envelope;
  if (reservation !== undefined) {
    attributes[ENVELOPE.runAt] = String(reservation.runAtMs);
    attributes[ENVELOPE.timeline] = reservation.positions
      .map((p, b) => `${p.slotUs}:${p.seq}:${reservation.epochs[b] ?? 0}`)
      .join(',');
  }
  if (envelope.notBeforeMs !== undefined)
    attributes[ENVELOPE.notBefore] = String(Math.ceil(envelope.notBeforeMs));
  return attributes;
}

/**
 * A dead letter's attributes: Sluice's own only — when the request was first received and why it
 * is dead. None of the message's attributes are copied: a producer's own count against SQS's 10
 * per message (and its size), and `sluice-*` ones on a request queue are a producer's word.
 */
export function deadLetterAttributes(firstSeenMs: number, reason: string): Record<string, string> {
  return {
    [ENVELOPE.firstSeen]: String(firstSeenMs),
    [ENVELOPE.reason]: reason.slice(0, MAX_REASON_CHARS),
  };
}
