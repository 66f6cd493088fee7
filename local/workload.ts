/**
 * The demo's workload and the two ways of running it: through the local stack (Sluice), and by
 * uncoordinated clients that rely on the AWS SDK's own retry modes against a fresh simulator.
 * Shared by `npm start`, `npm run bench:e2e` and the end-to-end test.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { gcraParams } from '../shared/admission/gcra.js';
import type { SluiceRequest } from '../shared/contract/request.js';
import type { SluiceResult } from '../shared/contract/result.js';
import { classifyCallError } from '../shared/dispatch/classify.js';
import { drawsFor, type LimitsConfig } from '../shared/limits/index.js';
import type { BucketLimit } from '../shared/limits/types.js';
import { activityKey, type DispatchActivity } from './activity.js';
import { accountCredentials } from './emulators/credentials.js';
import {
  type ProviderSimulator,
  type SimLimits,
  startProviderSimulator,
} from './simulator/index.js';
import type { LocalStack } from './stack.js';
import { percentile } from './window-stats.js';

/** One kind of call in the storm, per (account, region). */
export interface StormCall {
  readonly service: 'ec2' | 'service-quotas';
  readonly operation: string;
  /** The input of every call, or of the `i`-th call of each (account, region). */
  readonly input: Record<string, unknown> | ((i: number) => Record<string, unknown>);
  /** Calls per (account, region) at scale 1. */
  readonly count: number;
}

/** The input of the `i`-th call of a kind. */
function inputOf(call: StormCall, i: number): Record<string, unknown> {
  return typeof call.input === 'function' ? call.input(i) : call.input;
}

/** The default storm: each well above its bucket's burst. */
export const DEFAULT_STORM: readonly StormCall[] = [
  {
    service: 'ec2',
    operation: 'RunInstances',
    input: { ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1 },
    count: 30,
  },
  {
    service: 'ec2',
    operation: 'DescribeInstances',
    input: { Filters: [{ Name: 'instance-state-name', Values: ['running'] }] },
    count: 150,
  },
  {
    service: 'service-quotas',
    operation: 'ListServiceQuotas',
    input: { ServiceCode: 'ec2' },
    count: 50,
  },
];

export const DEFAULT_ACCOUNTS = ['111111111111', '222222222222', '333333333333'] as const;
export const DEFAULT_REGIONS = ['us-east-1', 'eu-west-1'] as const;

/** A named workload for the benchmark: what is called, where, and the provider's limits. */
export interface Scenario {
  readonly description: string;
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
  readonly storm: readonly StormCall[];
  /** Limits the simulator enforces (and the coordinator is told of), by bucket; catalog otherwise. */
  readonly providerLimits?: Readonly<Record<string, BucketLimit>>;
  /** Independent uncoordinated clients per (account, region) in the SDK peers' run. */
  readonly clientsPerTarget: number;
}

const runInstances = (count: number): StormCall[] => [
  {
    service: 'ec2',
    operation: 'RunInstances',
    input: { ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1 },
    count,
  },
];

/** The benchmark's workloads: the demo's storm, and the single-bucket peer scenarios. */
export const SCENARIOS = {
  storm: {
    description:
      'the demo: 3 accounts × 2 regions × RunInstances/DescribeInstances/ListServiceQuotas',
    accounts: DEFAULT_ACCOUNTS,
    regions: DEFAULT_REGIONS,
    storm: DEFAULT_STORM,
    clientsPerTarget: 8,
  },
  'run-instances': {
    description: "one RunInstances bucket (EC2's 5 tokens, 2/s), 8 clients × 10 calls",
    accounts: [DEFAULT_ACCOUNTS[0]],
    regions: [DEFAULT_REGIONS[0]],
    storm: runInstances(80),
    clientsPerTarget: 8,
  },
  'run-instances-5': {
    description: 'one RunInstances bucket at 5/s with a burst of 10, 8 clients × 25 calls',
    accounts: [DEFAULT_ACCOUNTS[0]],
    regions: [DEFAULT_REGIONS[0]],
    storm: runInstances(200),
    providerLimits: { RunInstances: { rate: 5, burst: 10 } },
    clientsPerTarget: 8,
  },
} as const satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;

