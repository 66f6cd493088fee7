/**
 * What a run of a workload gives: the outcome a report and a benchmark read, the live view a run
 * shows while it goes, and the bookkeeping both kinds of run share (./run-sluice.ts through the
 * local stack, ./run-peers.ts uncoordinated).
 */
import type { Priority } from '../shared/contract/request.js';
import type { SluiceResult } from '../shared/contract/result.js';
import { activityKey, type DispatchActivity } from './activity.js';
import type { ProviderSimulator } from './simulator/index.js';
import { percentile } from './window-stats.js';
import type { Workload } from './workload.js';

/** How one run of the workload went. */
export interface RunOutcome {
  readonly name: string;
  readonly total: number;
  readonly completed: number;
  readonly failed: number;
  readonly providerThrottles: number;
  /** Client tokens the provider ran more than once. */
  readonly duplicates: number;
  readonly drainSeconds: number;
  readonly idealSeconds: number;
  readonly configuredIdealSeconds: number;
  /** Submit (or first attempt) to result, per finished request, ascending. */
  readonly latenciesMs: readonly number[];
  /** Submit to the call leaving (its wait), per priority level, ascending (coordinated runs). */
  readonly waitsMs?: ReadonlyMap<Priority, readonly number[]>;
  /** Seconds since start at which each request finished, with its status. */
  readonly finishes: readonly { readonly atS: number; readonly ok: boolean }[];
  /** Seconds since start of each call the provider ran, per bucket label. */
  readonly executions: ReadonlyMap<string, readonly number[]>;
  /** Seconds since start of each admitted call's slot, per bucket label (coordinated runs). */
  readonly admissions?: ReadonlyMap<string, readonly number[]>;
  /** The learned rate (calls/s) per bucket label over time: [seconds since start, rate]. */
  readonly learnedRates?: ReadonlyMap<string, readonly (readonly [number, number])[]>;
  /** Cumulative provider throttles, sampled: seconds since start → count. */
  readonly throttleSamples: readonly (readonly [number, number])[];
  /** DynamoDB requests of the coordinator (Sluice only). */
  readonly dynamoRequests?: number;
  /** The same by table and command. */
  readonly dynamoRequestsByKind?: ReadonlyMap<string, number>;
  /** Provider calls received (all attempts), for throttles per completed call. */
  readonly providerCalls: number;
  /** Seconds after an outside client stopped until the run was back at its configured rate. */
  readonly recoverySeconds?: number;
  /** Per producer (flow), when a workload names producers: its calls, first send, last result. */
  readonly flows?: ReadonlyMap<string, FlowOutcome>;
  /**
   * Requests answered with no call of their own: by an identical read's call in flight, and from
   * the cache (coordinated runs).
   */
  readonly coalesced?: number;
  readonly cached?: number;
  /** DryRun calls that succeeded (the provider would have run them). */
  readonly dryRuns: number;
}

/** How one producer's calls went: seconds since the start of the run. */
export interface FlowOutcome {
  readonly count: number;
  readonly completed: number;
  readonly firstSentS: number;
  readonly lastFinishedS: number;
}

/** Live counters during a run, per bucket label. */
export interface LiveBucket {
  submitted: number;
  /** Admitted by the coordinator (undefined for uncoordinated runs). */
  admitted?: number;
  /** Calls in flight at the coordinator (undefined for uncoordinated runs). */
  running?: number;
  /** Admitted calls per second over the last 5 s, by slot. */
  admittedRate?: number;
  /** The bucket's learned rate now (calls/s), when the coordinator has one. */
  learnedRate?: number;
  /** Answered by an identical read's call, or from the cache, with no call (coordinated runs). */
  coalesced?: number;
  cached?: number;
  executed: number;
  throttled: number;
  finished: number;
  failed: number;
  /** Executions in the last 5 s, per second. */
  recentRate: number;
}

/** A periodic view of a run in progress. */
export interface LiveView {
  readonly name: string;
  readonly elapsedS: number;
  readonly total: number;
  readonly finished: number;
  readonly buckets: ReadonlyMap<string, LiveBucket>;
  /** Waits so far per priority level (coordinated runs). */
  readonly waitsMs?: ReadonlyMap<Priority, readonly number[]>;
}

export interface RunOptions {
  /** Called about twice a second. */
  readonly onTick?: (view: LiveView) => void;
  /** Give up waiting for results after this long. @default 300 000 */
  readonly timeoutMs?: number;
  /** Every request that finished, with its result when Sluice ran it: a scenario's own figures. */
  readonly onFinish?: (finish: RunFinish) => void;
}

/** A request that finished: whether it succeeded, and the result Sluice sent (coordinated runs). */
export interface RunFinish {
  readonly id: string;
  readonly ok: boolean;
  readonly result?: SluiceResult;
}

/** How a request ended without a call of its own, or as a DryRun that would have succeeded. */
export type FinishedHow = 'coalesced' | 'cached' | 'dry-run';

