/**
 * How calls that compete for a bucket are ordered, and how a bucket learns the rate the provider
 * really grants: the `scheduling` and `learnedRate` sections of the deployment configuration,
 * their defaults, and the policies the bucket store runs on (shared/admission/placement.ts and
 * learned-rate.ts say what each parameter does).
 */
import { z } from 'zod';
import { DEFAULT_SCHEDULING, type SchedulingPolicy } from '../admission/bucket-store.js';
import { DEFAULT_LEARNED_RATE, type LearnedRatePolicy } from '../admission/learned-rate.js';
import { PRIORITIES } from '../contract/request.js';

/**
 * No cut-in lands closer to now than this: a call admitted to run at once leaves within 250 ms
 * of its admission (shared/dispatch/admit-batch.ts), and must never be moved.
 */
const MIN_FREEZE_MS = 300;

const share = z.number().min(0).max(1);

/** `scheduling`: levels' assured shares, flows' weights, the freeze margin. */
export const schedulingSchema = z.strictObject({
  /** Assured share of the rate per priority level (0–1, together at most 1). */
  levels: z
    .strictObject(
      Object.fromEntries(PRIORITIES.map((p) => [p, z.strictObject({ assuredShare: share })])),
    )
    .partial()
    .optional(),
  /** Weight of a flow (a producer) in fair queuing within a level; default 1. */
  flowWeights: z.record(z.string().min(1).max(128), z.number().gt(0).max(1_000)).optional(),
  /** No cut-in lands closer to now than this (ms). @default 300 */
  freezeMs: z.int().min(MIN_FREEZE_MS).max(10_000).optional(),
  /** On a contended bucket, how much further ahead each level may reserve than the one below (ms). @default 500 */
  reachStepMs: z.int().min(0).max(2_000).optional(),
});

/** `learnedRate`: how a throttled bucket slows down and recovers. */
export const learnedRateSchema = z.strictObject({
  decrease: z.number().gt(0).lt(1).optional(),
  minFraction: z.number().gt(0).max(1).optional(),
  plateauSeconds: z.number().min(0).max(3_600).optional(),
  probeGrowth: z.number().gt(0).max(10).optional(),
  probeStep: z.number().gt(1).max(10).optional(),
  probeHoldSeconds: z.number().min(0).max(600).optional(),
  maxBackoffs: z.int().min(0).max(10).optional(),
  settleSeconds: z.number().min(0).max(60).optional(),
  minStep: z.number().gt(0).max(1).optional(),
});

/** The scheduling policy a configuration asks for; the problem when shares exceed 1. */
export function schedulingPolicyOf(
  input: z.infer<typeof schedulingSchema> | undefined,
): SchedulingPolicy {
  const weights = new Map(Object.entries(input?.flowWeights ?? {}));
  return Object.freeze({
    levels: Object.freeze(
      DEFAULT_SCHEDULING.levels.map((level) => ({
        name: level.name,
        assuredShare: input?.levels?.[level.name]?.assuredShare ?? level.assuredShare,
      })),
    ),
    defaultLevel: DEFAULT_SCHEDULING.defaultLevel,
    weightOf: (_level: string, flow: string) => weights.get(flow) ?? 1,
    freezeMs: input?.freezeMs ?? DEFAULT_SCHEDULING.freezeMs,
    reachStepMs: input?.reachStepMs ?? DEFAULT_SCHEDULING.reachStepMs,
  });
}

/** The sum of the assured shares the policy gives its levels. */
export function assuredTotal(policy: SchedulingPolicy): number {
  return policy.levels.reduce((sum, l) => sum + l.assuredShare, 0);
}

/** The learned-rate policy a configuration asks for (defaults for what it leaves out). */
export function learnedRatePolicyOf(
  input: z.infer<typeof learnedRateSchema> | undefined,
): LearnedRatePolicy {
  return Object.freeze({ ...DEFAULT_LEARNED_RATE, ...input });
}
