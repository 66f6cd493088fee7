/**
 * `npm run bench:e2e -- [--scenario storm|run-instances|run-instances-5|provisioner|planner] [--compare]
 *   [--scale N] [--safety-factor F] [--concurrency N] [--late-allowance-ms MS]`
 *
 * A fixed workload through the local stack. Scenarios (local/workload.ts): `storm`, the
 * demo's (3 accounts × 2 regions × RunInstances, DescribeInstances, ListServiceQuotas); and the
 * issue's single-bucket peer scenarios: `run-instances` (EC2's RunInstances bucket, 5 tokens at
 * 2/s, 8 clients × 10 calls) and `run-instances-5` (5/s with a burst of 10, 8 clients × 25); and
 * the seed stories of issue 15 (local/stories/stories.ts): `provisioner` (DryRun checks and
 * launches) and `planner` (identical quota reads shared and cached), whose JSON adds the story's
 * own figures and its targets.
 * The coordinator is told the provider's limits, then the safety factor applies.
 *
 * Progress on stderr; the last stdout line is one JSON object: `{total, completed, failed,
 * providerThrottles, duplicates, drainSeconds, idealSeconds, drainRatio, configuredIdealSeconds,
 * drainRatioConfigured, lostPercent, throttlesPerCompleted, p50LatencyMs, p99LatencyMs,
 * ddbRequestsPerCall}`, with `sdkStandard` and `sdkAdaptive` (uncoordinated clients using the
 * SDK's retry modes, 3 attempts) when run with `--compare`. `idealSeconds` is `(N − burst) /
 * rate` for the bucket that limits, at the provider's limits; `configuredIdealSeconds` the same
 * at the limits the coordinator was configured with.
 */
import { parseArgs } from 'node:util';
import type { RunOutcome } from '../../local/run-outcome.js';
import { runScenario, scenarioWorkload } from '../../local/run-scenario.js';
import { LOCAL_LATE_ALLOWANCE_MS } from '../../local/stack.js';
import { checkLines, runStory, storyJson } from '../../local/stories/run-story.js';
import { STORIES, type Story, storyNamed } from '../../local/stories/stories.js';
import { figures, type LiveView, SCENARIOS, type Scenario } from '../../local/workload.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'storm' },
    compare: { type: 'boolean', default: false },
    scale: { type: 'string', default: '1' },
    'safety-factor': { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '2' },
    'late-allowance-ms': { type: 'string', default: String(LOCAL_LATE_ALLOWANCE_MS) },
    'log-every': { type: 'string', default: '5' },
  },
});
let lastLog = 0;
const onTick = (view: LiveView) => {
  if (view.elapsedS - lastLog < Number(values['log-every'])) return;
  lastLog = view.elapsedS;
  let throttled = 0;
  const rates: string[] = [];
  for (const b of view.buckets.values()) {
    throttled += b.throttled;
    if (b.learnedRate !== undefined) rates.push(b.learnedRate.toFixed(2));
  }
  const learned = rates.length === 0 ? '' : `, learned rate ${rates.join(' ')}/s`;
  process.stderr.write(
    `[${view.elapsedS.toFixed(0)} s] ${view.name}: ${view.finished}/${view.total} finished, ${throttled} throttles${learned}\n`,
  );
};

const story = storyNamed(values.scenario);
if (story !== undefined) await benchStory(story);
const scenario: Scenario | undefined = (SCENARIOS as Record<string, Scenario>)[values.scenario];
if (scenario === undefined) {
  const names = [...Object.keys(SCENARIOS), ...Object.keys(STORIES)];
  console.error(`--scenario must be one of ${names.join(', ')}, not ${values.scenario}`);
  process.exit(2);
}
const { settings, workload } = prepare(scenario);
const run = await runScenario(scenario, settings, workload);
const [sluiceRun, standard, adaptive] = run.outcomes;
const sluice = figures(sluiceRun as RunOutcome);
const out: Record<string, unknown> = {
  scenario: values.scenario,
  ...sluice,
  // The acceptance figure of the priority scenario: the high level's wait, sending to call.
  ...(sluice.waitByPriority?.high === undefined
    ? {}
    : { interactiveWaitP99Ms: sluice.waitByPriority.high.p99Ms }),
  ...(run.outsideCalls === undefined ? {} : { outsideClient: run.outsideCalls }),
  ...lateFlow(),
  ...(standard === undefined ? {} : { sdkStandard: figures(standard) }),
  ...(adaptive === undefined ? {} : { sdkAdaptive: figures(adaptive) }),
};
console.log(JSON.stringify(out));

/**
 * The fairness figure: the producer that starts last, from its first call sent to its last
 * result, against what its fair share allows — `1.25 × its calls / (rate / producers) + 2 s` at
 * the provider's rate of the bucket that limits.
 */
function lateFlow(): Record<string, number> {
  const flows = Object.values(sluice.flows ?? {});
  if (flows.length < 2) return {};
  const late = flows.reduce((a, b) => (b.firstSentS > a.firstSentS ? b : a));
  const rate = Math.min(...workload.buckets.map((b) => b.provider.rate));
  return {
    lateFlowSpanSeconds: late.spanSeconds,
    lateFlowBoundSeconds: Number(((1.25 * late.count) / (rate / flows.length) + 2).toFixed(2)),
  };
}

/** The run settings from the command line, and the scenario's workload, announced on stderr. */
function prepare(chosen: Scenario) {
  const settings = {
    safetyFactor: Number(values['safety-factor']),
    lateAllowanceMs: Number(values['late-allowance-ms']),
    scale: Number(values.scale),
    concurrency: Number(values.concurrency),
    compare: values.compare,
    onTick,
    onRun: () => {
      lastLog = 0;
    },
  };
  const workload = scenarioWorkload(chosen, settings);
  process.stderr.write(
    `e2e ${values.scenario} (${chosen.description}): ${workload.requests.length} calls, ` +
      `${workload.buckets.length} buckets, ideal ${workload.idealSeconds.toFixed(1)} s\n`,
  );
  return { settings, workload };
}

/**
 * A seed story (local/stories/stories.ts): through the local stack with the story's
 * configuration, and with `--compare` by the peers; one JSON line with the story's own figures and
 * its targets (`targetsMet`, `targets`). Exits when done.
 */
async function benchStory(story: Story): Promise<never> {
  const { settings, workload } = prepare(story);
  const { results } = await runStory(story, settings, workload);
  const [sluice, standard, adaptive] = results;
  for (const line of checkLines(sluice?.checks ?? [])) process.stderr.write(`${line}\n`);
  const result: Record<string, unknown> = {
    ...(sluice === undefined ? {} : storyJson(sluice)),
    ...(standard === undefined ? {} : { sdkStandard: storyJson(standard) }),
    ...(adaptive === undefined ? {} : { sdkAdaptive: storyJson(adaptive) }),
  };
  await new Promise((done) => process.stdout.write(`${JSON.stringify(result)}\n`, done));
  process.exit(0);
}
