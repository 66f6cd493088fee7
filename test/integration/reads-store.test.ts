/**
 * The reads table's storage contract, on every engine (dynalite and DynamoDB Local): a claim
 * holds only on the item as its claimant read it, so of many dispatchers that saw a free read
 * exactly one leads; only the holder ends or releases a read; a lapsed lease is taken over and
 * the old leader can no longer end it; outputs too large for an item end the read unshared.
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_SHARED_OUTPUT_BYTES,
  MalformedSharedReadError,
  ReadsStore,
} from '../../shared/reads/reads-store.js';
import { decideRead } from '../../shared/reads/shared-read.js';
import { READS_TABLE } from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { enginesUnderTest } from '../support/inject-engines.js';

const T0 = 1_800_000_000_000;
const LEASE_MS = 120_000;
let sequence = 0;
/** A fingerprint no other test uses. */
const fresh = () => `read-${Date.now().toString(36)}-${sequence++}`;

describe.each(enginesUnderTest())('ReadsStore on $name', (engine) => {
  let tableName: string;
  const client = dynamoClient(engine.endpoint);
  const store = () => new ReadsStore({ client: dynamoClient(engine.endpoint), tableName });

  beforeAll(async () => {
    tableName = await createTable(client, READS_TABLE, uniqueTableName('reads'));
  });

  it('knows no read it never saw', async () => {
    expect(await store().get(fresh())).toBeUndefined();
  });

  it('lets exactly one of many dispatchers that saw a free read claim it; the others learn who leads', async () => {
    const fingerprint = fresh();
    const claims = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store().claim(fingerprint, `req-${i}`, undefined, T0, LEASE_MS),
      ),
    );

    const winners = claims.filter((c) => c.won);
    expect(winners).toHaveLength(1);
    const leader = winners[0]?.read;
    expect(leader).toMatchObject({ state: 'running', version: 1, leaseUntil: T0 + LEASE_MS });
    for (const lost of claims.filter((c) => !c.won)) {
      expect(lost.read).toEqual(leader);
      expect(decideRead(lost.read, { owner: 'req-x', firstSeenMs: T0 }, T0 + 1)).toEqual({
        kind: 'follow',
        leaseUntil: T0 + LEASE_MS,
      });
    }
    expect(await store().get(fingerprint)).toEqual(leader);
  });

  it('refuses a claim on an item that changed since it was read (version)', async () => {
    const fingerprint = fresh();
    const first = await store().claim(fingerprint, 'a', undefined, T0, LEASE_MS);
    expect(first.won).toBe(true);
    // b read the item while a held it, then a's lease lapsed and c took it over first.
    const seenByB = first.read;
    const takeover = await store().claim(fingerprint, 'c', seenByB, T0 + LEASE_MS, LEASE_MS);
    expect(takeover).toMatchObject({ won: true, read: { owner: 'c', version: 2 } });

    const late = await store().claim(fingerprint, 'b', seenByB, T0 + LEASE_MS + 1, LEASE_MS);
    expect(late).toEqual({ won: false, read: takeover.read });
  });

  it('shares the output of a finished call, cached until its expiry, and reads it back', async () => {
    const fingerprint = fresh();
    await store().claim(fingerprint, 'lead', undefined, T0, LEASE_MS);
    const output = { Quotas: [{ QuotaCode: 'L-1216C47A', Value: 5 }], NextToken: 'n' };
    const ended = await store().finish(fingerprint, 'lead', {
      kind: 'done',
      output,
      startedAt: T0 + 10,
      finishedAt: T0 + 60,
      cacheUntil: T0 + 300_060,
    });

    expect(ended).toBe(true);
    const read = await store().get(fingerprint);
    expect(read).toEqual({
      state: 'done',
      version: 2,
      output,
      startedAt: T0 + 10,
      finishedAt: T0 + 60,
      cacheUntil: T0 + 300_060,
    });
    // A request sent before the call started shares it; one sent later gets the cached copy.
    expect(decideRead(read, { owner: 'x', firstSeenMs: T0 }, T0 + 100).kind).toBe('coalesced');
    expect(decideRead(read, { owner: 'y', firstSeenMs: T0 + 50 }, T0 + 100).kind).toBe('cached');
    expect(decideRead(read, { owner: 'z', firstSeenMs: T0 + 50 }, T0 + 300_060).kind).toBe('lead');
  });

  it('keeps the item for an hour after it stopped mattering (TTL in epoch seconds)', async () => {
    const fingerprint = fresh();
    await store().claim(fingerprint, 'lead', undefined, T0, LEASE_MS);
    const lease = await client.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: fingerprint } } }),
    );
    expect(Number(lease.Item?.expiresAt?.N)).toBe((T0 + LEASE_MS + 3_600_000) / 1_000);
  });

  it('lets only the holder end or release a read', async () => {
    const fingerprint = fresh();
    await store().claim(fingerprint, 'lead', undefined, T0, LEASE_MS);
    const ending = { kind: 'unshared', startedAt: T0, finishedAt: T0 + 5 } as const;

    expect(await store().finish(fingerprint, 'other', ending)).toBe(false);
    expect(await store().release(fingerprint, 'other', T0)).toBe(false);
    expect(await store().finish(fingerprint, 'lead', ending)).toBe(true);
    // Ended: not even its leader can end or release it again.
    expect(await store().release(fingerprint, 'lead', T0)).toBe(false);
    expect(await store().get(fingerprint)).toEqual({
      state: 'unshared',
      version: 2,
      startedAt: T0,
      finishedAt: T0 + 5,
    });
  });

  it('lets only the holder hold its read longer', async () => {
    const fingerprint = fresh();
    await store().claim(fingerprint, 'lead', undefined, T0, LEASE_MS);

    expect(await store().extend(fingerprint, 'other', T0 + 10 * LEASE_MS)).toBe(false);
    expect(await store().extend(fingerprint, 'lead', T0 + 10 * LEASE_MS)).toBe(true);
    expect(await store().get(fingerprint)).toMatchObject({
      state: 'running',
      owner: 'lead',
      leaseUntil: T0 + 10 * LEASE_MS,
      version: 2,
    });
  });

  it('after a leader crash: its lease lapses, a follower takes the read over, and the old leader can no longer end it', async () => {
    const fingerprint = fresh();
    const crashed = await store().claim(fingerprint, 'crashed', undefined, T0, LEASE_MS);
    const follower = { owner: 'follower', firstSeenMs: T0 + 1 };
    expect(decideRead(crashed.read, follower, T0 + LEASE_MS - 1).kind).toBe('follow');
    expect(decideRead(crashed.read, follower, T0 + LEASE_MS).kind).toBe('lead');

    const takeover = await store().claim(
      fingerprint,
      'follower',
      crashed.read,
      T0 + LEASE_MS,
      LEASE_MS,
    );
    expect(takeover.won).toBe(true);
    const late = { kind: 'unshared', startedAt: T0, finishedAt: T0 + LEASE_MS + 5 } as const;
    expect(await store().finish(fingerprint, 'crashed', late)).toBe(false);
    expect(await store().get(fingerprint)).toMatchObject({ state: 'running', owner: 'follower' });
  });

  it('releases a read whose leader will not call: the next request leads', async () => {
    const fingerprint = fresh();
    await store().claim(fingerprint, 'lead', undefined, T0, LEASE_MS);
    expect(await store().release(fingerprint, 'lead', T0 + 1)).toBe(true);
    const read = await store().get(fingerprint);
    expect(read).toEqual({ state: 'released', version: 2 });
    expect(decideRead(read, { owner: 'next', firstSeenMs: T0 }, T0 + 2).kind).toBe('lead');
  });

  it('ends a read unshared when its output is too large for an item; those that waited make their own calls', async () => {
    const fingerprint = fresh();
    await store().claim(fingerprint, 'lead', undefined, T0, LEASE_MS);
    const output = { Blob: 'x'.repeat(MAX_SHARED_OUTPUT_BYTES) };
    const ending = {
      kind: 'done',
      output,
      startedAt: T0 + 1,
      finishedAt: T0 + 2,
      cacheUntil: T0 + 60_000,
    } as const;
    expect(await store().finish(fingerprint, 'lead', ending)).toBe(true);

    const read = await store().get(fingerprint);
    expect(read).toEqual({ state: 'unshared', version: 2, startedAt: T0 + 1, finishedAt: T0 + 2 });
    expect(decideRead(read, { owner: 'waited', firstSeenMs: T0 }, T0 + 3).kind).toBe('alone');
  });

  it('names every broken attribute of an item it cannot read', async () => {
    const fingerprint = fresh();
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: fingerprint }, state: { S: 'done' }, version: { N: '1' } },
      }),
    );
    const failure = await store()
      .get(fingerprint)
      .then(
        () => undefined,
        (error: unknown) => error,
      );

    expect(failure).toBeInstanceOf(MalformedSharedReadError);
    expect((failure as Error).message).toBe(
      `reads table: the item of read ${fingerprint} is malformed: 4 problems: ` +
        'output: must be a string (S) (required); ' +
        'startedAt: must be an integer of at least 0 (N) (integer); ' +
        'finishedAt: must be an integer of at least 0 (N) (integer); ' +
        'cacheUntil: must be an integer of at least 0 (N) (integer)',
    );
  });
});
