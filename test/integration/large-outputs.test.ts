/**
 * Outputs of any size, end to end on the local stack (fauxqs's S3 holds the outputs bucket): an
 * output too large for a DynamoDB item or an SNS notification is stored in S3, the record and the
 * reply point to it, and the producer client and the CLI fetch it; past `maxOutputBytes` the
 * request fails with `OutputTooLarge`.
 */

import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runCli } from '../../cli/main.js';
import { accountCredentials } from '../../local/emulators/credentials.js';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import { subscribeQueue } from '../../local/emulators/sns.js';
import { messageBytes, stringAttributes } from '../../shared/aws/sqs-batches.js';
import { MalformedResultError } from '../../shared/client/errors.js';
import { SluiceResultReader, withOutput } from '../../shared/client/result-reader.js';
import { succeededWithOutputRef } from '../../shared/contract/result.js';
import {
  DYNAMODB_MAX_ITEM_BYTES,
  MAX_INLINE_OUTPUT_BYTES,
  SNS_MAX_MESSAGE_BYTES,
} from '../../shared/contract/sizes.js';
import { OutputStore } from '../../shared/requests/outputs.js';
import { ACCOUNT, describeInstances, startDispatchStack } from '../support/dispatch-stack.js';

type Stack = Awaited<ReturnType<typeof startDispatchStack>>;
const WAIT = { timeoutMs: 30_000, pollMs: 200 };
const INSTANCES = 2_000;
/** A provider that launches that many instances in one call (EC2's resource bucket holds 1,000). */
const LAUNCH_MANY = { limits: { 'RunInstances:resource': { rate: 100, burst: INSTANCES } } };

/** Launches `count` instances in the stack's account, so DescribeInstances answers with them all. */
async function launch(stack: Stack, count: number): Promise<void> {
  const ec2 = new EC2Client({
    endpoint: stack.simulator.endpoint,
    region: 'us-east-1',
    credentials: accountCredentials(ACCOUNT),
  });
  try {
    await ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: count, MaxCount: count }));
  } finally {
    ec2.destroy();
  }
}

