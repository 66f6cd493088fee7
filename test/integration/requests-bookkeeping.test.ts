/**
 * The requests table's bookkeeping conditions on both engines (dynalite and DynamoDB Local): the
 * "sent" marker is written only under the lease, survives takeovers until an attempt knows the
 * outcome, and is what tells a takeover that the call may have run; a result write whose answer
 * was lost can be repeated.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { failedResult, succeededResult } from '../../shared/contract/result.js';
import { RequestsStore } from '../../shared/requests/requests-store.js';
import { REQUESTS_TABLE, requestKey } from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { enginesUnderTest } from '../support/inject-engines.js';

const T0 = 1_800_000_000_000;
const LEASE_MS = 10_000;

describe.each(enginesUnderTest())('RequestsStore bookkeeping on $name', (engine) => {
  let store: RequestsStore;

  beforeAll(async () => {
    const client = dynamoClient(engine.endpoint);
    const tableName = await createTable(client, REQUESTS_TABLE, uniqueTableName('requests'));
    store = new RequestsStore({ client, tableName });
  });

  /** Claims the request `id` of producer `p` for the same call every time. */
  const claim = (id: string, owner: string, nowMs: number) =>
    store.claim(key(id), 'fingerprint', owner, nowMs, LEASE_MS, T0);
  const key = (id: string) => requestKey('p', id);

  it('writes the sent marker under the lease only', async () => {
    await claim('mark-1', 'a', T0);

    expect(await store.markSent(key('mark-1'), 'a', T0 + 1)).toBe(true);
    expect(await store.markSent(key('mark-1'), 'b', T0 + 2)).toBe(false);
    expect(await store.get(key('mark-1'))).toEqual({
      status: 'running',
      attempts: 1,
      leaseOwner: 'a',
      leaseUntil: T0 + LEASE_MS,
      sentAt: T0 + 1,
    });
  });

  it('tells a takeover of a lapsed lease whether the call was marked sent', async () => {
    await claim('unmarked-1', 'a', T0);
    await claim('marked-1', 'a', T0);
    await store.markSent(key('marked-1'), 'a', T0 + 1);
    const later = T0 + LEASE_MS + 1;

    expect(await claim('unmarked-1', 'b', later)).toMatchObject({
      kind: 'claimed',
      attempts: 2,
      tookOverLapsedLease: true,
      previousMayHaveRun: false,
    });
    expect(await claim('marked-1', 'b', later)).toMatchObject({
      kind: 'claimed',
      attempts: 2,
      tookOverLapsedLease: true,
      previousMayHaveRun: true,
    });
  });

  it('keeps the marker through a takeover that dies too', async () => {
    await claim('chain-1', 'a', T0);
    await store.markSent(key('chain-1'), 'a', T0 + 1);
    await claim('chain-1', 'b', T0 + LEASE_MS + 1);

    expect(await claim('chain-1', 'c', T0 + 2 * LEASE_MS + 2)).toMatchObject({
      attempts: 3,
      previousMayHaveRun: true,
    });
  });

  it('removes the marker with a release (the call did not run): the next claim finds none', async () => {
    await claim('released-1', 'a', T0);
    await store.markSent(key('released-1'), 'a', T0 + 1);
    expect(await store.release(key('released-1'), 'a', T0 + 2)).toBe(true);

    expect(await store.get(key('released-1'))).toEqual({ status: 'waiting', attempts: 1 });
    expect(await claim('released-1', 'b', T0 + 3)).toMatchObject({
      attempts: 2,
      tookOverLapsedLease: false,
      previousMayHaveRun: false,
    });
  });

  it('keeps the marker with a release of a call that may have run: the next claim reads back', async () => {
    await claim('unknown-1', 'a', T0);
    await store.markSent(key('unknown-1'), 'a', T0 + 1);
    expect(await store.release(key('unknown-1'), 'a', T0 + 2, { mayHaveRun: true })).toBe(true);

    expect(await store.get(key('unknown-1'))).toEqual({
      status: 'waiting',
      attempts: 1,
      sentAt: T0 + 1,
    });
    expect(await claim('unknown-1', 'b', T0 + 3)).toMatchObject({
      attempts: 2,
      tookOverLapsedLease: false,
      previousMayHaveRun: true,
    });
    // Sent again after a read showed it absent: the marker is renewed; a result removes it.
    expect(await store.markSent(key('unknown-1'), 'b', T0 + 4)).toBe(true);
    const done = succeededResult('unknown-1', 2, {}, { receivedAt: T0, finishedAt: T0 + 5 });
    expect(await store.finishClaimed(key('unknown-1'), 'b', done, T0 + 5)).toBe(true);
    expect(await store.get(key('unknown-1'))).not.toHaveProperty('sentAt');
  });

  it('finishes a request nobody holds as "may have run" when its marker is there, never as "never ran"', async () => {
    const timings = { receivedAt: T0, finishedAt: T0 + 5 };
    const late = failedResult('late-1', 0, { code: 'DeadlineExceeded', message: 'late' }, timings);
    const unknown = failedResult('late-1', 0, { code: 'OutcomeUnknown', message: '?' }, timings);
    await claim('late-1', 'a', T0);
    await store.markSent(key('late-1'), 'a', T0 + 1);
    await store.release(key('late-1'), 'a', T0 + 2, { mayHaveRun: true });

    expect(await store.finishOpen(key('late-1'), 'fingerprint', late, T0 + 5, T0)).toBeUndefined();
    expect(await store.get(key('late-1'))).toMatchObject({ status: 'waiting' });
    expect(await store.finishOpen(key('late-1'), 'fingerprint', late, T0 + 5, T0, unknown)).toEqual(
      unknown,
    );
    expect(await store.get(key('late-1'))).toMatchObject({ status: 'finished', result: unknown });
    // Without the marker the first result is the one recorded.
    await claim('late-2', 'a', T0);
    await store.release(key('late-2'), 'a', T0 + 2);
    const late2 = { ...late, id: 'late-2' };
    expect(
      await store.finishOpen(key('late-2'), 'fingerprint', late2, T0 + 5, T0, unknown),
    ).toEqual(late2);
  });

  it('takes a repeated result write as recorded, and refuses another holder', async () => {
    await claim('finish-1', 'a', T0);
    const result = succeededResult(
      'finish-1',
      1,
      { ok: true },
      { receivedAt: T0, finishedAt: T0 + 5 },
    );

    expect(await store.finishClaimed(key('finish-1'), 'a', result, T0 + 5)).toBe(true);
    // Tried again after a lost answer: the same result is there.
    expect(await store.finishClaimed(key('finish-1'), 'a', result, T0 + 6)).toBe(true);
    const other = succeededResult(
      'finish-1',
      2,
      { ok: false },
      { receivedAt: T0, finishedAt: T0 + 7 },
    );
    expect(await store.finishClaimed(key('finish-1'), 'b', other, T0 + 7)).toBe(false);
    expect(await store.get(key('finish-1'))).toEqual({ status: 'finished', attempts: 1, result });
  });
});
