import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowStats } from '../../../local/window-stats.js';
import { EMPTY_BUCKET } from '../../../shared/admission/bucket-state.js';
import {
  type GcraParams,
  gcraParams,
  planAdmission,
  US_PER_S,
} from '../../../shared/admission/gcra.js';
import {
  type BucketView,
  flowKey,
  type LevelPolicy,
  meterIntervalUs,
  place,
  reachOf,
} from '../../../shared/admission/placement.js';
import { planChange } from '../../../shared/admission/rate-changes.js';
import {
  applyEntry,
  foldDropped,
  insertedSlots,
  NO_FOLD,
  replay,
  type ShiftEntry,
  shiftTotal,
  type TimelineEntry,
} from '../../../shared/admission/timeline.js';

const LEVELS: readonly LevelPolicy[] = [
  { name: 'high', assuredShare: 0.3 },
  { name: 'normal', assuredShare: 0.3 },
  { name: 'low', assuredShare: 0.1 },
];

describe('applyEntry', () => {
  it('moves only the slots after the point', () => {
    const entry: ShiftEntry = { seq: 1, kind: 'shift', atUs: 100, byUs: 10, strideUs: 0, count: 1 };
    expect([90, 100, 101, 500].map((s) => applyEntry(s, entry))).toEqual([90, 100, 111, 510]);
  });

  it('re-spaces the slots after the point onto the new grid', () => {
    // Old interval 3 and tolerance 6 (burst 2); new interval 4, tolerance 8, extra 4.
    const entry: TimelineEntry = {
      seq: 1,
      kind: 'rate',
      atUs: 1_000,
      fromUs: 3,
      toUs: 4,
      fromTolUs: 6,
      toTolUs: 8,
      extraUs: 4,
    };
    // A cell m old intervals after the point ends at 1006 + 4 + 4m and runs 8 before that.
    expect([1_000, 1_003, 1_006].map((s) => applyEntry(s, entry))).toEqual([1_000, 1_006, 1_010]);
  });

  it('applies a strided cut-in as that many single cut-ins, one every stride', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 30 }),
        (atUs, cellUs, strideUs, count, slots) => {
          const strided: ShiftEntry = {
            seq: 1,
            kind: 'shift',
            atUs,
            byUs: cellUs,
            strideUs,
            count,
          };
          // Sequentially: cut-in j lands before the old cells after atUs + j·stride, which the
          // earlier j cut-ins have already moved by j·cell.
          const sequential = (slot: number) => {
            let s = slot;
            for (let j = 0; j < count; j++) {
              const at = atUs + j * strideUs + j * cellUs;
              s = applyEntry(s, {
                seq: 1,
                kind: 'shift',
                atUs: at,
                byUs: cellUs,
                strideUs: 0,
                count: 1,
              });
            }
            return s;
          };
          for (const slot of slots) expect(applyEntry(slot, strided)).toBe(sequential(slot));
          // The inserted cells sit between the moved ones, never on top of one.
          const moved = new Set(slots.map((s) => applyEntry(s, strided)));
          for (const inserted of insertedSlots(atUs, cellUs, strideUs, count)) {
            if (slots.includes(inserted - cellUs)) continue;
            expect(moved.has(inserted) && !slots.includes(inserted)).toBe(false);
          }
        },
      ),
    );
  });
});

