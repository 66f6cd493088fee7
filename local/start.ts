/**
 * `npm start`: the whole system on one machine (local/stack.ts). By default a demo: a
 * storm of EC2 and Service Quotas calls from several accounts and regions, coordinated under the
 * providers' limits, with a live view, a summary and an HTML report.
 *
 *   npm start -- [--scale 1] [--accounts 3] [--regions 2] [--safety-factor 1] [--compare]
 *                [--report-dir reports] [--log-file FILE] [--concurrency 2]
 *   npm start -- --scenario provisioner|planner [--compare] [--report-dir reports] …
 *   npm start -- --scenario priority|fairness|half-limit|shared-account|… [--compare] …
 *   npm start -- --serve [--ec2-endpoint URL] [--service-quotas-endpoint URL] [--log-file FILE]
 *
 * The dispatcher runs with Powertools on, as on Lambda; its JSON log lines and EMF metrics go to
 * a log file (by default in the report folder), not over the live view.
 *
 * The coordinator is given the provider's own limits (safety factor 1: the simulator has no
 * other clients) with the local stack's lateness allowance (stack.ts, LOCAL_LATE_ALLOWANCE_MS).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { summaryRows, textTable, writeReport } from './report.js';
import { runScenario, scenarioWorkload } from './run-scenario.js';
import { LOCAL_LATE_ALLOWANCE_MS, startLocalStack } from './stack.js';
import { checkLines, runStory } from './stories/run-story.js';
import { STORIES, type Story, storyNamed } from './stories/stories.js';
import { percentile } from './window-stats.js';
import {
  buildWorkload,
  DEFAULT_ACCOUNTS,
  DEFAULT_REGIONS,
  figures,
  type LiveBucket,
  type LiveView,
  type RunOutcome,
  runThroughStack,
  runUncoordinated,
  SCENARIOS,
  type Scenario,
  type Workload,
} from './workload.js';

const USAGE = `usage: npm start -- [options]
  --scenario NAME         storm (default: the demo), or a seed story: provisioner (RunInstances
                          DryRun checks and launches), planner (50 plans reading the same quotas),
                          or a scheduling scenario: priority (a low flood, then urgent calls),
                          fairness (two producers), half-limit (the provider grants half the
                          catalog's rate), shared-account (an outside client spends half),
                          run-instances, at-limit, run-instances-5
  --scale N               calls per bucket × N (default 1: ~20 s, ~40 s with --compare)
  --accounts N            target accounts, 1-3 (default 3)
  --regions N             regions, 1-2 (default 2)
  --safety-factor F       share of the provider's limits the coordinator uses, (0, 1] (default 1)
  --concurrency N         batches in flight per queue (event source maximum concurrency, default 2)
  --compare               also run the storm with the SDK's standard and adaptive retries
  --report-dir DIR        where the HTML report goes (default reports)
  --log-file FILE         where the dispatcher's Powertools logs and EMF metrics go
                          (default DIR/sluice-dispatcher-<time>.log)
  --serve                 keep the stack running for \`npx sluice\`; prints export lines
  --ec2-endpoint URL      (serve) EC2 endpoint instead of the simulator ($AWS_ENDPOINT_URL_EC2)
  --service-quotas-endpoint URL  (serve) likewise ($AWS_ENDPOINT_URL_SERVICE_QUOTAS)`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        scenario: { type: 'string', default: 'storm' },
        scale: { type: 'string', default: '1' },
        accounts: { type: 'string', default: '3' },
        regions: { type: 'string', default: '2' },
        'safety-factor': { type: 'string', default: '1' },
        concurrency: { type: 'string', default: '2' },
        compare: { type: 'boolean', default: false },
        'report-dir': { type: 'string', default: 'reports' },
        'log-file': { type: 'string' },
        serve: { type: 'boolean', default: false },
        'ec2-endpoint': { type: 'string' },
        'service-quotas-endpoint': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const { values } = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function numberOption(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    console.error(`--${name} must be a number from ${min} to ${max}, not ${raw}\n${USAGE}`);
    process.exit(2);
  }
  return value;
}
const scale = numberOption('scale', values.scale, 0.01, 100);
const accountCount = numberOption('accounts', values.accounts, 1, DEFAULT_ACCOUNTS.length);
const regionCount = numberOption('regions', values.regions, 1, DEFAULT_REGIONS.length);
const safetyFactor = numberOption('safety-factor', values['safety-factor'], 0.01, 1);
const concurrency = numberOption('concurrency', values.concurrency, 1, 50);
const accounts = DEFAULT_ACCOUNTS.slice(0, accountCount);
const regions = DEFAULT_REGIONS.slice(0, regionCount);
const limits = { safetyFactor };
const logFile = resolve(
  values['log-file'] ??
    join(
      values['report-dir'],
      `sluice-dispatcher-${new Date().toISOString().replace(/[:.]/g, '-')}.log`,
    ),
);

const story = storyNamed(values.scenario);
const scenario =
  values.scenario === 'storm'
    ? undefined
    : (SCENARIOS as Record<string, Scenario | undefined>)[values.scenario];
if (story === undefined && scenario === undefined && values.scenario !== 'storm') {
  const names = ['storm', ...Object.keys(STORIES), ...Object.keys(SCENARIOS)].join(', ');
  console.error(`--scenario must be one of ${names}, not ${values.scenario}\n${USAGE}`);
  process.exit(2);
}

if (values.serve) await serve();
else if (story !== undefined) await storyDemo(story);
else if (scenario !== undefined) await scenarioDemo(scenario);
else await demo();

async function serve(): Promise<void> {
  const ec2 = values['ec2-endpoint'] ?? process.env.AWS_ENDPOINT_URL_EC2;
  const serviceQuotas =
    values['service-quotas-endpoint'] ?? process.env.AWS_ENDPOINT_URL_SERVICE_QUOTAS;
  const endpoints = ec2 !== undefined && serviceQuotas !== undefined ? { ec2, serviceQuotas } : {};
  const stack = await startLocalStack({
    accounts,
    config: { limits },
    endpoints,
    maxConcurrency: concurrency,
    logFile,
    start: true,
  });
  const lines = stack.cliEnvironment;
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  console.log('# Sluice local stack is running. Paste these lines in another terminal:');
  for (const [name, value] of Object.entries(lines)) console.log(`export ${name}=${quote(value)}`);
  console.log(
    `# targets: accounts ${accounts.join(', ')}; calls go to ${
      stack.simulator
        ? `the provider simulator at ${stack.simulator.endpoint}`
        : `${ec2} and ${serviceQuotas}`
    }`,
  );
  console.log(
    `# try: npx sluice submit --id hello-1 --account ${accounts[0]} --region us-east-1 --service ec2 --operation DescribeInstances && npx sluice result hello-1 --wait`,
  );
  console.log(
    '# any AWS client works too (boto3, the AWS CLI: they read AWS_DEFAULT_REGION): see examples/python/sluice_producer.py and examples/shell/sluice-producer.sh;',
  );
  console.log(
    '#   a result is the JSON string in the attribute "result" of the requests table item {"id": {"S": "default#<id>"}},',
  );
  console.log(
    `#   or pushed to --reply-to ${stack.replyQueueUrl} (a queue) or ${stack.replyTopicArn} (a topic: subscribe queues to it)`,
  );
  console.log(`# the dispatcher's logs and EMF metrics: ${logFile}`);
  console.log('# Ctrl-C stops everything.');
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      console.log(`\n${signal}: stopping…`);
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await stack.stop();
  console.log('stopped');
}

async function demo(): Promise<void> {
  const workload = buildWorkload({
    accounts,
    regions,
    scale,
    limits,
    lateAllowanceMs: LOCAL_LATE_ALLOWANCE_MS,
  });
  const limitOf = new Map(workload.buckets.map((b) => [b.label, b.configured.rate]));
  const live = createLiveView(limitOf);
  console.log(
    `Sluice local stack: ${workload.requests.length} calls from ${accounts.length} accounts × ${regions.length} regions ` +
      `(RunInstances, DescribeInstances, ListServiceQuotas), safety factor ${safetyFactor}; ideal drain ${workload.idealSeconds.toFixed(1)} s`,
  );
  const stack = await startLocalStack({
    accounts,
    config: { limits },
    maxConcurrency: concurrency,
    logFile,
    start: true,
  });
  const outcomes: RunOutcome[] = [];
  try {
    outcomes.push(await runThroughStack(stack, workload, { onTick: live.tick }));
  } finally {
    live.end();
    await stack.stop();
  }
  if (values.compare) {
    for (const retryMode of ['standard', 'adaptive'] as const) {
      console.log(`\nThe same storm, uncoordinated: SDK retryMode '${retryMode}', maxAttempts 3`);
      const peerLive = createLiveView(limitOf);
      try {
        outcomes.push(await runUncoordinated(workload, { retryMode, onTick: peerLive.tick }));
      } finally {
        peerLive.end();
      }
    }
  }
  console.log(`\n${textTable(summaryRows(outcomes))}`);
  console.log(
    `\nideal s: (calls − burst) / rate of the limiting bucket at the provider's limits; ` +
      `at the configured limits (safety factor ${safetyFactor}, bursts trimmed by the ` +
      `${LOCAL_LATE_ALLOWANCE_MS} ms lateness allowance) it is ${workload.configuredIdealSeconds.toFixed(1)} s`,
  );
  const sluice = outcomes[0];
  if (sluice) {
    console.log(
      `\nDynamoDB requests per call (coordination cost): ${((sluice.dynamoRequests ?? 0) / sluice.total).toFixed(2)}`,
    );
  }
  writeReportAndSay(workload, outcomes, {
    accounts: String(accounts.length),
    regions: String(regions.length),
  });
}

/**
 * A seed story (local/stories/stories.ts) with its live view, its targets checked, the peers
 * with `--compare`, and the report.
 */
