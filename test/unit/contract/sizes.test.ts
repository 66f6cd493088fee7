/**
 * The contract's size limits against the platform's: every request accepted can be re-sent and
 * dead-lettered with Sluice's envelope within SQS's 1 MiB and 10 attributes.
 */
import { describe, expect, it } from 'vitest';
import { messageBytes, stringAttributes } from '../../../shared/aws/sqs-batches.js';
import { MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES } from '../../../shared/contract/sizes.js';
import { deadLetterAttributes, envelopeAttributes } from '../../../shared/dispatch/envelope.js';

/** The largest numbers an envelope carries: epoch ms and µs, sequence numbers, epochs. */
const BIG = Number.MAX_SAFE_INTEGER;

describe('a request of the largest size', () => {
  const body = 'x'.repeat(MAX_REQUEST_BYTES);

  it('fits one SQS message with the largest envelope of a re-sent reservation', () => {
    const attributes = envelopeAttributes({
      firstSeenMs: BIG,
      notBeforeMs: BIG,
      reservation: {
        runAtMs: BIG,
        // More buckets than any call draws on (EC2's draw on two).
        positions: Array.from({ length: 8 }, () => ({ slotUs: BIG, seq: BIG })),
        epochs: Array.from({ length: 8 }, () => BIG),
      },
    });

    expect(messageBytes(body, stringAttributes(attributes))).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it('fits one SQS message as a dead letter with the longest reason, in two attributes', () => {
    const attributes = deadLetterAttributes(BIG, 'r'.repeat(100_000));

    expect(Object.keys(attributes)).toEqual(['sluice-first-seen', 'sluice-reason']);
    expect(messageBytes(body, stringAttributes(attributes))).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });
});