/**
 * The coordinator's limits for a scenario: the provider's own (as an operator who knows them
 * would configure), then `safetyFactor`.
 */
export function scenarioLimits(scenario: Scenario, safetyFactor: number): LimitsConfig {
  const overrides = Object.entries(scenario.providerLimits ?? {}).map(([bucket, limit]) => ({
    service: 'ec2',
    bucket,
    rate: limit.rate,
    burst: limit.burst,
  }));
  return { safetyFactor, ...(overrides.length > 0 ? { overrides } : {}) };
}

/** Settings of {@link buildWorkload}. */
export interface WorkloadOptions {
  readonly accounts?: readonly string[];
  readonly regions?: readonly string[];
  readonly storm?: readonly StormCall[];
  /** Multiplies every count (rounded, at least 1). @default 1 */
  readonly scale?: number;
  /** Limits the coordinator is configured with (safety factor, overrides). @default {} */
  readonly limits?: LimitsConfig;
  /** The provider's limits (the simulator's), by bucket name; catalog defaults otherwise. */
  readonly providerLimits?: Readonly<Record<string, BucketLimit>>;
  /** The coordinator's lateness allowance, for {@link WorkloadBucket.configuredIdealSeconds}. @default 0 */
  readonly lateAllowanceMs?: number;
}

/** A bucket of the provider the workload draws on: (account, region, operation). */
export interface WorkloadBucket {
  readonly label: string;
  readonly account: string;
  readonly region: string;
  readonly operation: string;
  /** The provider bucket's name (the catalog's request bucket for the operation). */
  readonly bucket: string;
  readonly count: number;
  /** The provider's limit (what the simulator enforces). */
  readonly provider: BucketLimit;
  /** The coordinator's configured limit (after overrides and safety factor). */
  readonly configured: BucketLimit;
  /** `(count − burst) / rate` at the provider's limit, seconds (0 when it fits the burst). */
  readonly idealSeconds: number;
  /**
   * The same at the coordinator's configured limit, its burst trimmed by the lateness allowance:
   * the best it can do as configured.
   */
  readonly configuredIdealSeconds: number;
}

export interface Workload {
  readonly requests: readonly SluiceRequest[];
  /** Bucket label of each request, by id. */
  readonly bucketOf: ReadonlyMap<string, string>;
  readonly buckets: readonly WorkloadBucket[];
  /** The longest {@link WorkloadBucket.idealSeconds}: the bucket that limits the drain. */
  readonly idealSeconds: number;
  /** The longest {@link WorkloadBucket.configuredIdealSeconds}. */
  readonly configuredIdealSeconds: number;
}

const PRIORITY_CYCLE = ['high', 'normal', 'normal', 'low'] as const;

