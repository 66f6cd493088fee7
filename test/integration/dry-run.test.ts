/**
 * DryRun end to end on the local stack: EC2's `DryRunOperation` (412) is a DryRun's success
 * signal, so the request succeeds with `dryRun: true`; `UnauthorizedOperation` fails it. A DryRun
 * draws on the request bucket only, at the coordinator and at the provider: it launches nothing.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import type { SluiceRequest } from '../../shared/contract/request.js';
import { BUCKETS_TABLE, bucketKey } from '../../shared/storage/tables.js';
import { ACCOUNT, startDispatchStack } from '../support/dispatch-stack.js';

const REGION = 'us-east-1';
/** The simulated account's IAM allows every launch but of this image. */
const DENIED_IMAGE = 'ami-0denied0';

function launch(id: string, input: Record<string, unknown>): SluiceRequest {
  return {
    v: 1,
    id,
    target: { account: ACCOUNT, region: REGION },
    call: { service: 'ec2', operation: 'RunInstances', input },
  };
}

describe('DryRun through the dispatcher', () => {
  let stack: Awaited<ReturnType<typeof startDispatchStack>>;
  beforeAll(async () => {
    stack = await startDispatchStack({
      config: {},
      simulator: { permits: (call) => call.input.ImageId !== DENIED_IMAGE },
    });
    stack.source.start();
  });
  afterAll(async () => stack?.stop());

  const provider = (bucket: string) => ({
    account: ACCOUNT,
    region: REGION,
    service: 'ec2' as const,
    bucket,
  });

  it('succeeds with dryRun: true when EC2 would run the call, spending one request token and no instance tokens anywhere', async () => {
    await stack.client.submit(
      launch('dry-ok', { ImageId: 'ami-12345678', MinCount: 1, MaxCount: 998, DryRun: true }),
    );
    const result = await stack.client.waitForResult('dry-ok', { timeoutMs: 20_000, pollMs: 100 });

    expect(result).toMatchObject({
      status: 'succeeded',
      id: 'dry-ok',
      attempts: 1,
      dryRun: true,
      output: {},
    });
    expect(stack.simulator.bucketDebits(provider('RunInstances'))).toBe(1);
    expect(stack.simulator.bucketDebits(provider('RunInstances:resource'))).toBe(0);
    expect(stack.simulator.statsFor(ACCOUNT, REGION, 'RunInstances')).toMatchObject({
      dryRuns: 1,
      executed: 0,
    });
    // The coordinator never touched its own instances bucket for it: no item was written.
    const ddb = localDynamoClient(stack.dynamoEndpoint);
    try {
      const item = await ddb.send(
        new GetItemCommand({
          TableName: stack.env.bucketsTableName,
          Key: {
            [BUCKETS_TABLE.partitionKey]: { S: bucketKey(provider('RunInstances:resource')) },
          },
          ConsistentRead: true,
        }),
      );
      expect(item.Item).toBeUndefined();
    } finally {
      ddb.destroy();
    }
  });

  it('fails with UnauthorizedOperation when EC2 would refuse the call, without retrying', async () => {
    await stack.client.submit(
      launch('dry-denied', { ImageId: DENIED_IMAGE, MinCount: 1, MaxCount: 1, DryRun: true }),
    );
    const result = await stack.client.waitForResult('dry-denied', {
      timeoutMs: 20_000,
      pollMs: 100,
    });

    expect(result).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'UnauthorizedOperation' },
    });
    expect(result).not.toHaveProperty('dryRun');
  });
});