describe('replay', () => {
  const shift = (seq: number, atUs: number, byUs: number): TimelineEntry => ({
    seq,
    kind: 'shift',
    atUs,
    byUs,
    strideUs: 0,
    count: 1,
  });

  it('applies the entries after the position, in order', () => {
    const log = [shift(3, 50, 7), shift(1, 0, 1000), shift(2, 10, 5)];
    expect(replay({ slotUs: 100, seq: 1 }, log, 3)).toMatchObject({ slotUs: 112, seq: 3 });
  });

  it('says it cannot when the log no longer holds an entry it needs', () => {
    expect(replay({ slotUs: 100, seq: 1 }, [shift(3, 50, 7)], 3)).toBeUndefined();
    expect(replay({ slotUs: 100, seq: 1 }, [shift(2, 50, 7)], 3)).toBeUndefined();
  });

  it('is the identity when nothing changed since', () => {
    expect(replay({ slotUs: 100, seq: 4 }, [], 4)).toMatchObject({ slotUs: 100, seq: 4 });
  });

  it('follows dropped shifts through the fold when they all reach before the slot', () => {
    // Entries 1–3 were dropped, 4 is kept; all reach before slot 100.
    const dropped = [shift(1, 50, 7), shift(2, 10, 5), shift(3, 20, 3)];
    const kept = [shift(4, 60, 11)];
    const total = [...dropped, ...kept].reduce((sum, e) => sum + shiftTotal(e), 0);
    const fold = foldDropped({ ...NO_FOLD, shiftUs: total }, dropped);
    // Granted after entry 1 (its count then was 7): entries 2–4 still to apply.
    const position = { slotUs: 100, seq: 1, shiftUs: 7 };
    const full = replay(position, [...dropped, ...kept], 4);
    expect(replay(position, kept, 4, fold)).toEqual({ ...full, shiftUs: total });
  });

  it('agrees with the full log wherever the fold can follow (random shifts and prunes)', () => {
    const shiftArb = fc.record({
      atUs: fc.integer({ min: 0, max: 2_000 }),
      byUs: fc.integer({ min: 1, max: 40 }),
      strideUs: fc.integer({ min: 0, max: 60 }),
      count: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(shiftArb, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 3_000 }),
        fc.nat(),
        fc.nat(),
        (shifts, slotUs, grantedAt, droppedCount) => {
          const log: TimelineEntry[] = shifts.map((e, i) => ({ seq: i + 1, kind: 'shift', ...e }));
          const head = log.length;
          const seq = grantedAt % (head + 1);
          const drop = droppedCount % (head + 1);
          const totalUpTo = (n: number) =>
            log.slice(0, n).reduce((sum, e) => sum + shiftTotal(e), 0);
          const fold = foldDropped({ ...NO_FOLD, shiftUs: totalUpTo(head) }, log.slice(0, drop));
          const position = { slotUs, seq, shiftUs: totalUpTo(seq) };
          const full = replay(position, log, head);
          const folded = replay(position, log.slice(drop), head, fold);
          if (folded !== undefined) expect(folded.slotUs).toBe(full?.slotUs);
          // It follows whenever nothing it needs was dropped, or the dropped all reach before it.
          if (seq >= drop || slotUs > fold.reachUs) expect(folded).toBeDefined();
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('cannot follow a dropped shift that reaches past the slot, a dropped rate change, or a position without its count', () => {
    const dropped = [shift(1, 50, 7), shift(2, 150, 5)];
    const kept = [shift(3, 60, 11)];
    const total = [...dropped, ...kept].reduce((sum, e) => sum + shiftTotal(e), 0);
    const fold = foldDropped({ ...NO_FOLD, shiftUs: total }, dropped);
    expect(replay({ slotUs: 100, seq: 0, shiftUs: 0 }, kept, 3, fold)).toBeUndefined();
    expect(replay({ slotUs: 200, seq: 0 }, kept, 3, fold)).toBeUndefined();
    expect(replay({ slotUs: 200, seq: 0, shiftUs: 0 }, kept, 3, fold)).toBeDefined();
    const rateFold = { ...fold, rateSeq: 2 };
    expect(replay({ slotUs: 200, seq: 1, shiftUs: 7 }, kept, 3, rateFold)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// A bucket as an explicit list of cells, driven by random admissions of several levels and
// flows: the compact form (TAT + log) and the explicit one must agree, and every window must
// hold at most burst + rate·W.

interface Cell {
  slotUs: number;
  cost: number;
  level: number;
  grant: { slotUs: number; seq: number };
}

interface Model {
  params: GcraParams;
  /** The parameters every window is checked against: the fastest rate in force so far. */
  boundParams: GcraParams;
  configuredIntervalUs: number;
  nowUs: number;
  tatUs: number | undefined;
  frozenUs: number;
  anchorUs: number;
  gridStartUs: number;
  multiCost: boolean;
  log: TimelineEntry[];
  cells: Cell[];
  levelTails: Map<number, number>;
  flowTails: Map<string, number>;
  meters: Map<number, number>;
}

const FREEZE_US = 300_000;
const HORIZON_US = 20 * US_PER_S;
const REACH_STEP_US = 500_000;
const POLICY = {
  levels: LEVELS,
  weightOf: () => 1,
  freezeUs: FREEZE_US,
  reachStepUs: REACH_STEP_US,
};

function trueView(model: Model): BucketView {
  return {
    tatUs: model.tatUs,
    frozenUs: model.frozenUs,
    anchorUs: model.anchorUs,
    gridStartUs: model.gridStartUs,
    multiCost: model.multiCost,
    levelTailsUs: model.levelTails,
    flowTailsUs: model.flowTails,
    cutMetersUs: model.meters,
  };
}

/** What the store does for one run of one level and flow (shared/admission/admit-group.ts). */
function admit(
  model: Model,
  level: number,
  flow: string,
  costs: number[],
  noisyView: BucketView | undefined,
): void {
  const { params } = model;
  let rest = costs;
  while (rest.length > 0) {
    const view = noisyView ?? trueView(model);
    const placement = place(
      view,
      model.nowUs,
      params,
      HORIZON_US,
      { level, flow, weight: 1, costs: rest },
      POLICY,
    );
    // The store writes a cut-in on these conditions; a stale view that breaks them appends.
    const standing =
      placement.kind === 'cut-in' &&
      model.frozenUs < placement.requires.frozenBelowUs &&
      (model.tatUs ?? 0) >= placement.requires.tatAtLeastUs &&
      view.anchorUs === model.anchorUs &&
      !model.multiCost;
    if (placement.kind === 'cut-in' && standing) {
      const seq = model.log.length + 1;
      const entry: ShiftEntry = {
        seq,
        kind: 'shift',
        atUs: placement.atUs,
        byUs: placement.cellUs,
        strideUs: placement.strideUs,
        count: placement.count,
      };
      model.log.push(entry);
      for (const cell of model.cells) {
        const moved = applyEntry(cell.slotUs, entry);
        // No committed slot ever moves.
        if (cell.slotUs <= model.frozenUs) expect(moved).toBe(cell.slotUs);
        cell.slotUs = moved;
      }
      model.tatUs = (model.tatUs as number) + placement.count * placement.cellUs;
      placement.slotsUs.forEach((slotUs, i) => {
        model.cells.push({ slotUs, cost: rest[i] as number, level, grant: { slotUs, seq } });
      });
      for (const l of placement.passedLevels) {
        model.levelTails.set(
          l,
          (model.levelTails.get(l) ?? 0) + placement.count * placement.cellUs,
        );
      }
      model.levelTails.set(level, placement.levelTailUs);
      model.flowTails.set(flowKey(level, flow), placement.flowTailUs);
      if (placement.meterUs !== undefined) model.meters.set(level, placement.meterUs);
      rest = rest.slice(placement.count);
      continue;
    }
    // As the store: contended, a call reaches no further than its level allows, and what it is
    // granted is final at once (frozen); a level's appends then run its meter.
    const reach = reachOf(view, model.nowUs, HORIZON_US, params, { level, flow }, POLICY);
    const plan = planAdmission(model.tatUs, model.nowUs, params, rest, reach.reachUs);
    if (plan.kind !== 'admitted') {
      // A waiting flow marks itself present (admit-group.ts `markWaiting`).
      const key = flowKey(level, flow);
      model.flowTails.set(key, Math.max(model.flowTails.get(key) ?? 0, model.nowUs));
      return;
    }
    for (const slotUs of plan.slotsUs)
      expect(slotUs).toBeLessThanOrEqual(model.nowUs + reach.reachUs);
    const idle = model.tatUs === undefined || model.tatUs < model.nowUs;
    const multi = rest.slice(0, plan.count).some((c) => c > 1);
    if (idle) {
      model.anchorUs = model.nowUs;
      model.gridStartUs = model.nowUs;
      model.multiCost = multi;
    } else if (multi) model.multiCost = true;
    plan.slotsUs.forEach((slotUs, i) => {
      model.cells.push({
        slotUs,
        cost: rest[i] as number,
        level,
        grant: { slotUs, seq: model.log.length },
      });
    });
    model.tatUs = plan.newTatUs;
    const last = plan.slotsUs[plan.count - 1] as number;
    model.levelTails.set(level, last);
    model.flowTails.set(flowKey(level, flow), last);
    if (reach.contended) {
      model.frozenUs = Math.max(model.frozenUs, last);
      // It runs the meters of its level and of every level between it and the lowest.
      for (let m = level; m < LEVELS.length - 1; m++) {
        const meter = Math.max(model.meters.get(m) ?? 0, model.nowUs);
        model.meters.set(m, meter + plan.tokens * meterIntervalUs(params, LEVELS, m));
      }
    }
    return;
  }
}

/** Reservations commit as their slots come within the freeze margin. */
function commit(model: Model): void {
  for (const cell of model.cells) {
    if (cell.slotUs <= model.nowUs + FREEZE_US) {
      model.frozenUs = Math.max(model.frozenUs, cell.slotUs);
    }
  }
}

function checkBound(
  model: Model,
  cells: readonly Cell[] = model.cells,
  params = model.boundParams,
): void {
  const tokens = cells.flatMap((c) => Array.from({ length: c.cost }, () => c.slotUs));
  for (const windowUs of [0, params.intervalUs, US_PER_S, 7 * US_PER_S, 30 * US_PER_S]) {
    const bound = params.burst + windowUs / params.intervalUs;
    if (process.env.DEBUG_TL && windowStats(tokens, windowUs, bound).violations > 0)
      process.stderr.write(
        `VIOL W=${windowUs / 1e6} bound=${bound} T=${params.intervalUs / 1e6} ${JSON.stringify(cells.map((c) => [(c.slotUs - 1_700_000_000 * US_PER_S) / 1e6, c.cost]))} LOG ${JSON.stringify(model.log)}\n`,
      );
    expect(windowStats(tokens, windowUs, bound).violations).toBe(0);
  }
}

/**
 * The learned rate changes to `fraction` of the configured one, as the store writes it
 * (shared/admission/rate-changes.ts `planChange`), with a pause of `pauseUs`.
 */
function changeRate(model: Model, fraction: number, pauseUs: number): void {
  const toUs = Math.ceil(model.configuredIntervalUs / fraction);
  const { burst } = model.params;
  const to: GcraParams = { intervalUs: toUs, toleranceUs: Math.floor(burst * toUs), burst };
  const change = planChange(
    {
      ...EMPTY_BUCKET,
      tatUs: model.tatUs,
      frozenUs: model.frozenUs,
      anchorUs: model.anchorUs,
      gridStartUs: model.gridStartUs,
    },
    model.params,
    to,
    model.nowUs,
    FREEZE_US,
    pauseUs,
  );
  expect(change.atUs).toBeGreaterThan(model.frozenUs);
  for (const entry of change.entries) {
    const logged = { ...entry, seq: model.log.length + 1 };
    model.log.push(logged);
    for (const cell of model.cells) {
      const moved = applyEntry(cell.slotUs, logged);
      if (cell.slotUs <= model.frozenUs) expect(moved).toBe(cell.slotUs);
      // A slowed rate never brings a slot forward.
      if (toUs > model.params.intervalUs) expect(moved).toBeGreaterThanOrEqual(cell.slotUs);
      cell.slotUs = moved;
    }
    for (const tails of [model.levelTails, model.flowTails] as Map<unknown, number>[]) {
      for (const [k, v] of tails) tails.set(k, applyEntry(v, logged));
    }
  }
  model.tatUs = change.tatUs;
  model.anchorUs = change.anchorUs;
  model.gridStartUs = change.gridStartUs;
  model.params = to;
  // The whole history is held to the fastest rate it ran at; what follows the change to the new one.
  if (toUs < model.boundParams.intervalUs) model.boundParams = to;
  checkBound(
    model,
    model.cells.filter((c) => c.slotUs > change.atUs),
    to,
  );
}

function checkReplay(model: Model): void {
  for (const cell of model.cells) {
    expect(replay(cell.grant, model.log, model.log.length)?.slotUs).toBe(cell.slotUs);
  }
}

const gapArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: US_PER_S / 2 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 * US_PER_S }) },
);
const noisyArb = fc.option(
  fc.record({
    tail: fc.integer({ min: 0, max: 40 * US_PER_S }),
    meter: fc.integer({ min: 0, max: 40 * US_PER_S }),
  }),
  { freq: 4 },
);
const admitArb = (
  level: fc.Arbitrary<number>,
  flow: fc.Arbitrary<string>,
  costs: fc.Arbitrary<number[]>,
) =>
  fc.record({
    kind: fc.constant('admit' as const),
    gapUs: gapArb,
    level,
    flow,
    costs,
    noisy: noisyArb,
  });
const unitCosts = (max: number) =>
  fc.integer({ min: 1, max }).map((n) => Array.from({ length: n }, () => 1));
const opArb = fc.oneof(
  // Floods of one flow at a low level: the timeline fills up.
  {
    weight: 4,
    arbitrary: admitArb(fc.constantFrom(1, 2), fc.constantFrom('a', 'b'), unitCosts(10)),
  },
  // A few urgent calls: cut-ins ahead of the flood.
  { weight: 3, arbitrary: admitArb(fc.constant(0), fc.constantFrom('a', 'c'), unitCosts(2)) },
  // Anything: any level, flow and cost.
  {
    weight: 2,
    arbitrary: admitArb(
      fc.integer({ min: 0, max: 2 }),
      fc.constantFrom('a', 'b', 'c'),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 10 }),
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const) }) },
  // The learned rate moves (down after a throttle, back up as it recovers).
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rate' as const),
      fraction: fc.constantFrom(1, 0.7, 0.49, 0.95, 0.2),
      pauseUs: fc.constantFrom(0, 0, 1_000_000, 5_000_000),
    }),
  },
);

