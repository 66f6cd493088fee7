/**
 * A workload built from a scenario (./scenarios.ts): the requests, when each is sent, which
 * provider bucket each draws on, and what the ideal drain would be at the provider's limits and
 * at the coordinator's. Shared by `npm start`, `npm run bench:e2e` and the end-to-end test; the
 * runs are in ./run-sluice.ts (through the local stack) and ./run-peers.ts (uncoordinated).
 */
import { gcraParams } from '../shared/admission/gcra.js';
import type { Priority, SluiceRequest } from '../shared/contract/request.js';
import { drawsFor, type LimitsConfig } from '../shared/limits/index.js';
import type { BucketLimit } from '../shared/limits/types.js';
import { DEFAULT_ACCOUNTS, DEFAULT_REGIONS, DEFAULT_STORM, type StormCall } from './scenarios.js';

export * from './run-outcome.js';
export { runUncoordinated, type UncoordinatedOptions } from './run-peers.js';
export { runThroughStack } from './run-sluice.js';
export * from './scenarios.js';

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
  /** When each request is sent, ms after the start, by id (0 for all but timed arrivals). */
  readonly sendAtMs: ReadonlyMap<string, number>;
  /** The producer that sends each request, by id, where the call kind names one. */
  readonly producerOf: ReadonlyMap<string, string>;
  readonly buckets: readonly WorkloadBucket[];
  /** The longest {@link WorkloadBucket.idealSeconds}: the bucket that limits the drain. */
  readonly idealSeconds: number;
  /** The longest {@link WorkloadBucket.configuredIdealSeconds}. */
  readonly configuredIdealSeconds: number;
}

const PRIORITY_CYCLE = ['high', 'normal', 'normal', 'low'] as const;

/**
 * Builds the workload: for each account × region × call kind, `count × scale` requests,
 * interleaved (a storm from everywhere at once, not one bucket after another); call kinds with a
 * start time or spacing are sent at those times.
 */
export function buildWorkload(options: WorkloadOptions = {}): Workload {
  const accounts = options.accounts ?? DEFAULT_ACCOUNTS;
  const regions = options.regions ?? DEFAULT_REGIONS;
  const storm = options.storm ?? DEFAULT_STORM;
  const scale = options.scale ?? 1;
  const run = Date.now().toString(36);
  const lanes: SluiceRequest[][] = [];
  const bucketOf = new Map<string, string>();
  const sendAtMs = new Map<string, number>();
  const producerOf = new Map<string, string>();
  const byLabel = new Map<string, WorkloadBucket>();
  for (const account of accounts) {
    for (const region of regions) {
      storm.forEach((call, kind) => {
        const count = Math.max(1, Math.round(call.count * scale));
        const label = `${account}/${region}/${call.operation}`;
        const spec = { service: call.service, operation: call.operation, input: call.input };
        const target = { account, region };
        const [ownDraw] = drawsFor(target, spec, options.limits ?? {});
        const [defaultDraw] = drawsFor(target, spec);
        if (ownDraw === undefined || defaultDraw === undefined)
          throw new Error(`no bucket for ${call.operation}`);
        const provider = options.providerLimits?.[defaultDraw.ref.bucket] ?? defaultDraw.limit;
        // Call kinds drawing on the same bucket (a flood and a trickle) share its ideal drain.
        const total = (byLabel.get(label)?.count ?? 0) + count;
        byLabel.set(label, {
          label,
          account,
          region,
          operation: call.operation,
          bucket: defaultDraw.ref.bucket,
          count: total,
          provider,
          configured: ownDraw.limit,
          idealSeconds: Math.max(0, (total - provider.burst) / provider.rate),
          configuredIdealSeconds: Math.max(
            0,
            (total - gcraParams(ownDraw.limit, options.lateAllowanceMs ?? 0).burst) /
              ownDraw.limit.rate,
          ),
        });
        const lane: SluiceRequest[] = [];
        for (let i = 0; i < count; i++) {
          const id = `${run}-${account}-${region}-${call.operation}-${kind}-${i}`;
          bucketOf.set(id, label);
          sendAtMs.set(id, (call.startMs ?? 0) + (call.everyMs ?? 0) * i);
          if (call.producer !== undefined) producerOf.set(id, call.producer);
          lane.push({
            v: 1,
            id,
            target,
            call: spec,
            priority: call.priority ?? priorityInCycle(i),
          });
        }
        lanes.push(lane);
      });
    }
  }
  const requests: SluiceRequest[] = [];
  const longest = Math.max(...lanes.map((l) => l.length));
  for (let i = 0; i < longest; i++)
    for (const lane of lanes) {
      const request = lane[i];
      if (request !== undefined) requests.push(request);
    }
  const buckets = [...byLabel.values()];
  return {
    requests,
    bucketOf,
    sendAtMs,
    producerOf,
    buckets,
    idealSeconds: Math.max(0, ...buckets.map((b) => b.idealSeconds)),
    configuredIdealSeconds: Math.max(0, ...buckets.map((b) => b.configuredIdealSeconds)),
  };
}

function priorityInCycle(i: number): Priority {
  return PRIORITY_CYCLE[i % PRIORITY_CYCLE.length] ?? 'normal';
}