describe('large outputs', () => {
  let stack: Stack;
  let topicQueueUrl: string;
  beforeAll(async () => {
    stack = await startDispatchStack({ config: {}, simulator: LAUNCH_MANY });
    const { QueueUrl } = await stack.sqs.send(new CreateQueueCommand({ QueueName: 'big-replies' }));
    topicQueueUrl = QueueUrl as string;
    const { Attributes } = await stack.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await subscribeQueue(stack.sns, stack.replyTopicArn, {
      queueArn: Attributes?.QueueArn as string,
      raw: true,
    });
    // 2,000 instances: DescribeInstances answers with more than a DynamoDB item holds.
    await launch(stack, INSTANCES);
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('stores an output over 192 KiB in S3, points to it from the record and the reply, and the client fetches it', async () => {
    await stack.client.submit(describeInstances('big-1', { replyTo: stack.replyTopicArn }));

    const fetched = await stack.client.waitForResult('big-1', WAIT);
    // Without an S3 client a reader gets the record as stored: the pointer.
    const dynamodb = localDynamoClient(stack.dynamoEndpoint);
    const stored = await new SluiceResultReader({
      dynamodb,
      requestsTableName: stack.env.requestsTableName,
    })
      .getResult('big-1')
      .finally(() => dynamodb.destroy());
    const [reply] = await stack.drain(topicQueueUrl, 1);

    expect(fetched).toMatchObject({ status: 'succeeded', attempts: 1 });
    const output = fetched.status === 'succeeded' ? fetched.output : undefined;
    const instances = (output?.Reservations as { Instances: unknown[] }[] | undefined)?.flatMap(
      (r) => r.Instances,
    );
    expect(instances).toHaveLength(INSTANCES);
    const bytes = Buffer.byteLength(JSON.stringify(output));
    expect(bytes).toBeGreaterThan(DYNAMODB_MAX_ITEM_BYTES);

    const record = stored.result;
    expect(record).toMatchObject({
      status: 'succeeded',
      outputRef: {
        bucket: stack.env.outputsBucketName,
        key: 'outputs/default/big-1/1.json',
        bytes,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    });
    expect(record && 'output' in record).toBe(false);
    expect(JSON.parse(reply?.body ?? '{}')).toEqual(record);
    expect(
      messageBytes(reply?.body ?? '', stringAttributes(reply?.attributes)),
    ).toBeLessThanOrEqual(SNS_MAX_MESSAGE_BYTES);
  });

  it('keeps an output up to 192 KiB in the record itself', async () => {
    await stack.client.submit(
      describeInstances('small-1', {
        call: {
          service: 'ec2',
          operation: 'DescribeInstances',
          input: { Filters: [{ Name: 'instance-state-name', Values: ['stopped'] }] },
        },
      }),
    );
    const result = await stack.client.waitForResult('small-1', WAIT);
    expect(result).toMatchObject({ status: 'succeeded', output: { Reservations: [] } });
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThan(MAX_INLINE_OUTPUT_BYTES);
  });

  it('prints the result with its output fetched from S3 (sluice result)', async () => {
    await stack.client.waitForResult('big-1', WAIT);
    const out: string[] = [];
    const code = await runCli(['result', 'big-1'], {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: () => true },
      env: stack.cliEnvironment,
    });

    expect(code).toBe(0);
    const printed = JSON.parse(out.join(''));
    expect(printed.outputRef).toBeUndefined();
    expect(
      printed.output.Reservations.flatMap((r: { Instances: unknown[] }) => r.Instances),
    ).toHaveLength(INSTANCES);
  });
});

describe('an output that is not what its pointer says', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({ config: {} });
  });
  afterAll(async () => stack?.stop());

  it('is a MalformedResultError naming the size and hash, never returned as the output', async () => {
    const store = new OutputStore({ s3: stack.s3, bucketName: stack.env.outputsBucketName });
    const ref = await store.put('default', 'tampered-1', 1, JSON.stringify({ Reservations: [] }));
    await stack.s3.send(
      new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: '{"Reservations":[1]}' }),
    );
    const result = succeededWithOutputRef('tampered-1', 1, ref, { receivedAt: 1, finishedAt: 2 });

    const error = await withOutput(result, stack.s3).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MalformedResultError);
    expect((error as MalformedResultError).problems.map((p) => `${p.field}:${p.rule}`)).toEqual([
      'outputRef.bytes:mismatch',
      'outputRef.sha256:mismatch',
    ]);
  });

  it('comes back as the output when it matches', async () => {
    const store = new OutputStore({ s3: stack.s3, bucketName: stack.env.outputsBucketName });
    const ref = await store.put('default', 'intact-1', 2, JSON.stringify({ Reservations: [] }));
    const result = succeededWithOutputRef('intact-1', 2, ref, { receivedAt: 1, finishedAt: 2 });

    expect(await withOutput(result, stack.s3)).toEqual({
      v: 1,
      status: 'succeeded',
      id: 'intact-1',
      attempts: 2,
      output: { Reservations: [] },
      timings: { receivedAt: 1, finishedAt: 2 },
    });
  });
});

describe('outputs past maxOutputBytes', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startDispatchStack({
      config: { maxOutputBytes: 250_000 },
      simulator: LAUNCH_MANY,
    });
    await launch(stack, INSTANCES);
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  it('fails the request with OutputTooLarge and stores nothing', async () => {
    await stack.client.submit(describeInstances('too-big-1'));
    const result = await stack.client.waitForResult('too-big-1', WAIT);
    expect(result).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: {
        code: 'OutputTooLarge',
        message: expect.stringMatching(
          /^the call succeeded, but its output is \d+ bytes, more than maxOutputBytes \(250000\)/,
        ),
      },
    });
  });
});
