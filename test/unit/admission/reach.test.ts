import { describe, expect, it } from 'vitest';
import { gcraParams, US_PER_S } from '../../../shared/admission/gcra.js';
import {
  type BucketView,
  CONTENTION_WINDOW_US,
  flowKey,
  MIN_REACH_CELLS,
  meterIntervalUs,
  meterToleranceUs,
  reachesABatch,
  reachOf,
} from '../../../shared/admission/placement.js';

const LEVELS = [
  { name: 'high', assuredShare: 0.5 },
  { name: 'normal', assuredShare: 0.4 },
  { name: 'low', assuredShare: 0.1 },
];
const POLICY = { levels: LEVELS, weightOf: () => 1, freezeUs: 300_000, reachStepUs: 500_000 };
const HORIZON_US = 60 * US_PER_S;
const NOW = 1_700_000_000 * US_PER_S;
const params = gcraParams({ rate: 20, burst: 10 });

function view(flowTails: [string, number][], meters: [number, number][] = []): BucketView {
  return {
    tatUs: NOW + 10 * US_PER_S,
    frozenUs: 0,
    anchorUs: NOW,
    gridStartUs: NOW,
    multiCost: false,
    levelTailsUs: new Map(),
    flowTailsUs: new Map(flowTails),
    cutMetersUs: new Map(meters),
  };
}

describe('reachOf', () => {
  it('lets a flow alone on a bucket reserve up to the horizon', () => {
    const alone = view([[flowKey(2, 'a'), NOW + 30 * US_PER_S]]);
    expect(reachOf(alone, NOW, HORIZON_US, params, { level: 2, flow: 'a' }, POLICY)).toEqual({
      reachUs: HORIZON_US,
      contended: false,
    });
  });

  it('gives each level of a contended bucket the freeze margin plus a step per level below', () => {
    const busy = view([
      [flowKey(2, 'a'), NOW + US_PER_S],
      [flowKey(2, 'b'), NOW - US_PER_S],
    ]);
    const reach = (level: number) =>
      reachOf(busy, NOW, HORIZON_US, params, { level, flow: 'c' }, POLICY);
    expect(reach(2)).toEqual({ reachUs: 300_000, contended: true });
    expect(reach(1).reachUs).toBe(800_000);
    expect(reach(0).reachUs).toBe(1_300_000);
  });

  it("counts the flow's own cells of another level, and forgets flows quiet for a whole window", () => {
    const ownOtherLevel = view([[flowKey(0, 'a'), NOW]]);
    expect(
      reachOf(ownOtherLevel, NOW, HORIZON_US, params, { level: 2, flow: 'a' }, POLICY).contended,
    ).toBe(true);
    const quiet = view([[flowKey(2, 'b'), NOW - CONTENTION_WINDOW_US - 1]]);
    expect(reachOf(quiet, NOW, HORIZON_US, params, { level: 2, flow: 'a' }, POLICY).contended).toBe(
      false,
    );
  });

  it('keeps a bucket too slow for its longest reach to hold a batch reserving ahead, contended or not', () => {
    // RunInstances at 2/s: 1.3 s holds under 3 cells.
    const slow = gcraParams({ rate: 2, burst: 5 });
    expect(reachesABatch(slow, POLICY)).toBe(false);
    expect(reachesABatch(gcraParams({ rate: 10, burst: 5 }), POLICY)).toBe(true);
    const busy = view([[flowKey(2, 'a'), NOW]]);
    expect(reachOf(busy, NOW, HORIZON_US, slow, { level: 2, flow: 'b' }, POLICY)).toEqual({
      reachUs: HORIZON_US,
      contended: false,
    });
    expect(MIN_REACH_CELLS).toBe(10);
  });

  it('leaves a level past its meter only what would go unused right now', () => {
    const tolerance = meterToleranceUs(params, LEVELS, 0);
    const interval = meterIntervalUs(params, LEVELS, 0);
    const within = view([[flowKey(2, 'a'), NOW]], [[0, NOW + tolerance - interval]]);
    const past = view([[flowKey(2, 'a'), NOW]], [[0, NOW + tolerance - interval + 1]]);
    const high = { level: 0, flow: 'web' };
    expect(reachOf(within, NOW, HORIZON_US, params, high, POLICY).reachUs).toBe(1_300_000);
    expect(reachOf(past, NOW, HORIZON_US, params, high, POLICY).reachUs).toBe(0);
    // The lowest level has no meter: the shares above it never limit it.
    const low = { level: 2, flow: 'b' };
    expect(reachOf(past, NOW, HORIZON_US, params, low, POLICY).reachUs).toBe(300_000);
  });
});