async function storyDemo(chosen: Story): Promise<void> {
  const { settings, workload, views } = announce(chosen);
  const { results } = await runStory(chosen, { ...settings, ...views }, workload);
  views.end();
  const outcomes = results.map((r) => r.outcome);
  console.log(`\n${textTable(summaryRows(outcomes))}`);
  for (const result of results) {
    const own = Object.entries(result.figures).map(([name, value]) => `${name} ${value}`);
    if (own.length > 0) console.log(`${result.outcome.name}: ${own.join(', ')}`);
  }
  console.log(`\nTargets:\n${checkLines(results[0]?.checks ?? []).join('\n')}`);
  writeReportAndSay(workload, outcomes, { scenario: values.scenario });
}

/**
 * A scheduling scenario (local/scenarios.ts): the live view with each bucket's learned rate and
 * each level's wait, the summary, the waits by level and by producer, and the report (which
 * charts the learned rate and the waits).
 */
async function scenarioDemo(chosen: Scenario): Promise<void> {
  const { settings, workload, views } = announce(chosen);
  const run = await runScenario(chosen, { ...settings, ...views }, workload);
  views.end();
  console.log(`\n${textTable(summaryRows(run.outcomes))}`);
  const sluice = run.outcomes[0];
  if (sluice !== undefined) {
    const f = figures(sluice);
    for (const [level, w] of Object.entries(f.waitByPriority ?? {}))
      console.log(`wait ${level}: ${w.count} calls, p50 ${w.p50Ms} ms, p99 ${w.p99Ms} ms`);
    for (const [producer, flow] of Object.entries(f.flows ?? {}))
      console.log(
        `producer ${producer}: ${flow.completed}/${flow.count} done, ${flow.spanSeconds} s from its first call to its last result`,
      );
    if (f.recoverySeconds !== undefined)
      console.log(
        `back at the configured rate ${f.recoverySeconds} s after the outside client stopped`,
      );
  }
  writeReportAndSay(workload, run.outcomes, { scenario: values.scenario });
}

