/**
 * A dispatcher in a process of its own (local/dispatcher-process.ts), against the local stack's
 * emulators and simulator: it polls and runs requests, and SIGKILL ends it at once, batches in
 * flight and all; a new process picks up the work. The chaos benchmark builds on this.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DispatcherProcess, startDispatcherProcess } from '../../local/dispatcher-process.js';
import { describeInstances, startDispatchStack } from '../support/dispatch-stack.js';

type Stack = Awaited<ReturnType<typeof startDispatchStack>>;
const WAIT = { timeoutMs: 60_000, pollMs: 200 };

describe('a dispatcher process', () => {
  let stack: Stack;
  const started: DispatcherProcess[] = [];
  const start = async () => {
    const child = await startDispatcherProcess({
      variables: stack.dispatcherVariables,
      endpoints: { dynamodb: stack.dynamoEndpoint, sqs: stack.sqsEndpoint, s3: stack.sqsEndpoint },
      targets: { ec2: stack.simulator.endpoint, serviceQuotas: stack.simulator.endpoint },
      queues: { [stack.queueUrls.normal]: 1, [stack.env.scheduledQueueUrl]: 1 },
      functionTimeoutSeconds: 30,
    });
    started.push(child);
    return child;
  };

  beforeAll(async () => {
    // The stack's own event source stays off: the processes do the work.
    stack = await startDispatchStack({ config: {} });
  });
  afterAll(async () => {
    await Promise.all(started.map((child) => child.kill()));
    await stack?.stop();
  });

  it('runs requests, dies at SIGKILL, and a new one runs what follows', async () => {
    const first = await start();
    await stack.client.submit(describeInstances('process-1'));
    expect(await stack.client.waitForResult('process-1', WAIT)).toMatchObject({
      status: 'succeeded',
    });

    expect(await first.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    await stack.client.submit(describeInstances('process-2'));
    await start();

    expect(await stack.client.waitForResult('process-2', WAIT)).toMatchObject({
      status: 'succeeded',
    });
  });
});
