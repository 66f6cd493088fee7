import { describe, expect, it } from 'vitest';
import type { BucketContext } from '../../../shared/admission/bucket-context.js';
import { DEFAULT_SCHEDULING } from '../../../shared/admission/bucket-store.js';
import { contendedBatch, contendedMeters } from '../../../shared/admission/contention.js';
import { gcraParams, US_PER_S } from '../../../shared/admission/gcra.js';
import {
  type BucketView,
  meterIntervalUs,
  meterToleranceUs,
} from '../../../shared/admission/placement.js';

const NOW = 1_700_000_000 * US_PER_S;
const params = gcraParams({ rate: 20, burst: 10 });
const context = { scheduling: DEFAULT_SCHEDULING } as unknown as BucketContext;
const levelIndex = (level: string) => ['high', 'normal', 'low'].indexOf(level);
const LEVELS = DEFAULT_SCHEDULING.levels;

function view(meters: [number, number][]): BucketView {
  return {
    tatUs: NOW,
    frozenUs: 0,
    anchorUs: NOW,
    gridStartUs: NOW,
    multiCost: false,
    levelTailsUs: new Map(),
    flowTailsUs: new Map(),
    cutMetersUs: new Map(meters),
  };
}

describe('contendedMeters', () => {
  it("runs each call's level and every level between it and the lowest; the lowest has none", () => {
    const calls = [
      { tag: { level: 'high', flow: 'a' }, cost: 1 },
      { tag: { level: 'normal', flow: 'b' }, cost: 2 },
      { tag: { level: 'low', flow: 'c' }, cost: 5 },
    ];
    const meters = contendedMeters(
      context,
      view([
        [0, NOW],
        [1, NOW],
      ]),
      params,
      NOW,
      calls,
      levelIndex,
    );
    expect(meters).toEqual([
      { name: 'cm:high', incrementUs: 1 * meterIntervalUs(params, LEVELS, 0) },
      // normal's meter counts what high and normal together take ahead of low.
      { name: 'cm:normal', incrementUs: 3 * meterIntervalUs(params, LEVELS, 1) },
    ]);
  });

  it('restarts a meter from now only when it lay well in the past', () => {
    const calls = [{ tag: { level: 'high', flow: 'a' }, cost: 1 }];
    const step = meterIntervalUs(params, LEVELS, 0);
    const wellPast = NOW - Math.max(meterToleranceUs(params, LEVELS, 0), US_PER_S) - 1;
    const [restarted] = contendedMeters(
      context,
      view([[0, wellPast]]),
      params,
      NOW,
      calls,
      levelIndex,
    );
    expect(restarted).toEqual({ name: 'cm:high', incrementUs: step, restartAtUs: NOW + step });
    // A moment behind (a picture others may have added to since): an increment, nothing dropped.
    const [added] = contendedMeters(
      context,
      view([[0, NOW - 1_000]]),
      params,
      NOW,
      calls,
      levelIndex,
    );
    expect(added).toEqual({ name: 'cm:high', incrementUs: step });
  });
});

describe('contendedBatch', () => {
  it('waits for the whole run while it takes at most half the reach, never for less than one call', () => {
    // 1.3 s reach + 0.5 s tolerance at 50 ms a cell: half is 18 cells.
    expect(contendedBatch(Array(10).fill(1), params, 1_300_000)).toBe(10);
    expect(contendedBatch(Array(30).fill(1), params, 1_300_000)).toBe(18);
    expect(contendedBatch([40], params, 0)).toBe(1);
  });
});