/** Builds the storm: for each account × region × call, `count × scale` requests, interleaved. */
export function buildWorkload(options: WorkloadOptions = {}): Workload {
  const accounts = options.accounts ?? DEFAULT_ACCOUNTS;
  const regions = options.regions ?? DEFAULT_REGIONS;
  const storm = options.storm ?? DEFAULT_STORM;
  const scale = options.scale ?? 1;
  const run = Date.now().toString(36);
  const lanes: SluiceRequest[][] = [];
  const bucketOf = new Map<string, string>();
  const buckets: WorkloadBucket[] = [];
  for (const account of accounts) {
    for (const region of regions) {
      for (const call of storm) {
        const count = Math.max(1, Math.round(call.count * scale));
        const label = `${account}/${region}/${call.operation}`;
        // The calls of a kind share their request bucket, whatever their inputs.
        const spec = { service: call.service, operation: call.operation, input: inputOf(call, 0) };
        const target = { account, region };
        const [ownDraw] = drawsFor(target, spec, options.limits ?? {});
        const [defaultDraw] = drawsFor(target, spec);
        if (ownDraw === undefined || defaultDraw === undefined)
          throw new Error(`no bucket for ${call.operation}`);
        const provider = options.providerLimits?.[defaultDraw.ref.bucket] ?? defaultDraw.limit;
        buckets.push({
          label,
          account,
          region,
          operation: call.operation,
          bucket: defaultDraw.ref.bucket,
          count,
          provider,
          configured: ownDraw.limit,
          idealSeconds: Math.max(0, (count - provider.burst) / provider.rate),
          configuredIdealSeconds: Math.max(
            0,
            (count - gcraParams(ownDraw.limit, options.lateAllowanceMs ?? 0).burst) /
              ownDraw.limit.rate,
          ),
        });
        const lane: SluiceRequest[] = [];
        for (let i = 0; i < count; i++) {
          const id = `${run}-${account}-${region}-${call.operation}-${i}`;
          bucketOf.set(id, label);
          lane.push({
            v: 1,
            id,
            target,
            call: { ...spec, input: inputOf(call, i) },
            priority: PRIORITY_CYCLE[i % PRIORITY_CYCLE.length] ?? 'normal',
          });
        }
        lanes.push(lane);
      }
    }
  }
  // Round-robin over the lanes: a storm from everywhere at once, not one bucket after another.
  const requests: SluiceRequest[] = [];
  const longest = Math.max(...lanes.map((l) => l.length));
  for (let i = 0; i < longest; i++)
    for (const lane of lanes) {
      const request = lane[i];
      if (request !== undefined) requests.push(request);
    }
  return {
    requests,
    bucketOf,
    buckets,
    idealSeconds: Math.max(0, ...buckets.map((b) => b.idealSeconds)),
    configuredIdealSeconds: Math.max(0, ...buckets.map((b) => b.configuredIdealSeconds)),
  };
}

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
  /** Seconds since start at which each request finished, with its status. */
  readonly finishes: readonly { readonly atS: number; readonly ok: boolean }[];
  /** Seconds since start of each call the provider ran, per bucket label. */
  readonly executions: ReadonlyMap<string, readonly number[]>;
  /** Seconds since start of each admitted call's slot, per bucket label (coordinated runs). */
  readonly admissions?: ReadonlyMap<string, readonly number[]>;
  /** Cumulative provider throttles, sampled: seconds since start → count. */
  readonly throttleSamples: readonly (readonly [number, number])[];
  /** DynamoDB requests of the coordinator (Sluice only). */
  readonly dynamoRequests?: number;
  /** Provider calls received (all attempts), for throttles per completed call. */
  readonly providerCalls: number;
  /** Requests answered by an identical read's call, and from the cache (Sluice only). */
  readonly coalesced?: number;
  readonly cached?: number;
  /** DryRun calls that succeeded (the provider would have run them). */
  readonly dryRuns: number;
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

function simTotals(sim: ProviderSimulator) {
  let throttled = 0;
  let received = 0;
  for (const s of sim.stats()) {
    throttled += s.throttled;
    received += s.received;
  }
  return { throttled, received };
}

