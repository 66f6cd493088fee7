/**
 * The contract's size limits against the platform's: every request accepted can be re-sent and
 * dead-lettered with Sluice's envelope within SQS's 1 MiB and 10 attributes.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { messageBytes, stringAttributes } from '../../../shared/aws/sqs-batches.js';
import type { SluiceRequest } from '../../../shared/contract/request.js';
import { succeededResult } from '../../../shared/contract/result.js';
import {
  DYNAMODB_MAX_ITEM_BYTES,
  MAX_INLINE_OUTPUT_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_REQUEST_BYTES,
  SNS_MAX_MESSAGE_BYTES,
} from '../../../shared/contract/sizes.js';
import { deadLetterAttributes, envelopeAttributes } from '../../../shared/dispatch/envelope.js';
import { replyMessage } from '../../../shared/dispatch/replies.js';
import { encodeRequestItem } from '../../../shared/requests/record.js';

/** The largest numbers an envelope carries: epoch ms and µs, sequence numbers, epochs. */
const BIG = Number.MAX_SAFE_INTEGER;

describe('a request of the largest size', () => {
  const body = 'x'.repeat(MAX_REQUEST_BYTES);

  it('fits one SQS message with the largest envelope of a re-sent reservation', () => {
    const attributes = envelopeAttributes({
      producer: 'p'.repeat(32),
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

  it('fits one SQS message as a dead letter with the longest reason, in three attributes', () => {
    const attributes = deadLetterAttributes('r'.repeat(100_000), {
      producer: 'p'.repeat(32),
      firstSeenMs: BIG,
    });

    expect(Object.keys(attributes)).toEqual([
      'sluice-producer',
      'sluice-first-seen',
      'sluice-reason',
    ]);
    expect(messageBytes(body, stringAttributes(attributes))).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });
});

describe('a result with the largest inline output', () => {
  const id = 'i'.repeat(128);
  const output = { Pad: 'x'.repeat(MAX_INLINE_OUTPUT_BYTES - 10) };
  const result = succeededResult(id, 100, output, {
    receivedAt: BIG,
    startedAt: BIG,
    finishedAt: BIG,
  });
  const request: SluiceRequest = {
    v: 1,
    id,
    target: { account: '111111111111', region: 'ap-southeast-2' },
    call: { service: 's'.repeat(64), operation: 'O'.repeat(128), input: {} },
  };

  it('holds exactly MAX_INLINE_OUTPUT_BYTES of output', () => {
    expect(Buffer.byteLength(JSON.stringify(output))).toBe(MAX_INLINE_OUTPUT_BYTES);
  });

  it('fits an SNS notification with the reply attributes, the longest names included', () => {
    const reply = replyMessage(
      'arn:aws:sns:us-east-1:111111111111:t',
      request,
      result,
      'p'.repeat(256),
    );

    expect(messageBytes(reply.body, stringAttributes(reply.attributes))).toBeLessThanOrEqual(
      SNS_MAX_MESSAGE_BYTES,
    );
  });

  it('fits a DynamoDB item, attribute names and values together', () => {
    const item: Record<string, AttributeValue> = {
      ...encodeRequestItem(id, { status: 'finished', attempts: 100, result }),
      // What the store writes besides: times and expiry, and a 64-character lease owner.
      receivedAt: { N: String(BIG) },
      updatedAt: { N: String(BIG) },
      expiresAt: { N: String(BIG) },
      leaseOwner: { S: 'o'.repeat(64) },
    };
    const bytes = Object.entries(item).reduce(
      (sum, [name, value]) =>
        sum + Buffer.byteLength(name) + Buffer.byteLength(value.S ?? value.N ?? ''),
      0,
    );

    expect(bytes).toBeLessThanOrEqual(DYNAMODB_MAX_ITEM_BYTES);
  });
});