/** How a result came about, when it made no call of its own or was a DryRun. */
export function howOf(result: SluiceResult): FinishedHow | undefined {
  if (result.status !== 'succeeded') return undefined;
  if (result.dryRun) return 'dry-run';
  if (result.coalesced) return 'coalesced';
  return result.cachedAt === undefined ? undefined : 'cached';
}

/** The simulator's throttles and calls received so far, over every bucket. */
export function simTotals(sim: ProviderSimulator) {
  let throttled = 0;
  let received = 0;
  for (const s of sim.stats()) {
    throttled += s.throttled;
    received += s.received;
  }
  return { throttled, received };
}

/** The live counters of every bucket of the workload. */
export function liveBuckets(
  workload: Workload,
  sim: ProviderSimulator,
  submitted: ReadonlyMap<string, number>,
  finished: ReadonlyMap<string, { ok: number; failed: number }>,
  now: number,
  activity?: DispatchActivity,
  shared?: ReadonlyMap<string, { coalesced: number; cached: number }>,
): Map<string, LiveBucket> {
  const view = new Map<string, LiveBucket>();
  for (const b of workload.buckets) {
    const counters = sim.statsFor(b.account, b.region, b.operation);
    const done = finished.get(b.label) ?? { ok: 0, failed: 0 };
    const key = activityKey(b.account, b.region, b.bucket);
    const learned = activity?.learnedRate(key);
    view.set(b.label, {
      ...(activity
        ? {
            admitted: activity.admitted(key),
            running: activity.running(key),
            admittedRate: activity.admittedRate(key, now),
            ...(learned === undefined ? {} : { learnedRate: learned }),
            coalesced: shared?.get(b.label)?.coalesced ?? 0,
            cached: shared?.get(b.label)?.cached ?? 0,
          }
        : {}),
      submitted: submitted.get(b.label) ?? 0,
      executed: counters.executed,
      throttled: counters.throttled,
      finished: done.ok + done.failed,
      failed: done.failed,
      recentRate: 0,
    });
  }
  for (let i = sim.executions.length - 1; i >= 0; i--) {
    const e = sim.executions[i];
    if (e === undefined || e.atMs < now - 5_000) break;
    const bucket = view.get(`${e.account}/${e.region}/${e.action}`);
    if (bucket) bucket.recentRate += 1 / 5;
  }
  return view;
}

/**
 * Seconds since start of each call the provider ran, per bucket label; with `tokenPrefix`, only
 * the calls whose ClientToken starts with it (Sluice's own, when an outside client shares the
 * bucket).
 */
export function executionsByBucket(
  sim: ProviderSimulator,
  startMs: number,
  tokenPrefix?: string,
): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of sim.executions) {
    if (tokenPrefix !== undefined && !(e.clientToken ?? tokenPrefix).startsWith(tokenPrefix)) {
      continue;
    }
    const label = `${e.account}/${e.region}/${e.action}`;
    const list = out.get(label) ?? [];
    out.set(label, list);
    list.push((e.atMs - startMs) / 1000);
  }
  return out;
}

/** Client tokens the provider ran more than once. */
export function duplicatesOf(sim: ProviderSimulator): number {
  let duplicates = 0;
  for (const count of sim.executedClientTokens().values()) if (count > 1) duplicates++;
  return duplicates;
}

/** What finished, when and how: the figures both kinds of run report. */
export class FinishTally {
  readonly finishedBy = new Map<string, { ok: number; failed: number }>();
  /** Requests answered without a call of their own, per bucket label. */
  readonly sharedBy = new Map<string, { coalesced: number; cached: number }>();
  dryRuns = 0;
  readonly latencies: number[] = [];
  readonly waits = new Map<Priority, number[]>();
  readonly finishes: { atS: number; ok: boolean }[] = [];
  finished = 0;
  lastFinishMs: number;
  constructor(
    private readonly startMs: number,
    private readonly bucketOf: ReadonlyMap<string, string>,
  ) {
    this.lastFinishMs = startMs;
  }

  /**
   * A request finished at `finishedAtMs` (`latencyMs` after it was sent); `how` says when it
   * made no call of its own, or made a DryRun.
   */
  record(
    id: string,
    ok: boolean,
    finishedAtMs: number,
    latencyMs: number,
    how?: FinishedHow,
  ): void {
    if (how === 'dry-run') this.dryRuns++;
    else if (how !== undefined) {
      const label = this.bucketOf.get(id) ?? '';
      const shared = this.sharedBy.get(label) ?? { coalesced: 0, cached: 0 };
      shared[how]++;
      this.sharedBy.set(label, shared);
    }
    this.latencies.push(Math.max(0, latencyMs));
    this.finishes.push({ atS: (finishedAtMs - this.startMs) / 1000, ok });
    this.lastFinishMs = Math.max(this.lastFinishMs, finishedAtMs);
    const label = this.bucketOf.get(id) ?? '';
    const counts = this.finishedBy.get(label) ?? { ok: 0, failed: 0 };
    if (ok) counts.ok++;
    else counts.failed++;
    this.finishedBy.set(label, counts);
    this.finished++;
  }

