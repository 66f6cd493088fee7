/**
 * Runs a workload with no coordinator: per (account, region), independent clients each make
 * their share of the calls directly, retrying with the AWS SDK's own retry mode (`standard` or
 * `adaptive`), against a fresh provider simulator — the peers Sluice is compared with.
 */
import type { SluiceRequest } from '../shared/contract/request.js';
import { classifyCallError } from '../shared/dispatch/classify.js';
import {
  type CommandClass,
  type LoadedService,
  type SdkClient,
  SERVICES,
} from '../shared/services/registry.js';
import { accountCredentials } from './emulators/credentials.js';
import { startOutsideClient } from './outside-client.js';
import {
  duplicatesOf,
  executionsByBucket,
  FinishTally,
  liveBuckets,
  type RunOptions,
  type RunOutcome,
  simTotals,
} from './run-outcome.js';
import type { OutsideClient } from './scenarios.js';
import { type SimLimits, startProviderSimulator } from './simulator/index.js';
import type { Workload } from './workload.js';

/** Settings of {@link runUncoordinated}. */
export interface UncoordinatedOptions extends RunOptions {
  readonly retryMode: 'standard' | 'adaptive';
  /** The SDK's attempts per call. @default 3 */
  readonly maxAttempts?: number;
  /** Independent clients per (account, region), each with its own SDK clients. @default 8 */
  readonly clientsPerTarget?: number;
  /** The provider's limits (same as the coordinated run's simulator). */
  readonly simulatorLimits?: SimLimits;
  /** A client outside spending the same budget, as in the coordinated run. */
  readonly outside?: OutsideClient;
}

/**
 * Runs the workload with no coordinator: per (account, region), independent clients each make
 * their share of the calls directly, retrying with the SDK's own retry mode, against a fresh
 * simulator.
 */
export async function runUncoordinated(
  workload: Workload,
  options: UncoordinatedOptions,
): Promise<RunOutcome> {
  // Each service's SDK client package, as the call runner loads it (the service registry).
  const services = new Map<string, LoadedService>();
  for (const id of new Set(workload.requests.map((r) => r.call.service))) {
    const definition = SERVICES[id];
    if (definition === undefined) throw new Error(`service ${id} is not in the registry`);
    services.set(id, await definition.load());
  }
  for (const { call } of workload.requests) {
    if (services.get(call.service)?.command(call.operation) === undefined)
      throw new Error(`${call.service} has no operation ${call.operation}`);
  }
  const sim = await startProviderSimulator(
    options.simulatorLimits === undefined ? {} : { limits: options.simulatorLimits },
  );
  const name = `SDK ${options.retryMode}`;
  const startMs = Date.now();
  const first = workload.requests[0];
  const outside =
    options.outside === undefined || first === undefined
      ? undefined
      : startOutsideClient(
          options.outside,
          sim.endpoint,
          first.target.account,
          first.target.region,
        );
  const tally = new FinishTally(startMs, workload.bucketOf);
  const throttleSamples: [number, number][] = [[0, 0]];
  const submitted = new Map<string, number>();
  const total = workload.requests.length;
  const tick = () => {
    const now = Date.now();
    throttleSamples.push([(now - startMs) / 1000, simTotals(sim).throttled]);
    options.onTick?.({
      name,
      elapsedS: (now - startMs) / 1000,
      total,
      finished: tally.finished,
      buckets: liveBuckets(workload, sim, submitted, tally.finishedBy, now),
    });
  };
  const timer = setInterval(tick, 500);

  // Per (account, region): the calls, dealt round-robin to independent clients.
  const byTarget = new Map<string, SluiceRequest[]>();
  for (const r of workload.requests) {
    const key = `${r.target.account}/${r.target.region}`;
    const list = byTarget.get(key) ?? [];
    list.push(r);
    byTarget.set(key, list);
    const label = workload.bucketOf.get(r.id) ?? '';
    submitted.set(label, (submitted.get(label) ?? 0) + 1);
  }
  const perTarget = options.clientsPerTarget ?? 8;
  const workers: Promise<void>[] = [];
  const destroyers: (() => void)[] = [];
  for (const list of byTarget.values()) {
    for (let w = 0; w < perTarget; w++) {
      const share = list.filter((_, i) => i % perTarget === w);
      const first = share[0];
      if (first === undefined) continue;
      const config = {
        region: first.target.region,
        endpoint: sim.endpoint,
        credentials: accountCredentials(first.target.account),
        retryMode: options.retryMode,
        maxAttempts: options.maxAttempts ?? 3,
      };
      // One SDK client per service for this peer, made on its first call.
      const clients = new Map<string, SdkClient>();
      const clientOf = (service: string, loaded: LoadedService): SdkClient => {
        let client = clients.get(service);
        if (client === undefined) {
          client = loaded.createClient(config);
          clients.set(service, client);
          destroyers.push(() => client?.destroy());
        }
        return client;
      };
      workers.push(
        (async () => {
          for (const r of share) {
            // Timed arrivals are sent at their times, as in the coordinated run.
            const due = startMs + (workload.sendAtMs.get(r.id) ?? 0) - Date.now();
            if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
            const started = Date.now();
            let ok = true;
            let dryRun = false;
            try {
              const { service, operation } = r.call;
              const loaded = services.get(service) as LoadedService;
              // Checked for every request before the run.
              const Command = loaded.command(operation) as CommandClass;
              // Like Sluice's calls, token-protected ones carry a token (the peer's own).
              const tokenField = SERVICES[service]?.idempotencyTokens[operation];
              const input =
                tokenField === undefined
                  ? r.call.input
                  : { ...r.call.input, [tokenField]: `peer-${r.id}`.slice(0, 64) };
              await clientOf(service, loaded).send(new Command(input));
            } catch (error) {
              // A DryRun that would have succeeded answers with an error: the one classifier says.
              dryRun = classifyCallError(error).kind === 'dry-run';
              ok = dryRun;
            }
            const now = Date.now();
            tally.record(r.id, ok, now, now - started, dryRun ? 'dry-run' : undefined);
            options.onFinish?.({ id: r.id, ok });
          }
        })(),
      );
    }
  }
  await Promise.all(workers);
  await outside?.stop();
  clearInterval(timer);
  tick();
  for (const destroy of destroyers) destroy();
  const totals = simTotals(sim);
  const outcome: RunOutcome = {
    name,
    total,
    ...tally.figures(),
    failed: tally.finishes.filter((f) => !f.ok).length,
    providerThrottles: totals.throttled,
    duplicates: duplicatesOf(sim),
    idealSeconds: workload.idealSeconds,
    configuredIdealSeconds: workload.configuredIdealSeconds,
    executions: executionsByBucket(sim, startMs),
    throttleSamples,
    providerCalls: totals.received,
  };
  await sim.close();
  return outcome;
}
