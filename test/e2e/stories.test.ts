/**
 * The seed stories of issue 15 end to end on the local stack, as `npm start -- --scenario …` and
 * `npm run bench:e2e -- --scenario …` run them (local/stories/): every target of each story is
 * met, but the drain target, which is timed and left to the benchmark. The provisioner runs at a
 * tenth of its size (its drain is paced by EC2's RunInstances bucket, 2/s); the planner whole.
 */
import { describe, expect, it } from 'vitest';
import { summaryRows } from '../../local/report.js';
import { LOCAL_LATE_ALLOWANCE_MS } from '../../local/stack.js';
import { runStory, type StoryResult } from '../../local/stories/run-story.js';
import { STORIES, type Story } from '../../local/stories/stories.js';

async function run(story: Story, scale: number): Promise<StoryResult> {
  const settings = {
    safetyFactor: 1,
    lateAllowanceMs: LOCAL_LATE_ALLOWANCE_MS,
    scale,
    concurrency: 2,
    compare: false,
  };
  const { results } = await runStory(story, settings);
  const [sluice] = results;
  if (sluice === undefined) throw new Error(`${story.description}: no run`);
  return sluice;
}

function untimedChecks(result: StoryResult) {
  return (result.checks ?? []).filter((c) => c.timed !== true);
}

describe('seed stories on the local stack', () => {
  it('provisioner: DryRun checks succeed with dryRun: true and debit no instance tokens; launches debit what they launch', async () => {
    const result = await run(STORIES.provisioner, 0.1);

    expect(result.outcome.total).toBe(10);
    expect(untimedChecks(result).filter((c) => !c.met)).toEqual([]);
    expect(result.figures).toEqual({
      instancesLaunched: 5,
      resourceTokensDebited: 5,
      providerResourceTokensDebited: 5,
    });
    expect(result.outcome.dryRuns).toBe(5);
  }, 60_000);

  it('planner: 600 quota reads of 50 plans take one provider call per distinct read; the rest are shared', async () => {
    const result = await run(STORIES.planner, 1);
    const { outcome } = result;

    expect(untimedChecks(result).filter((c) => !c.met)).toEqual([]);
    expect(result.figures).toEqual({ distinctCalls: 12, plansWithoutOffers: 0 });
    expect(outcome.providerCalls).toBeLessThanOrEqual(12);
    // Every request that made no call of its own is counted as coalesced or cached.
    expect((outcome.coalesced ?? 0) + (outcome.cached ?? 0)).toBe(600 - outcome.providerCalls);
    const [header, row] = summaryRows([outcome]);
    const column = (name: string) => row?.[header?.indexOf(name) ?? -1];
    expect(column('provider calls')).toBe(String(outcome.providerCalls));
    expect(column('coalesced')).toBe(String(outcome.coalesced));
    expect(column('cached')).toBe(String(outcome.cached));
  }, 60_000);
});