function freshModel(limit: { rate: number; burst: number }): Model {
  const params = gcraParams(limit);
  return {
    params,
    boundParams: params,
    configuredIntervalUs: params.intervalUs,
    nowUs: 1_700_000_000 * US_PER_S,
    tatUs: undefined,
    frozenUs: 0,
    anchorUs: 0,
    gridStartUs: 0,
    multiCost: false,
    log: [],
    cells: [],
    levelTails: new Map(),
    flowTails: new Map(),
    meters: new Map(),
  };
}

describe('cut-ins on a timeline', () => {
  it('puts an urgent call one interval after the freeze margin, ahead of a low flood', () => {
    const model = freshModel({ rate: 2, burst: 5 });
    for (let i = 0; i < 4; i++) admit(model, 2, 'a', Array(10).fill(1), undefined);
    const before = model.cells.length;
    model.nowUs += 3 * US_PER_S;
    commit(model);
    admit(model, 0, 'c', [1], undefined);
    const urgent = model.cells[before] as Cell;
    expect(urgent.level).toBe(0);
    const waitUs = urgent.slotUs - model.nowUs;
    expect(waitUs).toBeGreaterThan(FREEZE_US);
    expect(waitUs).toBeLessThanOrEqual(FREEZE_US + 2 * model.params.intervalUs);
    checkBound(model);
    checkReplay(model);
  });

  it('interleaves a second flow of the same level with a flood, one cell each', () => {
    const model = freshModel({ rate: 2, burst: 5 });
    for (let i = 0; i < 4; i++) admit(model, 1, 'a', Array(10).fill(1), undefined);
    model.nowUs += 5 * US_PER_S;
    commit(model);
    const before = model.cells.length;
    admit(model, 1, 'b', Array(10).fill(1), undefined);
    const b = model.cells.slice(before).map((c) => c.slotUs);
    expect(b).toHaveLength(10);
    // B gets every other slot: its 10 cells within about 20 intervals of the freeze point.
    const spanUs = (b[9] as number) - model.nowUs;
    expect(spanUs).toBeLessThanOrEqual(FREEZE_US + 21 * model.params.intervalUs);
    checkBound(model);
    checkReplay(model);
  });

  it('cuts in on a bucket of any burst: one-token cells on the grid never straddle', () => {
    for (const burst of [1, 1.5, 1.99]) {
      const model = freshModel({ rate: 2, burst });
      for (let i = 0; i < 3; i++) admit(model, 2, 'a', Array(10).fill(1), undefined);
      model.nowUs += 1_234_567;
      commit(model);
      admit(model, 0, 'c', [1], undefined);
      expect(model.log).toHaveLength(1);
      checkBound(model);
      checkReplay(model);
    }
  });

  it('keeps the bound when the rate drops and comes back over reserved cells', () => {
    const model = freshModel({ rate: 0.5, burst: 1.9607843233333324 });
    admit(model, 0, 'a', [1, 1], undefined);
    admit(model, 1, 'a', [1, 1], undefined);
    changeRate(model, 0.49, 0);
    checkBound(model);
    changeRate(model, 1, 0);
    checkBound(model);
    admit(model, 1, 'a', [1, 1], undefined);
    checkBound(model);
    checkReplay(model);
  });

  it('never cuts in on a bucket with a cell of several tokens', () => {
    const model = freshModel({ rate: 2, burst: 5 });
    admit(model, 2, 'a', [1, 3, 1, 1, 1, 1, 1, 1, 1], undefined);
    for (let i = 0; i < 3; i++) admit(model, 2, 'a', Array(10).fill(1), undefined);
    model.nowUs += 1_234_567;
    commit(model);
    admit(model, 0, 'c', [1], undefined);
    expect(model.log).toHaveLength(0);
    checkBound(model);
  });

  it('keep every window within burst + rate·W, and replay agrees with the explicit timeline', () => {
    fc.assert(
      fc.property(
        fc.record({
          rate: fc.constantFrom(0.5, 2, 5, 20),
          burst: fc.oneof(
            fc.constantFrom(1, 2, 3, 4.5, 5, 10),
            fc.double({ min: 1, max: 20, noNaN: true }),
          ),
        }),
        fc.array(opArb, { minLength: 1, maxLength: 80 }),
        (limit, ops) => {
          const model = freshModel(limit);
          for (const op of ops) {
            if (op.kind === 'commit') {
              commit(model);
              continue;
            }
            if (op.kind === 'rate') {
              changeRate(model, op.fraction, op.pauseUs);
              checkBound(model);
              continue;
            }
            model.nowUs += op.gapUs;
            commit(model);
            const costs = op.costs;
            // A stale or wrong view (hints are only hints) must never break the bound.
            const noisy: BucketView | undefined = op.noisy
              ? {
                  tatUs: model.tatUs,
                  frozenUs: model.frozenUs,
                  anchorUs: model.anchorUs,
                  gridStartUs: model.gridStartUs,
                  multiCost: model.multiCost,
                  levelTailsUs: new Map([
                    [0, model.nowUs + op.noisy.tail / 3],
                    [1, model.nowUs + op.noisy.tail / 2],
                    [2, model.nowUs + op.noisy.tail],
                  ]),
                  flowTailsUs: new Map([[flowKey(op.level, 'x'), model.nowUs + op.noisy.tail]]),
                  cutMetersUs: new Map([[op.level, model.nowUs + op.noisy.meter]]),
                }
              : undefined;
            admit(model, op.level, op.flow, costs, noisy);
            checkBound(model);
          }
          checkReplay(model);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('a contended bucket', () => {
  /** Every 100 ms for `seconds`, each flow asks for `ask` calls of its level, in the given order. */
  function compete(
    model: Model,
    seconds: number,
    flows: readonly { level: number; flow: string; ask: number }[],
  ): Map<number, number> {
    const ran = new Map<number, number>();
    const start = model.cells.length;
    const endUs = model.nowUs + seconds * US_PER_S;
    while (model.nowUs < endUs) {
      for (const f of flows) admit(model, f.level, f.flow, Array(f.ask).fill(1), undefined);
      model.nowUs += US_PER_S / 10;
      commit(model);
    }
    for (const cell of model.cells.slice(start))
      if (cell.slotUs <= endUs) ran.set(cell.level, (ran.get(cell.level) ?? 0) + 1);
    return ran;
  }

  it("grants only final slots, each within its level's reach, and keeps the bound", () => {
    const model = freshModel({ rate: 20, burst: 10 });
    compete(model, 10, [
      { level: 2, flow: 'a', ask: 5 },
      { level: 1, flow: 'b', ask: 3 },
      { level: 2, flow: 'c', ask: 5 },
    ]);
    // Contended from the second flow on: nothing was cut in, so nothing ever moved.
    expect(model.log).toHaveLength(0);
    for (const cell of model.cells.slice(12))
      expect(cell.slotUs).toBeLessThanOrEqual(model.frozenUs);
    checkBound(model);
    checkReplay(model);
  });

  it('makes an urgent call wait at most the reach of the level below it, plus an interval', () => {
    const model = freshModel({ rate: 20, burst: 10 });
    // Both flows hold a slot first: the bucket is contended from the start (nothing reserved far).
    admit(model, 2, 'a', [1], undefined);
    admit(model, 2, 'b', [1], undefined);
    compete(model, 5, [
      { level: 2, flow: 'a', ask: 10 },
      { level: 2, flow: 'b', ask: 10 },
    ]);
    const before = model.cells.length;
    admit(model, 0, 'web', [1], undefined);
    const urgent = model.cells[before] as Cell;
    expect(urgent.level).toBe(0);
    expect(urgent.slotUs - model.nowUs).toBeLessThanOrEqual(FREEZE_US + model.params.intervalUs);
    checkBound(model);
  });

  it('keeps the lowest level its assured share when both levels above it flood', () => {
    const model = freshModel({ rate: 10, burst: 5 });
    const flows = [
      { level: 0, flow: 'flood', ask: 10 },
      { level: 1, flow: 'sync', ask: 10 },
      { level: 2, flow: 'batch', ask: 10 },
    ];
    // Once all three are under way (the first flood batch came alone and reserved ahead).
    compete(model, 5, flows);
    const ran = compete(model, 60, flows);
    const [high, normal, low] = [0, 1, 2].map((l) => ran.get(l) ?? 0) as [number, number, number];
    // LEVELS shares: high 0.3, normal 0.3, low 0.1 (less a few cells at the window's edges:
    // the meters let a burst through, and calls granted near the end run after it).
    expect(low).toBeGreaterThanOrEqual(0.9 * 0.1 * 10 * 60);
    expect(normal).toBeGreaterThanOrEqual(0.3 * 10 * 60);
    expect(high).toBeGreaterThanOrEqual(0.3 * 10 * 60);
    expect((high + normal + low) / (5 + 10 * 60)).toBeGreaterThan(0.97);
    checkBound(model);
  });

  it('keeps a lower level its assured share when a higher one floods, and uses the whole rate', () => {
    const model = freshModel({ rate: 10, burst: 5 });
    // The worst case for the low level: the flood asks first, every time.
    const ran = compete(model, 60, [
      { level: 0, flow: 'flood', ask: 10 },
      { level: 2, flow: 'batch', ask: 10 },
    ]);
    const high = ran.get(0) ?? 0;
    const low = ran.get(2) ?? 0;
    const capacity = 5 + 10 * 60;
    expect(low).toBeGreaterThanOrEqual(0.1 * 10 * 60);
    // The high level gets at least the rate less the shares below it (LEVELS: 0.3 + 0.1).
    expect(high).toBeGreaterThanOrEqual(0.6 * 10 * 60 * 0.95);
    expect((high + low) / capacity).toBeGreaterThan(0.97);
    checkBound(model);
  });
});