/** The run settings and the scenario's workload, announced; a live view for each run. */
function announce(chosen: Scenario) {
  const settings = { ...runSettings(), compare: values.compare };
  const workload = scenarioWorkload(chosen, settings);
  console.log(
    `Sluice local stack, ${values.scenario}: ${chosen.description}; ${workload.requests.length} calls, ` +
      `ideal drain ${workload.idealSeconds.toFixed(1)} s at the provider's limits`,
  );
  const views = liveViewPerRun(new Map(workload.buckets.map((b) => [b.label, b.configured.rate])));
  return { settings, workload, views };
}

/**
 * A live view for each run of a scenario (Sluice's, then each peer's, introduced by a line):
 * `onRun` and `onTick` for the scenario runner, `end` after the last run.
 */
function liveViewPerRun(limitOf: ReadonlyMap<string, number>) {
  let live: ReturnType<typeof createLiveView> | undefined;
  return {
    onRun: (name: string) => {
      live?.end();
      if (name !== 'Sluice')
        console.log(`\nThe same calls, uncoordinated: ${name} retries, maxAttempts 3`);
      live = createLiveView(limitOf);
    },
    onTick: (view: LiveView) => live?.tick(view),
    end: () => live?.end(),
  };
}

/** Requests of a bucket answered by a shared read (coalesced or cached), with no admission. */
function shared(b: LiveBucket): number {
  return (b.coalesced ?? 0) + (b.cached ?? 0);
}

