/**
 * Requests at the size limits, through the local stack (fauxqs enforces SQS's 1 MiB): the
 * largest accepted request is re-sent with its envelope and dead-lettered with its reason; one
 * SQS would take but Sluice could not re-send is rejected on receipt.
 */
import { type MessageAttributeValue, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES } from '../../shared/contract/sizes.js';
import { ACCOUNT, startDispatchStack } from '../support/dispatch-stack.js';

type Stack = Awaited<ReturnType<typeof startDispatchStack>>;

/**
 * A DescribeImages request whose body is exactly `bytes` long, padded in a filter value. Its id is
 * in a filter too: identical reads would share one call (shared reads), and each must run.
 */
function bodyOfBytes(id: string, bytes: number, extra: Record<string, unknown> = {}): string {
  const request = (pad: string) => ({
    v: 1,
    id,
    target: { account: ACCOUNT, region: 'us-east-1' },
    call: {
      service: 'ec2',
      operation: 'DescribeImages',
      input: {
        Filters: [
          { Name: 'tag:id', Values: [id] },
          { Name: 'tag:pad', Values: [pad] },
        ],
      },
    },
    ...extra,
  });
  const base = Buffer.byteLength(JSON.stringify(request('')), 'utf8');
  return JSON.stringify(request('x'.repeat(bytes - base)));
}

/** The ten message attributes SQS allows a producer (each counts against the 1 MiB). */
const TEN_ATTRIBUTES: Record<string, MessageAttributeValue> = Object.fromEntries(
  Array.from({ length: 10 }, (_, i) => [
    `producer-${i}`,
    { DataType: 'String', StringValue: `v${i}` },
  ]),
);

describe('requests at the size limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({
      // One DescribeImages call at a time: the second of two becomes a reservation, re-sent
      // through the scheduled queue with its envelope.
      config: {
        limits: { overrides: [{ service: 'ec2', bucket: 'DescribeImages', rate: 1, burst: 1 }] },
      },
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  const send = (body: string, attributes?: Record<string, MessageAttributeValue>) =>
    stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.normal,
        MessageBody: body,
        ...(attributes ? { MessageAttributes: attributes } : {}),
      }),
    );

  it('re-sends the largest request as a reservation with its envelope, and runs it', async () => {
    await send(bodyOfBytes('largest-1', MAX_REQUEST_BYTES));
    await send(bodyOfBytes('largest-2', MAX_REQUEST_BYTES));

    const results = await Promise.all(
      ['largest-1', 'largest-2'].map((id) =>
        stack.client.waitForResult(id, { timeoutMs: 30_000, pollMs: 200 }),
      ),
    );

    expect(results.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'DescribeImages').executed).toBe(2);
  });

  it('dead-letters the largest request with ten attributes of its own: body and Sluice attributes only', async () => {
    const body = bodyOfBytes('largest-late', MAX_REQUEST_BYTES, {
      deadline: '2020-01-01T00:00:00Z',
    });
    await send(body, TEN_ATTRIBUTES);

    const result = await stack.client.waitForResult('largest-late', {
      timeoutMs: 30_000,
      pollMs: 200,
    });
    const dead = await stack.drain(stack.env.dlqUrl, 1);

    expect(result).toMatchObject({ status: 'failed', error: { code: 'DeadlineExceeded' } });
    expect(dead).toHaveLength(1);
    expect(dead[0]?.body).toBe(body);
    expect(dead[0]?.attributes).toEqual({
      'sluice-producer': 'default',
      'sluice-first-seen': expect.stringMatching(/^\d{13}$/),
      'sluice-reason': 'DeadlineExceeded',
    });
  });

  it('rejects on receipt a body SQS takes but Sluice could not re-send with its envelope', async () => {
    await send(bodyOfBytes('too-large-to-resend', MAX_MESSAGE_BYTES - 100));

    const result = await stack.client.waitForResult('too-large-to-resend', {
      timeoutMs: 30_000,
      pollMs: 200,
    });

    expect(result).toMatchObject({
      status: 'rejected',
      error: { problems: [{ field: '(body)', rule: 'max-size' }] },
    });
  });
});
