/**
 * Priority levels, fair flows and the learned rate on both DynamoDB engines: dispatchers with
 * their own clients and their own (stale) views of a bucket, cutting in, committing reservations,
 * throttling and recovering, and the window bound `burst + rate·W` over the slots the calls end
 * up with after replaying every change.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { windowStats } from '../../local/window-stats.js';
import {
  type AdmissionDecision,
  BucketStore,
  type CallTag,
  DEFAULT_SCHEDULING,
  type GroupBucket,
} from '../../shared/admission/bucket-store.js';
import { gcraParams, US_PER_MS } from '../../shared/admission/gcra.js';
import { DEFAULT_LEARNED_RATE } from '../../shared/admission/learned-rate.js';
import { FIXED, type TimelinePosition } from '../../shared/admission/timeline.js';
import type { BucketRef } from '../../shared/limits/types.js';
import { BUCKETS_TABLE } from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { enginesUnderTest } from '../support/inject-engines.js';

const T0 = 1_800_000_000_000;

function ref(bucket: string): BucketRef {
  return { account: '123456789012', region: 'us-east-1', service: 'ec2', bucket };
}

type Admitted = Extract<AdmissionDecision, { kind: 'admitted' }>;

function admitted(decisions: readonly AdmissionDecision[]): Admitted[] {
  return decisions.filter((d): d is Admitted => d.kind === 'admitted');
}

const tags = (n: number, level: string, flow: string): CallTag[] =>
  Array.from({ length: n }, () => ({ level, flow }));
const ones = (n: number) => Array.from({ length: n }, () => [1]);

describe.each(enginesUnderTest())('scheduling on $name', (engine) => {
  let tableName: string;
  let nowMs: number;
  const clock = () => nowMs;

  beforeAll(async () => {
    tableName = await createTable(
      dynamoClient(engine.endpoint),
      BUCKETS_TABLE,
      uniqueTableName('sched'),
    );
  });

  function dispatcher(overrides: { clock?: () => number; horizonMs?: number } = {}) {
    return new BucketStore({
      client: dynamoClient(engine.endpoint),
      tableName,
      clock: overrides.clock ?? clock,
      horizonMs: overrides.horizonMs ?? 60_000,
    });
  }

  it('lets an urgent call cut in ahead of a low flood that another dispatcher reserved', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('priority'), limit: { rate: 2, burst: 5 } };
    const flood = dispatcher();
    const low = admitted(
      (await flood.admit([bucket], ones(40), tags(40, 'low', 'batch'))).decisions,
    );
    expect(low).toHaveLength(40);
    nowMs = T0 + 3_000;
    const urgent = admitted(
      (await dispatcher().admit([bucket], ones(1), tags(1, 'high', 'web'))).decisions,
    );
    // One interval after the first point of the bucket's grid clear of the freeze margin
    // (300 ms): within two intervals of it, not behind 17 s of low reservations.
    const runAt = urgent[0]?.runAtMs as number;
    expect(runAt).toBeGreaterThanOrEqual(T0 + 3_000 + 300 + 500);
    expect(runAt).toBeLessThanOrEqual(T0 + 3_000 + 300 + 1_000);

    // The low reservations find out when they check in: those after the cut moved one interval.
    const { results } = await flood.checkIn(
      low.map((d) => ({ buckets: [bucket], positions: d.positions, epochs: d.epochs })),
      false,
    );
    const before = low.map((d) => d.runAtMs);
    const after = results.map((r) => (r.kind === 'lost' ? Number.NaN : r.runAtMs));
    // Every low reservation after the urgent call's point moved one interval; none before it.
    for (let i = 0; i < before.length; i++) {
      const expected = (before[i] as number) >= runAt ? (before[i] as number) + 500 : before[i];
      expect(after[i]).toBe(expected);
    }
  });

  it('never moves a slot a reservation has committed to', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('committed'), limit: { rate: 2, burst: 5 } };
    const flood = dispatcher();
    const low = admitted(
      (await flood.admit([bucket], ones(30), tags(30, 'low', 'batch'))).decisions,
    );
    // Another dispatcher learns the bucket before the commit below: its view is stale after it.
    const stale = dispatcher();
    await stale.admit([bucket], ones(1), tags(1, 'low', 'batch'));
    // The reservation at T0 + 10 s commits early (as a slow arrival might).
    const target = low.find((d) => d.runAtMs === T0 + 10_000) as Admitted;
    const committed = await flood.checkIn(
      [{ buckets: [bucket], positions: target.positions, epochs: target.epochs }],
      true,
    );
    expect(committed.results[0]).toMatchObject({ kind: 'unchanged', runAtMs: T0 + 10_000 });
    // An urgent call now lands after the committed slot, not at now + freeze: the stale view's
    // cut-in fails on the watermark and is placed again from the item it returns.
    nowMs = T0 + 1_000;
    const urgent = admitted(
      (await stale.admit([bucket], ones(1), tags(1, 'high', 'web'))).decisions,
    );
    expect(urgent[0]?.runAtMs).toBeGreaterThan(T0 + 10_000);
    const again = await flood.checkIn(
      [{ buckets: [bucket], positions: target.positions, epochs: target.epochs }],
      false,
    );
    expect(again.results[0]).toMatchObject({ kind: 'unchanged', runAtMs: T0 + 10_000 });
  });

  it('interleaves a second flow of the same level with a flood, half the slots each', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('fair'), limit: { rate: 2, burst: 5 } };
    await dispatcher().admit([bucket], ones(60), tags(60, 'normal', 'a'));
    nowMs = T0 + 5_000;
    const b = admitted(
      (await dispatcher().admit([bucket], ones(10), tags(10, 'normal', 'b'))).decisions,
    );
    expect(b).toHaveLength(10);
    // Alternating with A from the freeze point: B's tenth call within ~20 intervals.
    const last = Math.max(...b.map((d) => d.runAtMs));
    expect(last - nowMs).toBeLessThanOrEqual(300 + 22 * 500);
    expect(last - nowMs).toBeGreaterThan(300 + 18 * 500);
  });

  it('keeps burst + rate·W under concurrent dispatchers of mixed levels and flows', async () => {
    nowMs = T0;
    const tick = () => {
      nowMs += 3;
      return nowMs;
    };
    const limit = { rate: 20, burst: 10 };
    const bucket: GroupBucket = { ref: ref('mixed'), limit };
    const levels = ['high', 'normal', 'low'] as const;
    const flows = ['a', 'b', 'c'] as const;
    const positions: TimelinePosition[] = [];
    let requests = 0;
    let admittedCount = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, d) => {
        const store = dispatcher({ clock: tick, horizonMs: 10_000 });
        for (let round = 0; round < 12; round++) {
          const level = levels[(d + round) % 3] as string;
          const flow = flows[(d * 7 + round) % 3] as string;
          const size = level === 'high' ? 2 : 10;
          const outcome = await store.admit([bucket], ones(size), tags(size, level, flow));
          requests += outcome.requests.writes + outcome.requests.reads;
          for (const a of admitted(outcome.decisions)) {
            positions.push(a.positions[0] as TimelinePosition);
            admittedCount++;
          }
          // Reservations due soon commit, as the dispatcher's check-in does.
          const due = positions.filter((p) => p.slotUs <= (nowMs + 500) * US_PER_MS);
          if (due.length > 0) {
            const { results } = await store.checkIn(
              due.map((p) => ({ buckets: [bucket], positions: [p], epochs: [0] })),
              true,
            );
            results.forEach((r, i) => {
              if (r.kind !== 'lost')
                positions[positions.indexOf(due[i] as TimelinePosition)] = r
                  .positions[0] as TimelinePosition;
            });
          }
        }
      }),
    );
    // Where every call stands now: replayed through the log, as each would be before running.
    const { results } = await dispatcher().checkIn(
      positions.map((p) => ({ buckets: [bucket], positions: [p], epochs: [0] })),
      false,
    );
    const slots = results.flatMap((r) =>
      r.kind === 'lost' ? [] : [r.positions[0]?.slotUs as number],
    );
    expect(slots.length).toBeGreaterThan(50);
    const { intervalUs, burst } = gcraParams(limit);
    for (const windowMs of [0, 50, 1_000, 5_000]) {
      const bound = burst + (windowMs * US_PER_MS) / intervalUs;
      expect(windowStats(slots, windowMs * US_PER_MS, bound).violations).toBe(0);
    }
    expect(requests / admittedCount).toBeLessThan(1);
  });

  it('lowers the rate once per throttle epoch for every dispatcher, and re-spaces reservations', async () => {
    nowMs = T0;
    const limit = { rate: 2, burst: 5 };
    const bucket: GroupBucket = { ref: ref('learned'), limit };
    const a = dispatcher();
    const granted = admitted((await a.admit([bucket], ones(40))).decisions);
    const epoch = granted[0]?.epochs[0] as number;
    nowMs = T0 + 2_000;
    // Two dispatchers report throttles of calls admitted in the same epoch: one decrease.
    const reports = await Promise.all([
      dispatcher().reportThrottle(bucket, epoch),
      dispatcher().reportThrottle(bucket, epoch),
    ]);
    expect(reports.filter(Boolean)).toHaveLength(1);
    // `a` still plans at the old rate; its write fails on the rate guard and it learns the new one.
    const later = admitted((await a.admit([bucket], ones(5))).decisions);
    expect(later.every((d) => d.slowed)).toBe(true);
    // Reservations granted before the change are re-spaced at the decreased rate after the change point.
    const { results } = await a.checkIn(
      [...granted, ...later].map((d) => ({
        buckets: [bucket],
        positions: d.positions,
        epochs: d.epochs,
      })),
      false,
    );
    const slots = results.flatMap((r) =>
      r.kind === 'lost' ? [] : [r.positions[0]?.slotUs as number],
    );
    const changeUs = (T0 + 2_000 + 300) * US_PER_MS;
    const after = slots.filter((s) => s > changeUs).sort((x, y) => x - y);
    const slowInterval = Math.ceil(gcraParams(limit).intervalUs / DEFAULT_LEARNED_RATE.decrease);
    for (let i = 1; i < after.length; i++) {
      expect((after[i] as number) - (after[i - 1] as number)).toBeGreaterThanOrEqual(slowInterval);
    }
    expect(after.length).toBeGreaterThan(30);
    // Reservations re-spaced by the change belong to the new epoch: a throttle of one is new
    // evidence and lowers the rate again. The first ones, left before the change point (already
    // running when the rate dropped), keep the old epoch and do not.
    const bySlot = results
      .flatMap((r) => (r.kind === 'lost' ? [] : [r]))
      .sort((x, y) => (x.positions[0]?.slotUs as number) - (y.positions[0]?.slotUs as number));
    const epochsInOrder = bySlot.map((r) => r.epochs[0] as number);
    expect(epochsInOrder[0]).toBe(epoch);
    expect(epochsInOrder[epochsInOrder.length - 1]).toBe(epoch + 1);
    expect(epochsInOrder).toEqual([...epochsInOrder].sort((x, y) => x - y));
    expect(await dispatcher().reportThrottle(bucket, epoch)).toBe(false);
    nowMs += DEFAULT_LEARNED_RATE.settleSeconds * 1_000;
    expect(await dispatcher().reportThrottle(bucket, epoch + 1)).toBe(true);
  });

  it('recovers to the configured rate as time passes without throttles', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('recovers'), limit: { rate: 5, burst: 5 } };
    const store = dispatcher();
    await store.admit([bucket], ones(1));
    await store.reportThrottle(bucket, 0);
    nowMs = T0 + 3_000;
    expect(admitted((await store.admit([bucket], ones(1))).decisions)[0]?.slowed).toBe(true);
    nowMs = T0 + 60_000;
    await store.admit([bucket], ones(1)); // writes the recovery step that is due
    expect(admitted((await store.admit([bucket], ones(1))).decisions)[0]?.slowed).toBe(false);
  });

  it('recovers as a backlog admitted long ago checks in, with no new admissions', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('backlog'), limit: { rate: 2, burst: 5 } };
    const store = dispatcher();
    const granted = admitted((await store.admit([bucket], ones(120))).decisions);
    nowMs = T0 + 1_000;
    expect(await dispatcher().reportThrottle(bucket, granted[0]?.epochs[0] as number)).toBe(true);
    const reservation = (d: Admitted) => ({
      buckets: [bucket],
      positions: d.positions,
      epochs: d.epochs,
    });
    // Well after the plateau, one reservation commits: the bucket's rate steps back up.
    nowMs = T0 + 1_000 + (DEFAULT_LEARNED_RATE.plateauSeconds + 2) * 1_000;
    const checking = dispatcher();
    const first = await checking.checkIn([reservation(granted[30] as Admitted)], true);
    expect(first.results[0]).toMatchObject({ fractions: [DEFAULT_LEARNED_RATE.decrease] });
    expect(first.requests.writes).toBe(2); // the commit, then the recovery step
    const later = await checking.checkIn([reservation(granted[100] as Admitted)], false);
    const fraction = later.results[0]?.kind === 'lost' ? 0 : later.results[0]?.fractions[0];
    expect(fraction).toBeGreaterThan(DEFAULT_LEARNED_RATE.decrease);
  });

  it('grants only final slots on a contended bucket, each within its reach, under concurrent dispatchers', async () => {
    nowMs = T0;
    const tick = () => {
      nowMs += 2;
      return nowMs;
    };
    const limit = { rate: 20, burst: 10 };
    const bucket: GroupBucket = { ref: ref('contended'), limit };
    const { step, freeze } = { step: DEFAULT_SCHEDULING.reachStepMs, freeze: 300 };
    const reachMs: Record<string, number> = { high: freeze + 2 * step, normal: freeze + step };
    // Two flows take a slot each first: from then on the bucket is contended.
    await dispatcher({ clock: tick }).admit([bucket], ones(1), tags(1, 'low', 'a'));
    await dispatcher({ clock: tick }).admit([bucket], ones(1), tags(1, 'low', 'b'));
    const slots: number[] = [];
    let requests = 0;
    let calls = 0;
    await Promise.all(
      Array.from({ length: 6 }, async (_, d) => {
        const store = dispatcher({ clock: tick });
        for (let round = 0; round < 15; round++) {
          const level = (['high', 'normal', 'low'] as const)[(d + round) % 3] as string;
          const outcome = await store.admit([bucket], ones(5), tags(5, level, `f${d % 3}`));
          // The shared clock moves while others write too: by the answer, the store's "now"
          // was no later than this.
          const answered = nowMs;
          requests += outcome.requests.writes + outcome.requests.reads;
          for (const a of admitted(outcome.decisions)) {
            calls++;
            // Final at once: nothing to check in, nothing can move it.
            expect(a.positions[0]?.seq).toBe(FIXED);
            const slotUs = a.slotsUs[0] as number;
            // Within the level's reach, plus the write's slack of one step (others append at
            // the same moment).
            expect(slotUs).toBeLessThanOrEqual(
              (answered + (reachMs[level] ?? freeze) + step) * US_PER_MS,
            );
            slots.push(slotUs);
          }
          nowMs += 20;
        }
      }),
    );
    expect(calls).toBeGreaterThan(20);
    const { intervalUs, burst } = gcraParams(limit);
    for (const windowMs of [0, 50, 1_000]) {
      const bound = burst + (windowMs * US_PER_MS) / intervalUs;
      expect(windowStats(slots, windowMs * US_PER_MS, bound).violations).toBe(0);
    }
    expect(requests / calls).toBeLessThan(1);
  });

  it('admits a contended batch of several levels and flows in one write, every slot final', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('one-write'), limit: { rate: 20, burst: 10 } };
    const store = dispatcher();
    await store.admit([bucket], ones(1), tags(1, 'low', 'a'));
    await store.admit([bucket], ones(1), tags(1, 'low', 'b'));
    nowMs += 100;
    const outcome = await store.admit([bucket], ones(6), [
      ...tags(1, 'high', 'web'),
      ...tags(2, 'normal', 'sync'),
      ...tags(3, 'low', 'batch'),
    ]);
    const granted = admitted(outcome.decisions);
    expect(granted).toHaveLength(6);
    expect(granted.every((d) => d.positions[0]?.seq === FIXED)).toBe(true);
    expect(outcome.requests).toEqual({ writes: 1, reads: 0 });
  });

  it('lets the lower runs of a batch go on while a level past its meter waits', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('past-meter'), limit: { rate: 20, burst: 10 } };
    const store = dispatcher();
    await store.admit([bucket], ones(1), tags(1, 'low', 'a'));
    await store.admit([bucket], ones(1), tags(1, 'low', 'b'));
    // 20 high calls at once: high's meter (half the rate, 10/s) now runs 2 s ahead.
    expect(
      admitted((await store.admit([bucket], ones(20), tags(20, 'high', 'h'))).decisions),
    ).toHaveLength(20);
    // 0.6 s later the low level has room within its reach, and high is still past its meter.
    // (Another dispatcher: this one would take its 0.6-s-old picture to have moved on by 0.6 s.)
    nowMs += 600;
    const outcome = await dispatcher().admit([bucket], ones(5), [
      ...tags(2, 'high', 'h'),
      ...tags(3, 'low', 'l'),
    ]);
    expect(outcome.decisions.map((d) => d.kind)).toEqual([
      'not-yet',
      'not-yet',
      'admitted',
      'admitted',
      'admitted',
    ]);
  });

  it('sees a waiting lower level: a flood stops reserving far ahead once it is there', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('waiting-low'), limit: { rate: 20, burst: 10 } };
    const flood = dispatcher();
    // Alone, the flood reserves far ahead (its later calls still free to move).
    const first = admitted(
      (await flood.admit([bucket], ones(200), tags(200, 'high', 'f'))).decisions,
    );
    expect(first).toHaveLength(200);
    expect(first.at(-1)?.positions[0]?.seq).not.toBe(FIXED);
    // A low call cannot pass it: it waits, and says it is there (one small write).
    nowMs += 1_000;
    const low = await dispatcher().admit([bucket], ones(2), tags(2, 'low', 'l'));
    expect(low.decisions.map((d) => d.kind)).toEqual(['not-yet', 'not-yet']);
    // (A store that has never seen the bucket may first try one write that fails.)
    expect(low.requests.writes).toBeLessThanOrEqual(2);
    // The flood's next calls see a contended bucket: none is reserved beyond its reach.
    nowMs += 1_000;
    const more = await dispatcher().admit([bucket], ones(10), tags(10, 'high', 'f'));
    expect(more.decisions.every((d) => d.kind === 'not-yet')).toBe(true);
    // …and say so: their turn comes within moments, worth waiting for in-process.
    expect(more.decisions[0]).toMatchObject({ kind: 'not-yet', contended: true });
  });

  it('freezes the slots it grants within the freeze margin: a cut-in planned a moment earlier cannot land before them', async () => {
    const bucket: GroupBucket = { ref: ref('stale-cut-in'), limit: { rate: 2, burst: 1 } };
    let nowA = T0;
    const a = dispatcher({ clock: () => nowA });
    const flood = admitted((await a.admit([bucket], ones(10), tags(10, 'low', 'a'))).decisions);
    const lastUs = flood[9]?.slotsUs[0] as number;
    // B admits when the timeline's end is 300 ms away: its call runs without checking in.
    const nowB = lastUs / 1_000 + 200;
    const b = dispatcher({ clock: () => nowB });
    const [direct] = admitted((await b.admit([bucket], ones(1), tags(1, 'low', 'b'))).decisions);
    expect(direct?.positions[0]?.seq).toBe(FIXED);
    const directUs = direct?.slotsUs[0] as number;
    expect(directUs).toBeLessThanOrEqual((nowB + 300) * 1_000);
    // A still knows the timeline before B's call and plans with a clock a second behind: the
    // point it would cut in at lies before B's slot. The freeze makes it go after instead.
    nowA = nowB - 1_000;
    const [urgent] = admitted((await a.admit([bucket], ones(1), tags(1, 'high', 'a'))).decisions);
    expect(urgent?.slotsUs[0]).toBeGreaterThan(directUs);
  });

  it('follows a reservation through entries the log dropped, as long as only cut-ins before it were', async () => {
    nowMs = T0;
    const bucket: GroupBucket = { ref: ref('pruned'), limit: { rate: 5, burst: 10 } };
    const flood = dispatcher();
    const low = admitted((await flood.admit([bucket], ones(200), tags(200, 'low', 'x'))).decisions);
    const last = low[low.length - 1] as Admitted;
    const { intervalUs } = gcraParams(bucket.limit);
    // Many urgent cut-ins, each one log entry, until old entries are dropped: each moves the
    // last low call back by one interval.
    for (let i = 0; i < 70; i++) {
      nowMs = T0 + i * 500;
      await dispatcher().admit([bucket], ones(1), tags(1, 'high', `h${i}`));
    }
    const checkIn = (d: Admitted) =>
      flood.checkIn([{ buckets: [bucket], positions: d.positions, epochs: d.epochs }], false);
    const followed = (await checkIn(last)).results[0];
    expect(followed).toMatchObject({ kind: 'moved' });
    const movedBy = followed?.kind === 'lost' ? 0 : (followed?.positions[0]?.slotUs as number);
    expect(movedBy - (last.slotsUs[0] as number)).toBe(70 * intervalUs);
    // A rate change re-spaces rather than shifts: once it is dropped too, what was granted
    // before it is lost (admitted again, its tokens wasted, never doubled).
    await dispatcher().reportThrottle(bucket, last.epochs[0] as number);
    for (let i = 70; i < 220; i++) {
      nowMs = T0 + i * 500;
      await dispatcher().admit([bucket], ones(1), tags(1, 'high', `h${i}`));
    }
    expect((await checkIn(last)).results[0]).toEqual({ kind: 'lost' });
  });
});
