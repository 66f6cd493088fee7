/**
 * Results pushed, end to end on the local stack: to an SNS topic (fauxqs's SNS) whose subscribed
 * SQS queues receive them — raw or in SNS's envelope, filtered by the reply's attributes — to a
 * queue in another region (a client of that region), and to a FIFO queue (group and
 * deduplication id: a result re-sent for a duplicate request arrives once).
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeQueue } from '../../local/emulators/sns.js';
import { sqsClient } from '../../local/emulators/sqs.js';
import { LOCAL_ACCOUNT, type LocalStack, startLocalStack } from '../../local/stack.js';
import type { SluiceRequest } from '../../shared/contract/request.js';

const OTHER_REGION = 'eu-west-1';
const WAIT = { timeoutMs: 30_000, pollMs: 200 };

function request(id: string, replyTo: string, operation = 'DescribeInstances'): SluiceRequest {
  return {
    v: 1,
    id,
    target: { account: LOCAL_ACCOUNT, region: 'us-east-1' },
    call: { service: 'ec2', operation, input: {} },
    replyTo,
  };
}

/** Creates a queue (with a client of `region`) and returns its URL and ARN. */
async function createQueue(endpoint: string, name: string, region?: string, fifo = false) {
  const client = sqsClient(endpoint, region === undefined ? {} : { region });
  try {
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({
        QueueName: name,
        ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}),
      }),
    );
    const attributes = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    return { url: QueueUrl as string, arn: attributes.Attributes?.QueueArn as string };
  } finally {
    client.destroy();
  }
}

describe('replies to topics and queues', () => {
  let stack: LocalStack;
  let otherRegionQueue: string;
  let fifoQueue: string;
  let envelopeQueue: { url: string; arn: string };
  let failedOnlyQueue: { url: string; arn: string };
  /** Every destination the dispatcher handed a reply to, in order. */
  const repliedTo: string[] = [];

  beforeAll(async () => {
    stack = await startLocalStack({
      replyDestinations: async (endpoint) => {
        [otherRegionQueue, fifoQueue] = await Promise.all([
          createQueue(endpoint, 'results-elsewhere', OTHER_REGION).then((q) => q.url),
          createQueue(endpoint, 'results.fifo', undefined, true).then((q) => q.url),
        ]);
        return [otherRegionQueue, fifoQueue];
      },
      overrides: (built) => ({
        replies: {
          sendAll: (replies) => {
            repliedTo.push(...replies.map((r) => r.destination));
            return built.replies.sendAll(replies);
          },
        },
      }),
    });
    // Two subscribers: one takes every result in SNS's JSON envelope, the other only failed
    // results, delivered raw (the result itself, attributes as SQS message attributes).
    [envelopeQueue, failedOnlyQueue] = await Promise.all([
      createQueue(stack.sqsEndpoint, 'topic-all'),
      createQueue(stack.sqsEndpoint, 'topic-failed-raw'),
    ]);
    await subscribeQueue(stack.sns, stack.replyTopicArn, { queueArn: envelopeQueue.arn });
    await subscribeQueue(stack.sns, stack.replyTopicArn, {
      queueArn: failedOnlyQueue.arn,
      raw: true,
      filterPolicy: { status: ['failed'] },
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('publishes results to an SNS topic with attributes a subscription filters on', async () => {
    stack.simulator?.inject({
      kind: 'error',
      action: 'DescribeVpcs',
      code: 'UnauthorizedOperation',
      status: 403,
    });
    await stack.client.submitBatch([
      request('topic-ok', stack.replyTopicArn),
      request('topic-denied', stack.replyTopicArn, 'DescribeVpcs'),
    ]);
    const [ok, denied] = await Promise.all(
      ['topic-ok', 'topic-denied'].map((id) => stack.client.waitForResult(id, WAIT)),
    );

    const all = await stack.drain(envelopeQueue.url, 2);
    const notifications = all
      .map(
        (m) =>
          JSON.parse(m.body) as { TopicArn: string; Message: string; MessageAttributes: unknown },
      )
      .sort((a, b) => a.Message.localeCompare(b.Message));
    expect(notifications.map((n) => n.TopicArn)).toEqual([
      stack.replyTopicArn,
      stack.replyTopicArn,
    ]);
    expect(notifications.map((n) => JSON.parse(n.Message))).toEqual(
      [denied, ok].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
    expect(notifications.map((n) => n.MessageAttributes)).toContainEqual({
      status: { Type: 'String', Value: 'succeeded' },
      producer: { Type: 'String', Value: 'default' },
      operation: { Type: 'String', Value: 'DescribeInstances' },
      service: { Type: 'String', Value: 'ec2' },
    });

    const failedOnly = await stack.drain(failedOnlyQueue.url, 2, 3_000);
    expect(failedOnly).toEqual([
      {
        body: JSON.stringify(denied),
        attributes: {
          status: 'failed',
          producer: 'default',
          operation: 'DescribeVpcs',
          service: 'ec2',
        },
      },
    ]);
  });

  it('sends to a queue in another region with a client of that region', async () => {
    expect(otherRegionQueue).toMatch(/^http:\/\/sqs\.eu-west-1\.localhost:/);
    await stack.client.submit(request('elsewhere-1', otherRegionQueue));
    const stored = await stack.client.waitForResult('elsewhere-1', WAIT);

    const [reply] = await stack.drain(otherRegionQueue, 1);
    expect(JSON.parse(reply?.body ?? '{}')).toEqual(stored);
    expect(reply?.attributes).toMatchObject({ status: 'succeeded', service: 'ec2' });
    expect(stack.replies.clientRegions().sqs).toContain(OTHER_REGION);
  });

  it('sends to a FIFO queue once per request, a duplicate request answered but deduplicated', async () => {
    await stack.client.submit(request('fifo-1', fifoQueue));
    const stored = await stack.client.waitForResult('fifo-1', WAIT);
    const [first] = await stack.drain(fifoQueue, 1);
    expect(JSON.parse(first?.body ?? '{}')).toEqual(stored);

    // The same request again: answered from the requests table with the stored result, and
    // SQS drops the second copy (same deduplication id within five minutes).
    await stack.client.submit(request('fifo-1', fifoQueue));
    const deadline = Date.now() + 15_000;
    while (repliedTo.filter((d) => d === fifoQueue).length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(repliedTo.filter((d) => d === fifoQueue)).toHaveLength(2);
    expect(await stack.drain(fifoQueue, 1, 2_000)).toEqual([]);
  });
});
