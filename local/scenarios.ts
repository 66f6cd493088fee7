/**
 * The workloads the local stack runs: the demo's storm and the benchmark's named scenarios, each
 * a list of call kinds per (account, region) — what is called, how many, when it is sent and at
 * which priority — and the provider's own limits where they differ from the catalog's.
 */
import type { DeploymentConfigInput } from '../shared/config/deployment.js';
import type { Priority } from '../shared/contract/request.js';
import type { LimitsConfig } from '../shared/limits/index.js';
import type { BucketLimit } from '../shared/limits/types.js';

/** One kind of call in a workload, per (account, region). */
export interface StormCall {
  readonly service: 'ec2' | 'service-quotas';
  readonly operation: string;
  readonly input: Record<string, unknown>;
  /** Calls per (account, region) at scale 1. */
  readonly count: number;
  /** Their priority. @default the demo's cycle: high, normal, normal, low */
  readonly priority?: Priority;
  /** When the first is sent, ms after the start. @default 0 */
  readonly startMs?: number;
  /** One sent every this many ms; all at once when absent. */
  readonly everyMs?: number;
  /** The producer that sends them (a flow in fair scheduling). @default the first producer */
  readonly producer?: string;
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

/**
 * A client outside Sluice spending the same provider budget (the console, Terraform, another
 * controller): it calls `operation` on the first account and region with the SDK's standard
 * retries, `perSecond` times a second from `fromMs` to `untilMs` after the start.
 */
export interface OutsideClient {
  readonly operation: 'RunInstances';
  readonly perSecond: number;
  readonly fromMs: number;
  readonly untilMs: number;
}

/** A named workload for the benchmark: what is called, where, and the provider's limits. */
export interface Scenario {
  readonly description: string;
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
  readonly storm: readonly StormCall[];
  /** Limits the simulator enforces, by bucket; the catalog's otherwise. */
  readonly providerLimits?: Readonly<Record<string, BucketLimit>>;
  /**
   * Whether the coordinator is told the provider's limits (an operator who knows them) or only
   * the catalog's (the provider's real budget is lower: Sluice has to learn it). @default 'provider'
   */
  readonly coordinatorKnows?: 'provider' | 'catalog';
  /** Another client spending the same budget during the run. */
  readonly outside?: OutsideClient;
  /** Independent uncoordinated clients per (account, region) in the SDK peers' run. */
  readonly clientsPerTarget: number;
  /**
   * Named producers, each with its own request queue (and a flow of its own in fair
   * scheduling); one `default` producer when absent.
   */
  readonly producers?: readonly string[];
  /** Deployment configuration beyond the limits and producers, e.g. the read cache. */
  readonly config?: Pick<DeploymentConfigInput, 'reads'>;
}

const RUN_INSTANCES_INPUT = { ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1 };

const runInstances = (count: number, extra: Partial<StormCall> = {}): StormCall => ({
  service: 'ec2',
  operation: 'RunInstances',
  input: RUN_INSTANCES_INPUT,
  count,
  ...extra,
});

const oneTarget = { accounts: [DEFAULT_ACCOUNTS[0]], regions: [DEFAULT_REGIONS[0]] } as const;

/** The benchmark's workloads. */
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
    ...oneTarget,
    storm: [runInstances(80)],
    clientsPerTarget: 8,
  },
  'at-limit': {
    description: 'the provider at the catalog’s RunInstances limits (5 tokens, 2/s), 80 calls',
    ...oneTarget,
    storm: [runInstances(80)],
    clientsPerTarget: 8,
  },
  'run-instances-5': {
    description: 'one RunInstances bucket at 5/s with a burst of 10, 8 clients × 25 calls',
    ...oneTarget,
    storm: [runInstances(200)],
    providerLimits: { RunInstances: { rate: 5, burst: 10 } },
    clientsPerTarget: 8,
  },
  priority: {
    description:
      'a low-priority flood of 200 RunInstances; from 3 s, 20 high-priority ones, one every 3 s',
    ...oneTarget,
    storm: [
      runInstances(200, { priority: 'low' }),
      runInstances(20, { priority: 'high', startMs: 3_000, everyMs: 3_000 }),
    ],
    clientsPerTarget: 8,
  },
  fairness: {
    description:
      'RunInstances at the provider’s limits: producer "a" sends 200 calls at 0 s, producer "b" 20 at 5 s, same level',
    ...oneTarget,
    storm: [
      runInstances(200, { priority: 'normal', producer: 'a' }),
      runInstances(20, { priority: 'normal', producer: 'b', startMs: 5_000 }),
    ],
    producers: ['a', 'b'],
    clientsPerTarget: 8,
  },
  'half-limit': {
    description:
      'the provider grants RunInstances 1/s with a burst of 3, the catalog says 2/s and 5: 80 calls',
    ...oneTarget,
    storm: [runInstances(80, { priority: 'normal' })],
    providerLimits: { RunInstances: { rate: 1, burst: 3 } },
    coordinatorKnows: 'catalog',
    clientsPerTarget: 8,
  },
  'shared-account': {
    description:
      'the provider at the catalog’s limits; an outside client spends about half of RunInstances for 40 s',
    ...oneTarget,
    storm: [runInstances(160, { priority: 'normal' })],
    outside: { operation: 'RunInstances', perSecond: 1, fromMs: 0, untilMs: 40_000 },
    clientsPerTarget: 8,
  },
} as const satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;

/**
 * The coordinator's limits for a scenario: the provider's own (as an operator who knows them
 * would configure) unless the scenario says it only knows the catalog's, then `safetyFactor`.
 */
export function scenarioLimits(scenario: Scenario, safetyFactor: number): LimitsConfig {
  const told = scenario.coordinatorKnows === 'catalog' ? {} : (scenario.providerLimits ?? {});
  const overrides = Object.entries(told).map(([bucket, limit]) => ({
    service: 'ec2',
    bucket,
    rate: limit.rate,
    burst: limit.burst,
  }));
  return { safetyFactor, ...(overrides.length > 0 ? { overrides } : {}) };
}