  /** Requests answered without a call of their own: coalesced and cached (coordinated runs). */
  shared(): { coalesced: number; cached: number } {
    const all = [...this.sharedBy.values()];
    return {
      coalesced: all.reduce((n, s) => n + s.coalesced, 0),
      cached: all.reduce((n, s) => n + s.cached, 0),
    };
  }

  /** A request of `priority` waited `waitMs` from its sending to its call leaving. */
  recordWait(priority: Priority, waitMs: number): void {
    const list = this.waits.get(priority) ?? [];
    list.push(Math.max(0, waitMs));
    this.waits.set(priority, list);
  }

  /** A request that never got going (refused at submission). */
  recordUnsent(nowMs: number): void {
    this.finishes.push({ atS: (nowMs - this.startMs) / 1000, ok: false });
    this.finished++;
  }

  /** The shared part of a run's outcome. */
  figures() {
    return {
      dryRuns: this.dryRuns,
      completed: this.finishes.filter((f) => f.ok).length,
      drainSeconds: (this.lastFinishMs - this.startMs) / 1000,
      latenciesMs: this.latencies.sort((a, b) => a - b),
      finishes: this.finishes.sort((a, b) => a.atS - b.atS),
    };
  }
}

/** The benchmark's figures of a run. */
export function figures(outcome: RunOutcome) {
  const round = (n: number, digits = 2) => Number(n.toFixed(digits));
  const waits = Object.fromEntries(
    [...(outcome.waitsMs ?? new Map<Priority, readonly number[]>())].map(([level, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return [
        level,
        {
          count: sorted.length,
          p50Ms: Math.round(percentile(sorted, 0.5)),
          p99Ms: Math.round(percentile(sorted, 0.99)),
          maxMs: Math.round(sorted[sorted.length - 1] ?? 0),
        },
      ];
    }),
  );
  return {
    total: outcome.total,
    completed: outcome.completed,
    failed: outcome.failed,
    providerThrottles: outcome.providerThrottles,
    duplicates: outcome.duplicates,
    drainSeconds: round(outcome.drainSeconds),
    idealSeconds: round(outcome.idealSeconds),
    drainRatio:
      outcome.idealSeconds > 0 ? round(outcome.drainSeconds / outcome.idealSeconds, 3) : 0,
    // Against what the coordinator was configured to allow (safety factor, overrides).
    configuredIdealSeconds: round(outcome.configuredIdealSeconds),
    drainRatioConfigured:
      outcome.configuredIdealSeconds > 0
        ? round(outcome.drainSeconds / outcome.configuredIdealSeconds, 3)
        : 0,
    lostPercent: round((100 * outcome.failed) / Math.max(1, outcome.total), 1),
    throttlesPerCompleted: round(outcome.providerThrottles / Math.max(1, outcome.completed)),
    p50LatencyMs: Math.round(percentile(outcome.latenciesMs, 0.5)),
    p99LatencyMs: Math.round(percentile(outcome.latenciesMs, 0.99)),
    ddbRequestsPerCall:
      outcome.dynamoRequests === undefined
        ? 0
        : round(outcome.dynamoRequests / Math.max(1, outcome.total)),
    providerCalls: outcome.providerCalls,
    dryRuns: outcome.dryRuns,
    ...(outcome.coalesced === undefined ? {} : { coalesced: outcome.coalesced }),
    ...(outcome.cached === undefined ? {} : { cached: outcome.cached }),
    ...(outcome.dynamoRequestsByKind === undefined
      ? {}
      : {
          ddbRequestsPerCallByKind: Object.fromEntries(
            [...outcome.dynamoRequestsByKind]
              .filter(([, n]) => n > 0)
              .sort((a, b) => b[1] - a[1])
              .map(([k, n]) => [k, round(n / Math.max(1, outcome.total))]),
          ),
        }),
    ...(outcome.waitsMs === undefined ? {} : { waitByPriority: waits }),
    ...(outcome.recoverySeconds === undefined
      ? {}
      : { recoverySeconds: round(outcome.recoverySeconds, 1) }),
    ...(outcome.flows === undefined
      ? {}
      : {
          // Each producer's span: from its first call sent to its last result.
          flows: Object.fromEntries(
            [...outcome.flows].map(([name, f]) => [
              name,
              {
                count: f.count,
                completed: f.completed,
                firstSentS: round(f.firstSentS),
                lastFinishedS: round(f.lastFinishedS),
                spanSeconds: round(f.lastFinishedS - f.firstSentS),
              },
            ]),
          ),
        }),
  };
}
