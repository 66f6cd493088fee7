/**
 * The deployment's configuration: which accounts the coordinator may act in (and through which
 * role), which (service, operation) pairs may run there, which reply queues results may go to,
 * the limits, and the dispatcher's tuning. The CDK construct validates it at synth time, the
 * dispatcher at cold start, the local runtime at start: the same schema and the same messages.
 *
 * Security: a queue message can only ever make the coordinator call an operation listed here for
 * the message's target account and its producer (./producers.ts); everything else is rejected
 * before any client is built.
 */
import { z } from 'zod';
import type { SchedulingPolicy } from '../admission/bucket-store.js';
import type { LearnedRatePolicy } from '../admission/learned-rate.js';
import {
  ACCOUNT_PATTERN,
  ACCOUNT_RULE,
  KMS_KEY_ARN_PATTERN,
  KMS_KEY_ARN_RULE,
  OPERATION_GLOB_PATTERN,
  OPERATION_GLOB_RULE,
  REGION_PATTERN,
  REGION_RULE,
  SERVICE_PATTERN,
  SERVICE_RULE,
} from '../contract/patterns.js';
import { type Problem, problem, problemsFromIssues } from '../contract/problems.js';
import { replyDestinationSchema } from '../contract/request.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../contract/sizes.js';
import { type LimitsConfig, validateLimitsConfig } from '../limits/limits-config.js';
import { SERVICES } from '../services/registry.js';
import {
  DEFAULT_PRODUCER,
  implicitProducer,
  type ProducerConfig,
  type ProducerDeployment,
  producerProblems,
  producerSchema,
  regionProblems,
  resolveProducer,
} from './producers.js';
import { type ReadsPolicy, readsPolicyOf, readsProblems, readsSchema } from './reads.js';
import {
  assuredTotal,
  learnedRatePolicyOf,
  learnedRateSchema,
  schedulingPolicyOf,
  schedulingSchema,
} from './scheduling.js';

/** The largest `maxOutputBytes`: 500 MiB, under V8's longest string (about 512 MiB). */
const MAX_OUTPUT_BYTES_LIMIT = 524_288_000;

export {
  allowedWithoutConditions,
  cappedPriority,
  DEFAULT_PRODUCER,
  disallowedReason,
  isRegionKnown,
  type ProducerConfig,
  type ProducerGrant,
  producerNamed,
  replyToAllowed,
} from './producers.js';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]{1,512}$/;

/** Operations of one service allowed on a target. */
const allowSchema = z.strictObject({
  service: z.string().regex(SERVICE_PATTERN, SERVICE_RULE),
  operations: z.array(z.string().regex(OPERATION_GLOB_PATTERN, OPERATION_GLOB_RULE)).min(1),
});

/** An account the coordinator acts in. */
const targetSchema = z.strictObject({
  account: z.string().regex(ACCOUNT_PATTERN, ACCOUNT_RULE),
  /** Regions calls may run in; any known region (and `extraRegions`) when absent. */
  regions: z.array(z.string().regex(REGION_PATTERN, REGION_RULE)).min(1).optional(),
  /** Role assumed in the target account; absent: the coordinator's own credentials. */
  roleArn: z.string().regex(ROLE_ARN, 'must be an IAM role ARN').optional(),
  /** ExternalId the role's trust policy requires. */
  externalId: z.string().min(2).max(1224).optional(),
  allow: z.array(allowSchema).min(1),
});

/** A destination results may be sent to, with the KMS key it is encrypted with, if any. */
const replyToEntrySchema = z.strictObject({
  /** An SQS queue URL or an SNS topic ARN; requests must name it exactly. */
  destination: replyDestinationSchema,
  /**
   * The customer-managed KMS key the queue or topic is encrypted with: the dispatcher is granted
   * `kms:GenerateDataKey` and `kms:Decrypt` on it (the key policy must allow the account's IAM).
   * Leave it out for unencrypted, SSE-SQS and AWS managed keys.
   */
  kmsKeyArn: z.string().regex(KMS_KEY_ARN_PATTERN, KMS_KEY_ARN_RULE).optional(),
});

/** One allowed reply destination: where results may go, and its KMS key if it has one. */
export type ReplyToConfig = z.infer<typeof replyToEntrySchema>;

/** A service's call timeouts as the operator sets them; an unset one keeps the registry's. */
const callTimeoutsSchema = z.strictObject({
  /** The TCP (and TLS) connection, ms. */
  connectionTimeoutMs: z.int().min(100).max(60_000).optional(),
  /** The whole call, ms: at most 15 minutes, Lambda's longest invocation. */
  requestTimeoutMs: z.int().min(100).max(900_000).optional(),
});

/** Timeouts of one service's calls, as configured (unset fields: the registry's defaults). */
export type CallTimeoutsConfig = z.infer<typeof callTimeoutsSchema>;

