/**
 * Running a seed story (./stories.ts): a scenario like any other (../run-scenario.ts), each run
 * with the story's own figures, and for Sluice its targets checked. Shared by `npm run bench:e2e`
 * and `npm start`.
 */
import { runScenario, type ScenarioSettings } from '../run-scenario.js';
import { figures, type RunOutcome, type Workload } from '../workload.js';
import type { Story, StoryCheck } from './stories.js';

/** A story's run and what the story makes of it. */
export interface StoryResult {
  readonly outcome: RunOutcome;
  readonly figures: Readonly<Record<string, number>>;
  /** The story's targets (Sluice's run only). */
  readonly checks?: readonly StoryCheck[];
}

/** A story's runs: Sluice's first (with its targets checked), then the peers' with `compare`. */
export interface StoryRun {
  readonly workload: Workload;
  readonly results: readonly StoryResult[];
}

/** Runs the story as a scenario (../run-scenario.ts), with its own figures and targets. */
export async function runStory(
  story: Story,
  settings: Omit<ScenarioSettings, 'measure'>,
  workload?: Workload,
): Promise<StoryRun> {
  const run = await runScenario(
    story,
    {
      ...settings,
      measure: ({ workload: sent, outcome, finishes, stack }) =>
        story.figures({ workload: sent, outcome, finishes, stack }),
    },
    workload,
  );
  const results = run.outcomes.map((outcome, i): StoryResult => {
    if (i > 0) {
      const finishes = run.finishes[i] ?? [];
      return { outcome, figures: story.figures({ workload: run.workload, outcome, finishes }) };
    }
    const own = run.measured ?? {};
    return { outcome, figures: own, checks: story.checks(outcome, own) };
  });
  return { workload: run.workload, results };
}

/** The checks as lines: `✓ target (measured)`. */
export function checkLines(checks: readonly StoryCheck[]): string[] {
  return checks.map((c) => `${c.met ? '✓' : '✗'} ${c.target} (${c.measured})`);
}

/**
 * A story run as the benchmark prints it: the run's figures (local/workload.ts `figures`), the
 * story's own, and for Sluice each target with whether it was met.
 */
export function storyJson(result: StoryResult): Record<string, unknown> {
  return {
    ...figures(result.outcome),
    ...result.figures,
    ...(result.checks === undefined
      ? {}
      : {
          targetsMet: result.checks.every((c) => c.met),
          targets: Object.fromEntries(
            result.checks.map((c) => [c.target, { met: c.met, measured: c.measured }]),
          ),
        }),
  };
}
