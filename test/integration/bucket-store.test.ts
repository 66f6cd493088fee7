/**
 * The storage contract of admission, run against every engine: dynalite (the embedded default)
 * and Amazon's DynamoDB Local (the reference). Conditions are proven only by an engine.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { windowStats } from '../../local/window-stats.js';
import {
  type AdmissionDecision,
  BucketStore,
  type GroupBucket,
} from '../../shared/admission/bucket-store.js';
import { InvalidAdmissionGroupError } from '../../shared/admission/errors.js';
import { gcraParams, US_PER_MS } from '../../shared/admission/gcra.js';
import type { BucketRef } from '../../shared/limits/types.js';
import { BUCKETS_TABLE, bucketKey } from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { enginesUnderTest } from '../support/inject-engines.js';

const T0 = 1_800_000_000_000;

function ref(bucket: string, account = '123456789012'): BucketRef {
  return { account, region: 'us-east-1', service: 'ec2', bucket };
}

function admittedAt(decisions: readonly AdmissionDecision[]): number[] {
  return decisions.flatMap((d) => (d.kind === 'admitted' ? [d.runAtMs] : []));
}

describe.each(enginesUnderTest())('BucketStore on $name', (engine) => {
  const client = dynamoClient(engine.endpoint);
  let tableName: string;
  let nowMs: number;
  const clock = () => nowMs;

  beforeAll(async () => {
    tableName = await createTable(client, BUCKETS_TABLE, uniqueTableName('buckets'));
  });

  function store(horizonMs = 0) {
    return new BucketStore({ client: dynamoClient(engine.endpoint), tableName, clock, horizonMs });
  }

  async function storedTatUs(bucket: BucketRef): Promise<number | undefined> {
    const out = await client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: bucketKey(bucket) } },
        ConsistentRead: true,
      }),
    );
    const raw = out.Item?.tat?.N;
    return raw === undefined ? undefined : Number(raw);
  }

  it('admits a whole burst at once on an idle bucket, in one write', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('burst-once'), limit: { rate: 2, burst: 5 } };
    const outcome = await store().admit([bucket], [[1], [1], [1], [1], [1], [1]]);
    expect(admittedAt(outcome.decisions)).toEqual([T0, T0, T0, T0, T0]);
    expect(outcome.decisions[5]).toEqual({ kind: 'not-yet', retryAtMs: T0 + 500, slowed: false });
    expect(outcome.requests).toEqual({ writes: 1, reads: 0 });
    expect(await storedTatUs(bucket.ref)).toBe((T0 + 2_500) * US_PER_MS);
  });

  it('answers "not yet" from what it knows, without a write, and admits at exactly retryAt', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('exact-retry'), limit: { rate: 0.1, burst: 1 } };
    const admitter = store();
    await admitter.admit([bucket], [[1]]);
    nowMs = T0 + 9_999;
    const early = await admitter.admit([bucket], [[1]]);
    expect(early.decisions).toEqual([{ kind: 'not-yet', retryAtMs: T0 + 10_000, slowed: false }]);
    expect(early.requests).toEqual({ writes: 0, reads: 0 });
    nowMs = T0 + 10_000;
    const onTime = await admitter.admit([bucket], [[1]]);
    expect(admittedAt(onTime.decisions)).toEqual([T0 + 10_000]);
  });

  it('reserves later slots when the bucket is full: one write schedules the batch', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('reserve'), limit: { rate: 5, burst: 2 } };
    const outcome = await store(10_000).admit(
      [bucket],
      Array.from({ length: 6 }, () => [1]),
    );
    expect(admittedAt(outcome.decisions)).toEqual([T0, T0, T0 + 200, T0 + 400, T0 + 600, T0 + 800]);
    expect(outcome.requests.writes).toBe(1);
  });

  it('admits the prefix that fits in the horizon and tells each of the rest when it fits', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('horizon'), limit: { rate: 1, burst: 1 } };
    const outcome = await store(2_000).admit([bucket], [[1], [1], [1], [1], [1]]);
    expect(outcome.decisions).toEqual([
      expect.objectContaining({ kind: 'admitted', runAtMs: T0 }),
      expect.objectContaining({ kind: 'admitted', runAtMs: T0 + 1_000 }),
      expect.objectContaining({ kind: 'admitted', runAtMs: T0 + 2_000 }),
      // One after another, as they will fit: their retries do not arrive as a herd.
      { kind: 'not-yet', retryAtMs: T0 + 1_000, slowed: false },
      { kind: 'not-yet', retryAtMs: T0 + 2_000, slowed: false },
    ]);
  });

  it('learns the real TAT when another dispatcher moved the bucket, and stays exact', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('two-dispatchers'), limit: { rate: 10, burst: 10 } };
    const first = store(1_000);
    const second = store(1_000);
    await first.admit(
      [bucket],
      Array.from({ length: 10 }, () => [1]),
    );
    // `second` has never seen the bucket and guesses "idle": the write fails and it learns.
    const outcome = await second.admit(
      [bucket],
      Array.from({ length: 5 }, () => [1]),
    );
    expect(admittedAt(outcome.decisions)).toEqual([
      T0 + 100,
      T0 + 200,
      T0 + 300,
      T0 + 400,
      T0 + 500,
    ]);
    expect(outcome.requests.writes).toBe(2);
    // Without ALL_OLD (dynalite) it has to read; with it (DynamoDB Local) the failed write told it.
    expect(outcome.requests.reads).toBe(engine.name === 'dynalite' ? 1 : 0);
    // `first` still believes in its own TAT: it guesses "busy", and the range condition corrects it.
    const again = await first.admit([bucket], [[1]]);
    expect(admittedAt(again.decisions)).toEqual([T0 + 600]);
  });

  it('treats an expired (past) TAT as an idle bucket: no credit for the time it sat unused', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('idle-again'), limit: { rate: 1, burst: 3 } };
    const admitter = store();
    await admitter.admit([bucket], [[3]]);
    nowMs = T0 + 3_600_000;
    const outcome = await admitter.admit([bucket], [[1], [1], [1], [1]]);
    expect(admittedAt(outcome.decisions)).toEqual([nowMs, nowMs, nowMs]);
    expect(await storedTatUs(bucket.ref)).toBe((nowMs + 3_000) * US_PER_MS);
  });

  it('debits a request bucket and a resource bucket together', async () => {
    nowMs = T0;
    const request: GroupBucket = { ref: ref('RunInstances'), limit: { rate: 2, burst: 5 } };
    const resource: GroupBucket = {
      ref: ref('RunInstances:resource'),
      limit: { rate: 2, burst: 1000 },
    };
    const outcome = await store().admit(
      [request, resource],
      [
        [1, 10],
        [1, 20],
      ],
    );
    expect(admittedAt(outcome.decisions)).toEqual([T0, T0]);
    expect(await storedTatUs(request.ref)).toBe((T0 + 1_000) * US_PER_MS);
    expect(await storedTatUs(resource.ref)).toBe((T0 + 15_000) * US_PER_MS);
  });

  it('refunds the earlier bucket when a later bucket admits fewer requests', async () => {
    nowMs = T0;
    const request: GroupBucket = { ref: ref('Start'), limit: { rate: 2, burst: 5 } };
    const resource: GroupBucket = { ref: ref('Start:resource'), limit: { rate: 2, burst: 30 } };
    // The request bucket admits all three; the resource bucket only the first two (10 + 20 ≤ 30).
    const outcome = await store().admit(
      [request, resource],
      [
        [1, 10],
        [1, 20],
        [1, 5],
      ],
    );
    expect(outcome.decisions.map((d) => d.kind)).toEqual(['admitted', 'admitted', 'not-yet']);
    expect(outcome.forfeitedTokens).toBe(0);
    expect(await storedTatUs(request.ref)).toBe((T0 + 1_000) * US_PER_MS);
    expect(await storedTatUs(resource.ref)).toBe((T0 + 15_000) * US_PER_MS);
  });

  it('leaves no debit behind when a later bucket admits nothing', async () => {
    nowMs = T0;
    const request: GroupBucket = { ref: ref('Stop'), limit: { rate: 2, burst: 5 } };
    const resource: GroupBucket = { ref: ref('Stop:resource'), limit: { rate: 20, burst: 100 } };
    await store().admit([resource], [[100]]);
    const outcome = await store().admit([request, resource], [[1, 50]]);
    expect(outcome.decisions).toEqual([{ kind: 'not-yet', retryAtMs: T0 + 2_500, slowed: false }]);
    // Refunded to "now": the bucket is as idle as it was.
    expect(await storedTatUs(request.ref)).toBe(T0 * US_PER_MS);
  });

  it('rejects a request above a bucket burst as never-fits without blocking the others', async () => {
    nowMs = T0;
    const request: GroupBucket = { ref: ref('Run2'), limit: { rate: 2, burst: 5 } };
    const resource: GroupBucket = { ref: ref('Run2:resource'), limit: { rate: 2, burst: 1000 } };
    const outcome = await store().admit(
      [request, resource],
      [
        [1, 1001],
        [1, 3],
      ],
    );
    expect(outcome.decisions[0]).toEqual({
      kind: 'never-fits',
      bucket: resource.ref,
      cost: 1001,
      burst: 1000,
    });
    expect(outcome.decisions[1]).toMatchObject({ kind: 'admitted', runAtMs: T0 });
  });

  it('keeps buckets of different accounts apart', async () => {
    nowMs = T0;
    const limit = { rate: 1, burst: 1 };
    const a = await store().admit([{ ref: ref('per-account', '111111111111'), limit }], [[1]]);
    const b = await store().admit([{ ref: ref('per-account', '222222222222'), limit }], [[1]]);
    expect(admittedAt([...a.decisions, ...b.decisions])).toEqual([T0, T0]);
  });

  it('pauses a bucket after a provider throttle so that no dispatcher gets a slot before then', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('penalized'), limit: { rate: 10, burst: 10 } };
    const other = store();
    await other.admit([bucket], [[1]]);
    expect(await store().reportThrottle(bucket, 0, 5_000)).toBe(true);
    // `other` still remembers the old TAT and rate; its write fails and it learns both.
    const outcome = await other.admit([bucket], [[1]]);
    expect(outcome.decisions).toEqual([{ kind: 'not-yet', retryAtMs: T0 + 5_000, slowed: true }]);
    // A report of a call admitted before that change is not new evidence.
    expect(await store().reportThrottle(bucket, 0, 1_000)).toBe(false);
    nowMs = T0 + 5_000;
    expect(admittedAt((await other.admit([bucket], [[1], [1]])).decisions)).toEqual([T0 + 5_000]);
  });

  it('names the problem with a malformed group', async () => {
    const bucket: GroupBucket = { ref: ref('bad'), limit: { rate: 1, burst: 1 } };
    await expect(store().admit([bucket], [[1, 2]])).rejects.toThrow(
      new InvalidAdmissionGroupError('request 0 has 2 costs for 1 buckets'),
    );
    await expect(store().admit([bucket], [[0]])).rejects.toThrow(
      new InvalidAdmissionGroupError('request 0 has cost 0; costs are positive integers'),
    );
  });

  it('never admits more than burst + rate·W under many concurrent dispatchers', async () => {
    // 12 dispatchers, each with its own SDK client, race on one bucket. The clock is shared and
    // advances 2 ms on every reading, so time moves on while writes interleave at the engine.
    nowMs = T0;
    const tick = () => {
      nowMs += 2;
      return nowMs;
    };
    const limit = { rate: 50, burst: 25 };
    const bucket: GroupBucket = { ref: ref('contended'), limit };
    const dispatchers = Array.from(
      { length: 12 },
      () =>
        new BucketStore({
          client: dynamoClient(engine.endpoint),
          tableName,
          clock: tick,
          horizonMs: 2_000,
        }),
    );
    const slotsUs: number[] = [];
    let writes = 0;
    await Promise.all(
      dispatchers.map(async (dispatcher) => {
        for (let round = 0; round < 15; round++) {
          const outcome = await dispatcher.admit(
            [bucket],
            Array.from({ length: 10 }, () => [1]),
          );
          writes += outcome.requests.writes;
          for (const d of outcome.decisions)
            if (d.kind === 'admitted') slotsUs.push(d.slotsUs[0] as number);
        }
      }),
    );
    const { intervalUs } = gcraParams(limit);
    expect(slotsUs.length).toBeGreaterThan(100);
    for (const windowMs of [0, 100, 1_000, 3_000]) {
      expect(windowStats(slotsUs, windowMs * US_PER_MS).max).toBeLessThanOrEqual(
        25 + Math.floor((windowMs * US_PER_MS) / intervalUs),
      );
    }
    // Every admitted slot is a distinct token: the stored TAT accounts for all of them.
    const lastSlot = Math.max(...slotsUs);
    expect(await storedTatUs(bucket.ref)).toBeGreaterThanOrEqual(lastSlot + 25 * intervalUs);
    expect(writes).toBeGreaterThan(0);
  });
});