/** The deployment configuration, as written by the operator (JSON). */
export const deploymentConfigSchema = z.strictObject({
  targets: z.array(targetSchema).min(1),
  /**
   * The teams that send calls, each with its own queue, id namespace and allowlist (within the
   * targets'). @default one producer, `default`, allowed everything the targets allow
   */
  producers: z.array(producerSchema).min(1).optional(),
  /** Regions newer than Sluice's list of known regions (shared/aws/regions.ts). @default [] */
  extraRegions: z.array(z.string().regex(REGION_PATTERN, REGION_RULE)).optional(),
  /**
   * Where results may be sent (exact match): SQS queue URLs and SNS topic ARNs, each a string or
   * `{ "destination": …, "kmsKeyArn": … }` when it is encrypted with a customer-managed key.
   * Each producer may use those of its own `replyTo` (the implicit producer: all of them).
   * @default []
   */
  replyTo: z
    .array(
      // A bare string is the common case: read it as an entry without a key.
      z.preprocess(
        (entry) => (typeof entry === 'string' ? { destination: entry } : entry),
        replyToEntrySchema,
      ),
    )
    .optional(),
  /** Limits catalog configuration: overrides, extra services, safety factor. @default {} */
  limits: z.custom<LimitsConfig>((value) => typeof value === 'object' && value !== null).optional(),
  /** How far ahead slots may be reserved (ms, ≤ 900 000: SQS's longest delay). @default 60 000 */
  horizonMs: z.int().min(0).max(900_000).optional(),
  /** How late a call may leave after its slot without a full provider bucket running short
   *  (ms): bursts are planned this much smaller (rate × allowance tokens). @default 250 */
  lateAllowanceMs: z.int().min(0).max(10_000).optional(),
  /** Calls run at once by one dispatcher invocation. @default 16 */
  maxConcurrentCalls: z.int().min(1).max(1_000).optional(),
  /** How long a claim on a request lasts before another dispatcher may take it over (ms).
   *  Keep it at or below the queue's visibility timeout. @default 120 000 */
  leaseMs: z.int().min(1_000).max(43_200_000).optional(),
  /** How long results are kept (DynamoDB TTL). @default 7 */
  resultTtlDays: z.int().min(1).max(365).optional(),
  /** A request without `deadline` fails after waiting this long since first received (ms).
   *  @default 86 400 000 (one day) */
  maxWaitMs: z.int().min(1_000).optional(),
  /**
   * The largest output recorded (its JSON, bytes): a call whose output is larger ends `failed`
   * with `OutputTooLarge`. Outputs over 192 KiB are stored in S3 (the result points to them);
   * at most 500 MiB (V8's longest string is about 512 MiB); the construct checks it, times
   * `maxConcurrentCalls`, against the function's memory. @default 8 388 608 (8 MiB)
   */
  maxOutputBytes: z.int().min(1).max(MAX_OUTPUT_BYTES_LIMIT).optional(),
  /**
   * Call timeouts per service (`{ "ec2": { "requestTimeoutMs": 30000 } }`), over the service
   * registry's defaults (EC2: connection 3 s, call 20 s; Service Quotas: 3 s, 10 s). A call is only
   * started when the invocation has time left for its whole timeout. @default {}
   */
  callTimeouts: z
    .record(z.string().regex(SERVICE_PATTERN, SERVICE_RULE), callTimeoutsSchema)
    .optional(),
  /** Priority levels' assured shares, flows' weights, the freeze margin. @default {} */
  scheduling: schedulingSchema.optional(),
  /** How a throttled bucket slows down and recovers. @default {} */
  learnedRate: learnedRateSchema.optional(),
  /** Identical reads sharing one call (on), and the result cache per operation (off). @default {} */
  reads: readsSchema.optional(),
});

/** The deployment configuration as written. */
export type DeploymentConfigInput = Omit<z.infer<typeof deploymentConfigSchema>, 'replyTo'> & {
  readonly replyTo?: readonly (string | ReplyToConfig)[];
};

/** The deployment configuration with every default applied; frozen. */
export interface DeploymentConfig extends ProducerDeployment {
  readonly targets: readonly TargetConfig[];
  /** At least one: {@link DEFAULT_PRODUCER} when the configuration names none. */
  readonly producers: readonly ProducerConfig[];
  readonly extraRegions: readonly string[];
  /** Where results may be sent, one entry per destination. */
  readonly replyTo: readonly ReplyToConfig[];
  readonly limits: LimitsConfig;
  readonly horizonMs: number;
  readonly lateAllowanceMs: number;
  readonly maxConcurrentCalls: number;
  readonly leaseMs: number;
  readonly resultTtlDays: number;
  readonly maxWaitMs: number;
  readonly maxOutputBytes: number;
  /** Per service, the timeouts that override the registry's defaults. */
  readonly callTimeouts: Readonly<Record<string, CallTimeoutsConfig>>;
  readonly scheduling: SchedulingPolicy;
  readonly learnedRate: LearnedRatePolicy;
  readonly reads: ReadsPolicy;
}

