/**
 * The requests table's conditions, run against every engine (dynalite and DynamoDB Local): ids
 * live in their producer's namespace, an id is bound to the call it was first used for (a
 * different call is a conflict, never claimed, never recorded over it), and a rejection never
 * replaces a request's record, whatever its state.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { failedResult, rejectedResult } from '../../shared/contract/result.js';
import { callFingerprint } from '../../shared/requests/fingerprint.js';
import { RequestsStore, requestKey } from '../../shared/requests/requests-store.js';
import { REQUESTS_TABLE } from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { enginesUnderTest } from '../support/inject-engines.js';

const T0 = 1_800_000_000_000;
const LEASE = 60_000;
const target = { account: '111111111111', region: 'us-east-1' };
const describeCall = { service: 'ec2', operation: 'DescribeInstances', input: {} };
const A = callFingerprint({ target, call: describeCall });
const B = callFingerprint({ target, call: { ...describeCall, input: { MaxResults: 5 } } });

describe('callFingerprint', () => {
  it('is the same for the same call whatever the key order, and differs for another input', () => {
    const reordered = callFingerprint({
      call: { input: {}, operation: 'DescribeInstances', service: 'ec2' },
      target: { region: 'us-east-1', account: '111111111111' },
    } as never);
    expect(reordered).toBe(A);
    expect(B).not.toBe(A);
    expect(A).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe.each(enginesUnderTest())('RequestsStore on $name', (engine) => {
  const client = dynamoClient(engine.endpoint);
  let store: RequestsStore;

  beforeAll(async () => {
    const tableName = await createTable(client, REQUESTS_TABLE, uniqueTableName('requests'));
    store = new RequestsStore({ client, tableName });
  });

  it('keeps the same id of two producers apart: each claims its own', async () => {
    const web = await store.claim(requestKey('web', 'same-1'), A, 'o1', T0, LEASE, T0);
    const batch = await store.claim(requestKey('batch', 'same-1'), B, 'o2', T0, LEASE, T0);
    expect([web.kind, batch.kind]).toEqual(['claimed', 'claimed']);
  });

  it('answers a claim for another call under a used id with a conflict, and leaves the record', async () => {
    const key = requestKey('web', 'conflict-1');
    expect((await store.claim(key, A, 'o1', T0, LEASE, T0)).kind).toBe('claimed');
    await store.release(key, 'o1', T0 + 1);
    expect(await store.claim(key, B, 'o2', T0 + 2, LEASE, T0)).toEqual({ kind: 'conflict' });
    // The same call still claims it.
    expect(await store.claim(key, A, 'o3', T0 + 3, LEASE, T0)).toMatchObject({
      kind: 'claimed',
      attempts: 2,
    });
  });

  it('answers a claim for another call under a finished id with a conflict, not its result', async () => {
    const key = requestKey('web', 'conflict-2');
    await store.claim(key, A, 'o1', T0, LEASE, T0);
    const result = failedResult(
      'conflict-2',
      1,
      { code: 'X', message: 'y' },
      {
        receivedAt: T0,
        finishedAt: T0 + 1,
      },
    );
    await store.finishClaimed(key, 'o1', result, T0 + 1);
    expect(await store.claim(key, B, 'o2', T0 + 2, LEASE, T0)).toEqual({ kind: 'conflict' });
    expect(await store.claim(key, A, 'o2', T0 + 2, LEASE, T0)).toMatchObject({
      kind: 'unavailable',
      state: { status: 'finished', result },
    });
  });

  it('records a failure of a request nobody holds only for its own call', async () => {
    const key = requestKey('web', 'open-1');
    await store.claim(key, A, 'o1', T0, LEASE, T0);
    await store.release(key, 'o1', T0 + 1);
    const result = failedResult(
      'open-1',
      0,
      { code: 'NeverFits', message: 'm' },
      {
        receivedAt: T0,
        finishedAt: T0 + 2,
      },
    );
    expect(await store.finishOpen(key, B, result, T0 + 2, T0)).toBeUndefined();
    expect(await store.get(key)).toEqual({ status: 'waiting', attempts: 1 });
    expect(await store.finishOpen(key, A, result, T0 + 2, T0)).toEqual(result);
  });

  it('records a rejection where no request is, over an earlier rejection, and over no request in any state', async () => {
    const rejection = (id: string) => rejectedResult(id, [], T0);
    const fresh = requestKey('web', 'reject-1');
    expect(await store.recordRejection(fresh, rejection('reject-1'), T0)).toBe(true);
    expect(await store.recordRejection(fresh, rejection('reject-1'), T0 + 1)).toBe(true);

    const waiting = requestKey('web', 'reject-2');
    await store.claim(waiting, A, 'o1', T0, LEASE, T0);
    expect(await store.recordRejection(waiting, rejection('reject-2'), T0 + 1)).toBe(false);
    await store.release(waiting, 'o1', T0 + 2);
    expect(await store.recordRejection(waiting, rejection('reject-2'), T0 + 3)).toBe(false);
    expect(await store.get(waiting)).toEqual({ status: 'waiting', attempts: 1 });
  });
});
