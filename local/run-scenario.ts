/**
 * One named scenario (./scenarios.ts, or a seed story of ./stories/) from start to end, for the
 * benchmark (test/bench/e2e.ts) and the demo (`npm start -- --scenario …`): the coordinator's
 * limits, the workload, a local stack configured as the scenario says (the provider's own
 * limits, named producers on their own queues, the read cache), an outside client spending the
 * same budget, the run through Sluice (measured before its stack stops) and, when asked, the same
 * workload by uncoordinated SDK clients.
 */
import { type OutsideCalls, startOutsideClient } from './outside-client.js';
import type { LiveView, RunFinish, RunOutcome } from './run-outcome.js';
import { runUncoordinated } from './run-peers.js';
import { runThroughStack } from './run-sluice.js';
import { type Scenario, scenarioLimits } from './scenarios.js';
import { LOCAL_ALLOW, type LocalStack, startLocalStack } from './stack.js';
import { buildWorkload, type Workload } from './workload.js';

/** Settings of {@link runScenario}. */
export interface ScenarioSettings {
  readonly safetyFactor: number;
  readonly lateAllowanceMs: number;
  readonly scale: number;
  readonly concurrency: number;
  /** Also run the workload with uncoordinated clients (SDK standard, then adaptive retries). */
  readonly compare: boolean;
  readonly onTick?: (view: LiveView) => void;
  /** Called before each run (Sluice, then the peers), e.g. to start a new live view. */
  readonly onRun?: (name: string) => void;
  readonly logFile?: string;
  /**
   * Measures Sluice's run before its stack stops (e.g. the simulator's counters); what it returns
   * is the run's `measured`.
   */
  readonly measure?: (run: MeasuredRun) => Readonly<Record<string, number>>;
}

/** What {@link ScenarioSettings.measure} sees of Sluice's run. */
export interface MeasuredRun {
  readonly workload: Workload;
  readonly outcome: RunOutcome;
  readonly finishes: readonly RunFinish[];
  readonly stack: LocalStack;
}

/** What a scenario run gives: the workload, Sluice's run first, then the peers'. */
export interface ScenarioRun {
  readonly workload: Workload;
  readonly outcomes: readonly RunOutcome[];
  /** Every request that finished, per run (in the order of `outcomes`). */
  readonly finishes: readonly (readonly RunFinish[])[];
  /** What `measure` made of Sluice's run. */
  readonly measured?: Readonly<Record<string, number>>;
  /** What the outside client did, when the scenario has one. */
  readonly outsideCalls?: OutsideCalls;
}

/** The workload a scenario sends, at the coordinator's limits for it. */
export function scenarioWorkload(scenario: Scenario, settings: ScenarioSettings): Workload {
  return buildWorkload({
    accounts: scenario.accounts,
    regions: scenario.regions,
    storm: scenario.storm,
    scale: settings.scale,
    limits: scenarioLimits(scenario, settings.safetyFactor),
    lateAllowanceMs: settings.lateAllowanceMs,
    ...(scenario.providerLimits ? { providerLimits: scenario.providerLimits } : {}),
  });
}

/** Runs `scenario` through a local stack configured for it (and the peers with `compare`). */
export async function runScenario(
  scenario: Scenario,
  settings: ScenarioSettings,
  workload: Workload = scenarioWorkload(scenario, settings),
): Promise<ScenarioRun> {
  const stack = await startLocalStack({
    accounts: scenario.accounts,
    config: {
      limits: scenarioLimits(scenario, settings.safetyFactor),
      lateAllowanceMs: settings.lateAllowanceMs,
      ...scenario.config,
      // Each named producer may run what the local targets allow, on its own queue.
      ...(scenario.producers === undefined
        ? {}
        : {
            producers: scenario.producers.map((name) => ({
              name,
              allow: LOCAL_ALLOW.map((grant) => ({ accounts: [...scenario.accounts], ...grant })),
            })),
          }),
    },
    ...(scenario.providerLimits ? { simulator: { limits: scenario.providerLimits } } : {}),
    maxConcurrency: settings.concurrency,
    ...(settings.logFile === undefined ? {} : { logFile: settings.logFile }),
    start: true,
  });
  const outcomes: RunOutcome[] = [];
  const finishes: RunFinish[][] = [];
  let measured: Readonly<Record<string, number>> | undefined;
  let outsideCalls: OutsideCalls | undefined;
  try {
    // A client outside Sluice spending the same budget, as the scenario says.
    const outside =
      scenario.outside === undefined || stack.simulator === undefined
        ? undefined
        : startOutsideClient(
            scenario.outside,
            stack.simulator.endpoint,
            scenario.accounts[0] as string,
            scenario.regions[0] as string,
          );
    settings.onRun?.('Sluice');
    const finished: RunFinish[] = [];
    const outcome = await runThroughStack(stack, workload, {
      onFinish: (finish) => finished.push(finish),
      ...(settings.onTick === undefined ? {} : { onTick: settings.onTick }),
      ...(scenario.outside === undefined ? {} : { sharedUntilMs: scenario.outside.untilMs }),
    });
    outcomes.push(outcome);
    finishes.push(finished);
    outsideCalls = await outside?.stop();
    measured = settings.measure?.({ workload, outcome, finishes: finished, stack });
  } finally {
    await stack.stop();
  }
  if (settings.compare) {
    for (const retryMode of ['standard', 'adaptive'] as const) {
      settings.onRun?.(`SDK ${retryMode}`);
      const finished: RunFinish[] = [];
      finishes.push(finished);
      outcomes.push(
        await runUncoordinated(workload, {
          retryMode,
          clientsPerTarget: scenario.clientsPerTarget,
          onFinish: (finish) => finished.push(finish),
          ...(settings.onTick === undefined ? {} : { onTick: settings.onTick }),
          ...(scenario.providerLimits ? { simulatorLimits: scenario.providerLimits } : {}),
          ...(scenario.outside ? { outside: scenario.outside } : {}),
        }),
      );
    }
  }
  return {
    workload,
    outcomes,
    finishes,
    ...(measured === undefined ? {} : { measured }),
    ...(outsideCalls === undefined ? {} : { outsideCalls }),
  };
}