function liveBuckets(
  workload: Workload,
  sim: ProviderSimulator,
  submitted: ReadonlyMap<string, number>,
  tally: FinishTally,
  now: number,
  activity?: DispatchActivity,
): Map<string, LiveBucket> {
  const finished = tally.finishedBy;
  const view = new Map<string, LiveBucket>();
  for (const b of workload.buckets) {
    const counters = sim.statsFor(b.account, b.region, b.operation);
    const done = finished.get(b.label) ?? { ok: 0, failed: 0 };
    const key = activityKey(b.account, b.region, b.bucket);
    view.set(b.label, {
      ...(activity
        ? {
            admitted: activity.admitted(key),
            running: activity.running(key),
            admittedRate: activity.admittedRate(key, now),
            coalesced: tally.sharedBy.get(b.label)?.coalesced ?? 0,
            cached: tally.sharedBy.get(b.label)?.cached ?? 0,
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

function executionsByBucket(sim: ProviderSimulator, startMs: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of sim.executions) {
    const label = `${e.account}/${e.region}/${e.action}`;
    const list = out.get(label) ?? [];
    out.set(label, list);
    list.push((e.atMs - startMs) / 1000);
  }
  return out;
}

function duplicatesOf(sim: ProviderSimulator): number {
  let duplicates = 0;
  for (const count of sim.executedClientTokens().values()) if (count > 1) duplicates++;
  return duplicates;
}

/** Runs the workload through the local stack (its event source must be started). */
/** What finished, when and how: the figures both kinds of run report. */
class FinishTally {
  readonly finishedBy = new Map<string, { ok: number; failed: number }>();
  /** Requests answered without a call of their own, per bucket label. */
  readonly sharedBy = new Map<string, { coalesced: number; cached: number }>();
  dryRuns = 0;
  readonly latencies: number[] = [];
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
    how?: 'coalesced' | 'cached' | 'dry-run',
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

  /** A request that never got going (refused at submission). */
  recordUnsent(nowMs: number): void {
    this.finishes.push({ atS: (nowMs - this.startMs) / 1000, ok: false });
    this.finished++;
  }

  /** The shared part of a run's outcome. */
  figures() {
    const shared = [...this.sharedBy.values()];
    return {
      coalesced: shared.reduce((n, s) => n + s.coalesced, 0),
      cached: shared.reduce((n, s) => n + s.cached, 0),
      dryRuns: this.dryRuns,
      completed: this.finishes.filter((f) => f.ok).length,
      drainSeconds: (this.lastFinishMs - this.startMs) / 1000,
      latenciesMs: this.latencies.sort((a, b) => a - b),
      finishes: this.finishes.sort((a, b) => a.atS - b.atS),
    };
  }
}

export async function runThroughStack(
  stack: LocalStack,
  workload: Workload,
  options: RunOptions = {},
): Promise<RunOutcome> {
  const sim = stack.simulator;
  if (sim === undefined) throw new Error('runThroughStack needs the built-in simulator');
  const startMs = Date.now();
  const before = simTotals(sim);
  const ddbBefore = stack.dynamoRequests();
  const submittedAt = new Map<string, number>();
  const submitted = new Map<string, number>();
  const tally = new FinishTally(startMs, workload.bucketOf);
  const throttleSamples: [number, number][] = [[0, 0]];
  const total = workload.requests.length;

  const tick = () => {
    const now = Date.now();
    throttleSamples.push([(now - startMs) / 1000, simTotals(sim).throttled - before.throttled]);
    options.onTick?.({
      name: 'Sluice',
      elapsedS: (now - startMs) / 1000,
      total,
      finished: tally.finished,
      buckets: liveBuckets(workload, sim, submitted, tally, now, stack.activity),
    });
  };
  const timer = setInterval(tick, 500);

  // Results come back on the reply queue: read by a few pollers, as a producer would.
  let receiving = true;
  const pollers = Array.from({ length: 4 }, async () => {
    while (receiving) {
      const out = await stack.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.replyQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) continue;
      const now = Date.now();
      for (const m of messages) {
        const result = JSON.parse(m.Body ?? '{}') as SluiceResult;
        const at = result.id === undefined ? undefined : submittedAt.get(result.id);
        if (result.id === undefined || at === undefined) continue;
        submittedAt.delete(result.id); // a second reply for the same id is not counted twice
        const finishedAt = result.timings?.finishedAt ?? now;
        tally.record(
          result.id,
          result.status === 'succeeded',
          finishedAt,
          finishedAt - at,
          howOf(result),
        );
        options.onFinish?.({ id: result.id, ok: result.status === 'succeeded', result });
      }
      await stack.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: stack.replyQueueUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle ?? '',
          })),
        }),
      );
    }
  });

  const withReply = workload.requests.map((r) => ({ ...r, replyTo: stack.replyQueueUrl }));
  for (const r of withReply) submittedAt.set(r.id, startMs);
  // Submitted in slices, so the live view shows the queue filling up.
  for (let i = 0; i < withReply.length; i += 200) {
    const slice = withReply.slice(i, i + 200);
    const now = Date.now();
    for (const r of slice) submittedAt.set(r.id, now);
    const out = await stack.client.submitBatch(slice);
    for (const f of out.failed) {
      const id = f.id ?? '';
      submittedAt.delete(id);
      tally.recordUnsent(Date.now());
    }
    for (const s of out.sent) {
      const label = workload.bucketOf.get(s.id) ?? '';
      submitted.set(label, (submitted.get(label) ?? 0) + 1);
    }
  }

  const deadline = startMs + (options.timeoutMs ?? 300_000);
  while (tally.finished < total && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  receiving = false;
  clearInterval(timer);
  tick();
  await Promise.all(pollers);

  const figures = tally.figures();
  const after = simTotals(sim);
  return {
    name: 'Sluice',
    total,
    ...figures,
    failed: total - figures.completed,
    providerThrottles: after.throttled - before.throttled,
    duplicates: duplicatesOf(sim),
    idealSeconds: workload.idealSeconds,
    configuredIdealSeconds: workload.configuredIdealSeconds,
    executions: executionsByBucket(sim, startMs),
    admissions: new Map(
      workload.buckets.map((b) => [
        b.label,
        stack.activity
          .slots(activityKey(b.account, b.region, b.bucket))
          .map((ms) => (ms - startMs) / 1000),
      ]),
    ),
    throttleSamples,
    dynamoRequests: stack.dynamoRequests() - ddbBefore,
    providerCalls: after.received - before.received,
  };
}

