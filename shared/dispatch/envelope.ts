/**
 * The messages the dispatcher reads, and the envelope it puts on those it re-sends: `sluice-*`
 * string message attributes, named and read here only. They steer the dispatcher, so they are
 * trusted only where only the dispatcher writes (DESIGN.md, "Producers and trust"): on the
 * scheduled queue, which a queue policy closes to everyone else. On a producer's request queue
 * every `sluice-*` attribute is ignored: the producer is the queue's, the first receipt is when SQS
 * says the message was sent, and nothing waits or skips admission on a producer's word. Even on
 * the scheduled queue the first receipt is bounded by SQS's own `SentTimestamp`.
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
  /** The producer whose request this is (its queue named it on first receipt). */
  producer: 'sluice-producer',
  /**
   * A reservation's place on each bucket's timeline (shared/admission/timeline.ts), in the order
   * of the call's buckets: `slotUs:seq:epoch:shiftUs`, comma-separated. With `sluice-run-at`, and
   * trusted only where it is.
   */
  timeline: 'sluice-timeline',
  /**
   * Times the request already waited for an identical read's call (its follower back-off,
   * shared/reads/shared-read.ts). Honoured only on the scheduled queue.
   */
  follows: 'sluice-follows',
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
  readonly producer: string;
  readonly firstSeenMs: number;
  /** The reservation, for a message to the scheduled queue. */
  readonly reservation?: ReservationEnvelope;
  /** The end of a wait that is chained past SQS's longest delay. */
  readonly notBeforeMs?: number;
  /** Times it waited for an identical read's call, for a follower re-sent to the scheduled queue. */
  readonly follows?: number;
}

/** The longest a dead letter's reason may be (an SQS attribute value is at most 256 KiB). */
const MAX_REASON_CHARS = 1_000;

/** What the dispatcher may believe about a message: whose it is, and how long it has waited. */
export interface TrustedEnvelope {
  readonly producer: string;
  /** When the request was first received, epoch ms: never later than SQS says it was sent. */
  readonly firstSeenMs: number;
  /**
   * The message came from the scheduled queue, where the dispatcher alone writes: its
   * reservation ({@link reservationOf}) may be believed.
   */
  readonly scheduled: boolean;
  /** The end of a chained wait (scheduled queue only). */
  readonly notBeforeMs?: number;
}

/** Where the queues belong: the scheduled queue's name, and each request queue's producer. */
export interface QueueOwnership {
  readonly scheduledQueueName: string;
  readonly producerQueues: ReadonlyMap<string, string>;
}

/**
 * The envelope of a message, by the queue it came from: on a request queue its producer is the
 * queue's and its first receipt SQS's `SentTimestamp` (`sluice-*` attributes ignored); on the
 * scheduled queue, the envelope the dispatcher wrote, its first receipt bounded by the message's
 * `SentTimestamp`. `undefined` for a message from any other queue, or one on the scheduled queue
 * without a producer: no producer can be named for it.
 */
export function trustedEnvelope(
  message: IncomingMessage,
  queues: QueueOwnership,
  nowMs: number,
): TrustedEnvelope | undefined {
  const sentAtMs = message.sentAtMs > 0 ? Math.min(message.sentAtMs, nowMs) : nowMs;
  const queue = message.queueName;
  if (queue === undefined) return undefined;
  const owner = queues.producerQueues.get(queue);
  if (owner !== undefined) return { producer: owner, firstSeenMs: sentAtMs, scheduled: false };
  if (queue !== queues.scheduledQueueName) return undefined;
  const producer = message.attributes[ENVELOPE.producer];
  if (producer === undefined || producer === '') return undefined;
  const firstSeen = Number(message.attributes[ENVELOPE.firstSeen]);
  const notBeforeMs = Number(message.attributes[ENVELOPE.notBefore]);
  return {
    producer,
    firstSeenMs:
      Number.isFinite(firstSeen) && firstSeen > 0 ? Math.min(firstSeen, sentAtMs) : sentAtMs,
    scheduled: true,
    ...(Number.isFinite(notBeforeMs) && notBeforeMs > 0 ? { notBeforeMs } : {}),
  };
}

/**
 * The reservation a message carries, if it is well formed: a slot, and one position and epoch per
 * bucket of the call (`buckets`). Anything else is no reservation (the caller admits it again).
 * Whether to believe it is the caller's call: only on the scheduled queue.
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
    // A log position is ≥ 0, or −1 for a slot nothing can move (shared/admission/timeline.ts);
    // the shift count is absent where it is not known.
    if (
      (numbers.length !== 3 && numbers.length !== 4) ||
      !numbers.every((n) => Number.isSafeInteger(n) && n >= -1)
    ) {
      return undefined;
    }
    const [slotUs, seq, epoch, shiftUs] = numbers as [number, number, number, number?];
    positions.push(shiftUs === undefined ? { slotUs, seq } : { slotUs, seq, shiftUs });
    epochs.push(epoch);
  }
  return { runAtMs, positions, epochs };
}

/**
 * Times the request already waited for an identical read's call (0 when it never did). Whether to
 * believe it is the caller's call: only on the scheduled queue.
 */
export function followsOf(message: IncomingMessage): number {
  const follows = Number(message.attributes[ENVELOPE.follows]);
  return Number.isSafeInteger(follows) && follows > 0 ? follows : 0;
}

const ENVELOPE_NAMES: ReadonlySet<string> = new Set(Object.values(ENVELOPE));

/** The envelope attributes a message carries (on a request queue: a producer's attempt). */
export function envelopeAttributeNames(message: IncomingMessage): string[] {
  return Object.keys(message.attributes).filter((name) => ENVELOPE_NAMES.has(name));
}

/** The attributes of a re-sent request. */
export function envelopeAttributes(envelope: Envelope): Record<string, string> {
  const attributes: Record<string, string> = {
    [ENVELOPE.producer]: envelope.producer,
    [ENVELOPE.firstSeen]: String(envelope.firstSeenMs),
  };
  const { reservation } = envelope;
  if (reservation !== undefined) {
    attributes[ENVELOPE.runAt] = String(reservation.runAtMs);
    attributes[ENVELOPE.timeline] = reservation.positions
      .map((p, b) => {
        const place = `${p.slotUs}:${p.seq}:${reservation.epochs[b] ?? 0}`;
        return p.shiftUs === undefined ? place : `${place}:${p.shiftUs}`;
      })
      .join(',');
  }
  if (envelope.notBeforeMs !== undefined)
    attributes[ENVELOPE.notBefore] = String(Math.ceil(envelope.notBeforeMs));
  if (envelope.follows !== undefined) attributes[ENVELOPE.follows] = String(envelope.follows);
  return attributes;
}

/**
 * A dead letter's attributes: Sluice's own only — why it is dead, and, when known, whose it is
 * and when it was first received. None of the message's attributes are copied: a producer's own
 * count against SQS's 10 per message (and its size), and `sluice-*` ones on a request queue are a
 * producer's word, of any length.
 */
export function deadLetterAttributes(
  reason: string,
  known: { readonly producer?: string; readonly firstSeenMs?: number } = {},
): Record<string, string> {
  return {
    ...(known.producer === undefined ? {} : { [ENVELOPE.producer]: known.producer }),
    ...(known.firstSeenMs === undefined ? {} : { [ENVELOPE.firstSeen]: String(known.firstSeenMs) }),
    [ENVELOPE.reason]: reason.slice(0, MAX_REASON_CHARS),
  };
}