/** One target account of the deployment. */
export type TargetConfig = z.infer<typeof targetSchema>;

/** The deployment configuration is invalid; `problems` lists every one, with its field. */
export class DeploymentConfigError extends Error {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(`invalid Sluice deployment configuration: ${problems.map((p) => p.message).join('; ')}`);
    this.name = 'DeploymentConfigError';
    this.problems = problems;
  }
}

/** Validates a deployment configuration and applies defaults; throws listing every problem. */
export function parseDeploymentConfig(value: unknown): DeploymentConfig {
  // reportInput tells a missing field (`required`) from a wrong-typed one (`type`).
  const parsed = deploymentConfigSchema.safeParse(value, { reportInput: true });
  const problems: Problem[] = parsed.success ? [] : problemsFromIssues(parsed.error.issues);
  if (parsed.success) {
    const { data } = parsed;
    problems.push(...validateLimitsConfig(data.limits ?? {}, ['limits']));
    problems.push(...readsProblems(data.reads, ['reads']));
    const context = {
      targets: data.targets,
      replyDestinations: (data.replyTo ?? []).map((entry) => entry.destination),
      extraRegions: data.extraRegions ?? [],
    };
    problems.push(...producerProblems(data.producers ?? [], context));
    // Flows are producers (shared/dispatch/admit-batch.ts): a weight for anything else is a typo.
    const names = data.producers?.map((p) => p.name) ?? [DEFAULT_PRODUCER];
    for (const flow of Object.keys(data.scheduling?.flowWeights ?? {})) {
      if (!names.includes(flow)) {
        const text = `${flow} is not a producer of this deployment (${names.join(', ')})`;
        problems.push(problem(['scheduling', 'flowWeights', flow], 'not-a-producer', text));
      }
    }
    const total = assuredTotal(schedulingPolicyOf(data.scheduling));
    if (total > 1 + 1e-9) {
      problems.push(
        problem(
          ['scheduling', 'levels'],
          'range',
          `assured shares add up to ${Number(total.toFixed(6))}; together they may be at most 1`,
        ),
      );
    }
    const seen = new Set<string>();
    data.targets.forEach((target, i) => {
      if (seen.has(target.account)) {
        problems.push(
          problem(['targets', i, 'account'], 'unique', `${target.account} is listed twice`),
        );
      }
      seen.add(target.account);
      problems.push(...regionProblems(target.regions ?? [], ['targets', i, 'regions'], context));
      if (target.externalId !== undefined && target.roleArn === undefined) {
        problems.push(
          problem(
            ['targets', i, 'externalId'],
            'requires-role',
            'only means something with roleArn',
          ),
        );
      }
    });
    for (const service of Object.keys(data.callTimeouts ?? {})) {
      if (SERVICES[service] === undefined) {
        const text = `${service} is not a service Sluice can call (${Object.keys(SERVICES).join(', ')})`;
        problems.push(problem(['callTimeouts', service], 'unknown-service', text));
      }
    }
    const destinations = new Set<string>();
    (data.replyTo ?? []).forEach((entry, i) => {
      if (destinations.has(entry.destination)) {
        const text = `${entry.destination} is listed twice`;
        problems.push(problem(['replyTo', i, 'destination'], 'unique', text));
      }
      destinations.add(entry.destination);
    });
  }
  if (!parsed.success || problems.length > 0) throw new DeploymentConfigError(problems);
  const data = parsed.data;
  const replyTo = data.replyTo ?? [];
  return deepFreeze({
    targets: data.targets,
    producers: data.producers?.map(resolveProducer) ?? [
      implicitProducer(
        data.targets,
        replyTo.map((entry) => entry.destination),
      ),
    ],
    implicitProducer: data.producers === undefined,
    extraRegions: data.extraRegions ?? [],
    replyTo,
    limits: data.limits ?? {},
    horizonMs: data.horizonMs ?? 60_000,
    lateAllowanceMs: data.lateAllowanceMs ?? 250,
    maxConcurrentCalls: data.maxConcurrentCalls ?? 16,
    leaseMs: data.leaseMs ?? 120_000,
    resultTtlDays: data.resultTtlDays ?? 7,
    maxWaitMs: data.maxWaitMs ?? 86_400_000,
    maxOutputBytes: data.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    callTimeouts: data.callTimeouts ?? {},
    scheduling: schedulingPolicyOf(data.scheduling),
    learnedRate: learnedRatePolicyOf(data.learnedRate),
    reads: readsPolicyOf(data.reads),
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
