/**
 * Running a seed story (./stories.ts): through the local stack with the story's configuration,
 * or by the uncoordinated peers; each run with the story's own figures, and for Sluice its
 * targets checked. Shared by `npm run bench:e2e` and `npm start`.
 */
import { type LocalStack, startLocalStack } from '../stack.js';
import {
  buildWorkload,
  figures,
  type LiveView,
  type RunFinish,
  type RunOutcome,
  runThroughStack,
  runUncoordinated,
  scenarioLimits,
  type Workload,
} from '../workload.js';
import type { Story, StoryCheck } from './stories.js';

/** Settings of a story's runs. */
export interface StorySettings {
  /** Share of the provider's limits the coordinator is told. */
  readonly safetyFactor: number;
  readonly lateAllowanceMs: number;
  /** Calls per bucket × this. @default 1 */
  readonly scale?: number;
  /** Batches in flight per request queue. */
  readonly concurrency: number;
  /** Where the dispatcher's Powertools lines go. */
  readonly logFile?: string;
  readonly onTick?: (view: LiveView) => void;
}

/** A story's run and what the story makes of it. */
export interface StoryResult {
  readonly outcome: RunOutcome;
  readonly figures: Readonly<Record<string, number>>;
  /** The story's targets (Sluice's run only). */
  readonly checks?: readonly StoryCheck[];
}

/** The story's workload at these settings. */
export function storyWorkload(story: Story, settings: StorySettings): Workload {
  return buildWorkload({
    accounts: story.accounts,
    regions: story.regions,
    storm: story.storm,
    scale: settings.scale ?? 1,
    limits: scenarioLimits(story, settings.safetyFactor),
    lateAllowanceMs: settings.lateAllowanceMs,
    ...(story.providerLimits ? { providerLimits: story.providerLimits } : {}),
  });
}

/** Runs the story through a local stack configured as the story says; checks its targets. */
export async function runStoryThroughStack(
  story: Story,
  workload: Workload,
  settings: StorySettings,
): Promise<StoryResult> {
  const stack: LocalStack = await startLocalStack({
    accounts: story.accounts,
    config: {
      limits: scenarioLimits(story, settings.safetyFactor),
      lateAllowanceMs: settings.lateAllowanceMs,
      ...story.config,
    },
    ...(story.providerLimits ? { simulator: { limits: story.providerLimits } } : {}),
    maxConcurrency: settings.concurrency,
    ...(settings.logFile === undefined ? {} : { logFile: settings.logFile }),
    start: true,
  });
  try {
    const finishes: RunFinish[] = [];
    const outcome = await runThroughStack(stack, workload, {
      onFinish: (finish) => finishes.push(finish),
      ...(settings.onTick ? { onTick: settings.onTick } : {}),
    });
    const figures = story.figures({ workload, outcome, finishes, stack });
    return { outcome, figures, checks: story.checks(outcome, figures) };
  } finally {
    await stack.stop();
  }
}

/** Runs the story's calls by uncoordinated clients with the SDK's own retry mode. */
export async function runStoryPeers(
  story: Story,
  workload: Workload,
  retryMode: 'standard' | 'adaptive',
  onTick?: (view: LiveView) => void,
): Promise<StoryResult> {
  const finishes: RunFinish[] = [];
  const outcome = await runUncoordinated(workload, {
    retryMode,
    clientsPerTarget: story.clientsPerTarget,
    onFinish: (finish) => finishes.push(finish),
    ...(onTick ? { onTick } : {}),
    ...(story.providerLimits ? { simulatorLimits: story.providerLimits } : {}),
  });
  return { outcome, figures: story.figures({ workload, outcome, finishes }) };
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
