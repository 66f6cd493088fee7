/**
 * Who sent a request: the one function every part of the dispatcher asks (today the result
 * messages' `producer` attribute and their FIFO deduplication id).
 *
 * Producers are not told apart yet: until their identity comes from something a message cannot
 * forge (the request queue it arrived on, DESIGN.md "Producers and trust"), every request is the
 * one producer {@link DEFAULT_PRODUCER}'s. The body is never asked: a producer would name itself.
 */
import type { IncomingMessage } from './envelope.js';

/** The producer of every request while producers are not told apart. */
export const DEFAULT_PRODUCER = 'default';

/** The producer that sent `message`. */
export function producerOf(_message: IncomingMessage): string {
  return DEFAULT_PRODUCER;
}