/** The live view: a redrawn table on a terminal, a line every 5 s otherwise. */
function createLiveView(limitOf: ReadonlyMap<string, number>) {
  const tty = process.stdout.isTTY === true;
  let drawn = 0;
  let lastLine = 0;
  let last: LiveView | undefined;
  const render = (view: LiveView): string[] => {
    // Uncoordinated runs admit nothing: their rate is what the provider ran.
    const rows = [
      [
        'bucket',
        'queued',
        'admitted',
        'running',
        'done',
        'failed',
        'throttled',
        'coalesced',
        'cached',
        'admitted/s',
        'learned/s',
        'limit/s',
      ],
    ];
    for (const [label, b] of view.buckets) {
      rows.push([
        label,
        // Waiting for admission: neither admitted nor answered by a shared read.
        String(Math.max(0, b.submitted - (b.admitted ?? b.finished) - shared(b))),
        b.admitted === undefined ? '-' : String(b.admitted),
        b.running === undefined ? '-' : String(b.running),
        String(b.finished),
        String(b.failed),
        String(b.throttled),
        b.coalesced === undefined ? '-' : String(b.coalesced),
        b.cached === undefined ? '-' : String(b.cached),
        (b.admittedRate ?? b.recentRate).toFixed(1),
        // The bucket's learned rate (below the limit after provider throttles).
        b.learnedRate === undefined ? '-' : b.learnedRate.toFixed(2),
        (limitOf.get(label) ?? 0).toFixed(1),
      ]);
    }
    return [
      `${view.name}: ${view.finished}/${view.total} finished after ${view.elapsedS.toFixed(1)} s`,
      ...textTable(rows).split('\n'),
      ...waitLines(view),
    ];
  };
  return {
    tick(view: LiveView) {
      last = view;
      if (tty) {
        const lines = render(view);
        if (drawn > 0) process.stdout.write(`\x1b[${drawn}F`);
        process.stdout.write(`${lines.map((l) => `${l}\x1b[K`).join('\n')}\n`);
        drawn = lines.length;
      } else if (view.elapsedS - lastLine >= 5) {
        lastLine = view.elapsedS;
        let executed = 0;
        let throttled = 0;
        let rate = 0;
        let shared: { coalesced: number; cached: number } | undefined;
        for (const b of view.buckets.values()) {
          executed += b.executed;
          throttled += b.throttled;
          rate += b.recentRate;
          if (b.coalesced !== undefined || b.cached !== undefined) {
            shared ??= { coalesced: 0, cached: 0 };
            shared.coalesced += b.coalesced ?? 0;
            shared.cached += b.cached ?? 0;
          }
        }
        console.log(
          `[${view.elapsedS.toFixed(0).padStart(3)} s] ${view.name}: ${view.finished}/${view.total} finished, ` +
            `${executed} executed (${rate.toFixed(1)}/s), ${throttled} provider throttles` +
            (shared === undefined
              ? ''
              : `, ${shared.coalesced} coalesced, ${shared.cached} cached (no call)`),
        );
        for (const line of waitLines(view)) console.log(`      ${line}`);
      }
    },
    end() {
      if (!tty && last) {
        console.log(`${view(last)}`);
      }
    },
  };
  function view(v: LiveView): string {
    return `[${v.elapsedS.toFixed(0).padStart(3)} s] ${v.name}: ${v.finished}/${v.total} finished`;
  }
}

/** Each priority level's wait so far (sent to the call leaving): who waits for whom. */
function waitLines(view: LiveView): string[] {
  if (view.waitsMs === undefined || view.waitsMs.size === 0) return [];
  const parts = [...view.waitsMs].map(([level, waits]) => {
    const sorted = [...waits].sort((a, b) => a - b);
    return `${level} ${sorted.length} calls, p50 ${Math.round(percentile(sorted, 0.5))} ms, p99 ${Math.round(percentile(sorted, 0.99))} ms`;
  });
  return [`waits: ${parts.join('; ')}`];
}

/** What a story or a scenario runs with, from the command line. */
function runSettings() {
  return { safetyFactor, lateAllowanceMs: LOCAL_LATE_ALLOWANCE_MS, scale, concurrency, logFile };
}

/** Writes the HTML report of a run (with the settings it ran with) and says where it and the log are. */
function writeReportAndSay(
  workload: Workload,
  outcomes: readonly RunOutcome[],
  settings: Readonly<Record<string, string>>,
): void {
  const file = writeReport(values['report-dir'], {
    workload,
    outcomes,
    generatedAt: new Date(),
    settings: {
      ...settings,
      scale: String(scale),
      'safety-factor': String(safetyFactor),
      concurrency: String(concurrency),
    },
  });
  console.log(`\nReport: ${file}`);
  console.log(`Dispatcher log (Powertools JSON logs and EMF metrics): ${logFile}`);
}