/** Settings of {@link runUncoordinated}. */
export interface UncoordinatedOptions extends RunOptions {
  readonly retryMode: 'standard' | 'adaptive';
  /** The SDK's attempts per call. @default 3 */
  readonly maxAttempts?: number;
  /** Independent clients per (account, region), each with its own SDK clients. @default 8 */
  readonly clientsPerTarget?: number;
  /** The provider's limits (same as the coordinated run's simulator). */
  readonly simulatorLimits?: SimLimits;
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
  const [{ EC2Client, RunInstancesCommand, DescribeInstancesCommand }, sq] = await Promise.all([
    import('@aws-sdk/client-ec2'),
    import('@aws-sdk/client-service-quotas'),
  ]);
  const sim = await startProviderSimulator(
    options.simulatorLimits === undefined ? {} : { limits: options.simulatorLimits },
  );
  const name = `SDK ${options.retryMode}`;
  const startMs = Date.now();
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
      buckets: liveBuckets(workload, sim, submitted, tally, now),
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
      const ec2 = new EC2Client(config);
      const quotas = new sq.ServiceQuotasClient(config);
      destroyers.push(
        () => ec2.destroy(),
        () => quotas.destroy(),
      );
      workers.push(
        (async () => {
          for (const r of share) {
            const started = Date.now();
            let ok = true;
            let dryRun = false;
            try {
              const input = r.call.input as never;
              if (r.call.operation === 'RunInstances')
                await ec2.send(
                  new RunInstancesCommand({
                    ...(r.call.input as object),
                    ClientToken: `peer-${r.id}`.slice(0, 64),
                  } as never),
                );
              else if (r.call.operation === 'DescribeInstances')
                await ec2.send(new DescribeInstancesCommand(input));
              else await quotas.send(new sq.ListServiceQuotasCommand(input));
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
  clearInterval(timer);
  tick();
  for (const destroy of destroyers) destroy();
  const totals = simTotals(sim);
  const { coalesced: _coalesced, cached: _cached, ...peerFigures } = tally.figures();
  const outcome: RunOutcome = {
    name,
    total,
    ...peerFigures,
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

/** The benchmark's figures of a run. */
export function figures(outcome: RunOutcome) {
  const round = (n: number, digits = 2) => Number(n.toFixed(digits));
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
  };
}

/** How a result came about, when it made no call of its own or was a DryRun. */
function howOf(result: SluiceResult): 'coalesced' | 'cached' | 'dry-run' | undefined {
  if (result.status !== 'succeeded') return undefined;
  if (result.dryRun) return 'dry-run';
  if (result.coalesced) return 'coalesced';
  return result.cachedAt === undefined ? undefined : 'cached';
}
