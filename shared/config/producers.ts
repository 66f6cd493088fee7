/**
 * Producers: the teams that send calls through one coordinator, each with its own queue, its own
 * namespace of request ids and its own allowlist (DESIGN.md, "Producers and trust"). A producer's
 * identity is the queue a message arrived on, never the message; this module says what each
 * producer may do once known: which accounts, regions and operations, under which IAM resource
 * conditions, and which reply queues.
 *
 * A deployment that names no producers has one, {@link DEFAULT_PRODUCER}, allowed everything its
 * targets allow: the single-producer deployment of before.
 *
 * A producer is also a flow of fair scheduling (shared/dispatch/admit-batch.ts, `flowOf`): its
 * weight there is `scheduling.flowWeights[<producer>]` (./scheduling.ts).
 */
import { z } from 'zod';
import { KNOWN_REGIONS } from '../aws/regions.js';
import {
  ACCOUNT_PATTERN,
  ACCOUNT_RULE,
  DEFAULT_PRODUCER,
  OPERATION_GLOB_PATTERN,
  OPERATION_GLOB_RULE,
  operationMatches,
  operationWithin,
  PRODUCER_PATTERN,
  PRODUCER_RULE,
  REGION_PATTERN,
  REGION_RULE,
  SERVICE_PATTERN,
  SERVICE_RULE,
} from '../contract/patterns.js';
import { type Problem, problem } from '../contract/problems.js';
import { PRIORITIES, type Priority, replyDestinationSchema } from '../contract/request.js';
import { SERVICES } from '../services/registry.js';

export { DEFAULT_PRODUCER };

/** An IAM condition key: `ec2:ResourceTag/team`, `aws:ResourceTag/cost-center`. */
const CONDITION_KEY = /^[a-z0-9-]{2,32}:[A-Za-z0-9/_.:@+=-]{1,128}$/;

/**
 * IAM conditions an entry's calls must meet, as `StringEquals` (a list means any of its values):
 * `{ "ec2:ResourceTag/team": "web" }`. Enforced by IAM in the role the call runs with, not by the
 * dispatcher (which cannot see a resource's tags).
 */
const conditionsSchema = z.record(
  z.string().regex(CONDITION_KEY, 'must be an IAM condition key such as ec2:ResourceTag/team'),
  z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(20)]),
);

/** What one entry of a producer's allowlist allows. */
const grantSchema = z.strictObject({
  accounts: z.array(z.string().regex(ACCOUNT_PATTERN, ACCOUNT_RULE)).min(1),
  /** Regions the calls may run in; every region the target allows when absent. */
  regions: z.array(z.string().regex(REGION_PATTERN, REGION_RULE)).min(1).optional(),
  service: z.string().regex(SERVICE_PATTERN, SERVICE_RULE),
  operations: z.array(z.string().regex(OPERATION_GLOB_PATTERN, OPERATION_GLOB_RULE)).min(1),
  conditions: conditionsSchema.optional(),
});

/** A producer, as the operator writes it. */
export const producerSchema = z.strictObject({
  name: z.string().regex(PRODUCER_PATTERN, PRODUCER_RULE),
  allow: z.array(grantSchema).min(1),
  /**
   * Reply destinations (queue URLs, topic ARNs) its requests may name, each one of the
   * deployment's `replyTo`. @default []
   */
  replyTo: z.array(replyDestinationSchema).optional(),
  /**
   * The most urgent priority its requests get: one asking for more is scheduled at this level
   * (a batch job cannot pass for a user's click by writing `high`). @default "high"
   */
  maxPriority: z.enum(PRIORITIES).optional(),
});

/** One entry of a producer's allowlist. */
export type ProducerGrant = z.infer<typeof grantSchema>;

/** A producer with its defaults applied. */
export interface ProducerConfig {
  readonly name: string;
  readonly allow: readonly ProducerGrant[];
  readonly replyTo: readonly string[];
  /** The most urgent priority its requests are scheduled at. */
  readonly maxPriority: Priority;
}

/** What the producer rules need of the deployment's targets. */
export interface TargetAllowance {
  readonly account: string;
  readonly regions?: readonly string[] | undefined;
  readonly allow: readonly { readonly service: string; readonly operations: readonly string[] }[];
}

/** What the producer rules need of the deployment. */
export interface ProducerDeployment {
  readonly targets: readonly TargetAllowance[];
  readonly extraRegions: readonly string[];
  readonly producers: readonly ProducerConfig[];
  /** True when the configuration names no producers: only {@link DEFAULT_PRODUCER}. */
  readonly implicitProducer: boolean;
}

/** The one producer of a deployment that names none: everything its targets allow. */
export function implicitProducer(
  targets: readonly TargetAllowance[],
  replyDestinations: readonly string[],
): ProducerConfig {
  return {
    name: DEFAULT_PRODUCER,
    allow: targets.flatMap((target) =>
      target.allow.map((entry) => ({
        accounts: [target.account],
        ...(target.regions === undefined ? {} : { regions: [...target.regions] }),
        service: entry.service,
        operations: [...entry.operations],
      })),
    ),
    replyTo: replyDestinations,
    maxPriority: 'high',
  };
}

/** Applies a written producer's defaults. */
export function resolveProducer(input: z.infer<typeof producerSchema>): ProducerConfig {
  return {
    name: input.name,
    allow: input.allow,
    replyTo: input.replyTo ?? [],
    maxPriority: input.maxPriority ?? 'high',
  };
}

/** The priority a request is scheduled at: the one it asks for, no more urgent than `max`. */
export function cappedPriority(requested: Priority, max: Priority): Priority {
  return PRIORITIES.indexOf(requested) < PRIORITIES.indexOf(max) ? max : requested;
}

/**
 * Every problem of the producers against the rest of the deployment: a producer may only use
 * what a target allows (accounts, regions, operations) and reply queues the deployment lists,
 * and resource conditions only on operations IAM evaluates them for.
 */
export function producerProblems(
  producers: readonly z.infer<typeof producerSchema>[],
  deployment: Pick<ProducerDeployment, 'targets' | 'extraRegions'> & {
    /** The deployment's reply destinations. */
    readonly replyDestinations: readonly string[];
  },
): Problem[] {
  const problems: Problem[] = [];
  const names = new Set<string>();
  producers.forEach((producer, i) => {
    const at = ['producers', i];
    if (names.has(producer.name)) {
      problems.push(problem([...at, 'name'], 'unique', `${producer.name} is listed twice`));
    }
    names.add(producer.name);
    producer.allow.forEach((grant, j) => {
      problems.push(...grantProblems(grant, [...at, 'allow', j], deployment));
    });
    (producer.replyTo ?? []).forEach((destination, k) => {
      if (!deployment.replyDestinations.includes(destination)) {
        const text = 'must also be listed in the deployment replyTo';
        problems.push(problem([...at, 'replyTo', k], 'outside-deployment', text));
      }
    });
  });
  return problems;
}

function grantProblems(
  grant: ProducerGrant,
  at: readonly PropertyKey[],
  deployment: Pick<ProducerDeployment, 'targets' | 'extraRegions'>,
): Problem[] {
  const problems: Problem[] = [];
  grant.accounts.forEach((account, k) => {
    const target = deployment.targets.find((t) => t.account === account);
    if (target === undefined) {
      const text = `${account} is not a target of this deployment`;
      problems.push(problem([...at, 'accounts', k], 'not-a-target', text));
      return;
    }
    (grant.regions ?? []).forEach((region, r) => {
      if (target.regions !== undefined && !target.regions.includes(region)) {
        const text = `${region} is not among the regions of account ${account}`;
        problems.push(problem([...at, 'regions', r], 'outside-target', text));
      }
    });
    const targetOps = target.allow
      .filter((entry) => entry.service === grant.service)
      .flatMap((entry) => entry.operations);
    grant.operations.forEach((operation, o) => {
      if (!targetOps.some((outer) => operationWithin(operation, outer))) {
        const text = `${grant.service}:${operation} is not in the allowlist of account ${account}`;
        problems.push(problem([...at, 'operations', o], 'outside-target', text));
      }
    });
  });
  problems.push(...regionProblems(grant.regions ?? [], [...at, 'regions'], deployment));
  if (grant.conditions !== undefined) {
    const service = SERVICES[grant.service];
    const prefixes = ['aws', service?.iamPrefix];
    for (const key of Object.keys(grant.conditions)) {
      if (!prefixes.includes(key.slice(0, key.indexOf(':')))) {
        const text = `must be a ${service?.iamPrefix ?? grant.service}: or aws: condition key`;
        problems.push(problem([...at, 'conditions', key], 'pattern', text));
      }
    }
    grant.operations.forEach((operation, o) => {
      if (service !== undefined && !service.supportsResourceConditions(operation)) {
        const text = `${grant.service}:${operation} supports no resource conditions in IAM; list it in an entry without conditions`;
        problems.push(problem([...at, 'operations', o], 'no-conditions', text));
      }
    });
  }
  return problems;
}

/** Regions that are neither known (shared/aws/regions.ts) nor listed in `extraRegions`. */
export function regionProblems(
  regions: readonly string[],
  at: readonly PropertyKey[],
  deployment: Pick<ProducerDeployment, 'extraRegions'>,
): Problem[] {
  const problems: Problem[] = [];
  regions.forEach((region, r) => {
    if (!isRegionKnown(deployment, region)) {
      const text = `${region} is not a known AWS region; add it to extraRegions if it is new`;
      problems.push(problem([...at, r], 'unknown-region', text));
    }
  });
  return problems;
}

/** Whether the deployment knows the region: a region of the known partitions, or an extra one. */
export function isRegionKnown(
  deployment: Pick<ProducerDeployment, 'extraRegions'>,
  region: string,
): boolean {
  return KNOWN_REGIONS.has(region) || deployment.extraRegions.includes(region);
}

/** The producer of that name, if the deployment has one. */
export function producerNamed(
  deployment: Pick<ProducerDeployment, 'producers'>,
  name: string,
): ProducerConfig | undefined {
  return deployment.producers.find((p) => p.name === name);
}

/**
 * Why `producer` may not make this call, or `undefined` when it may: the account must be a
 * target, the region known and allowed there, and one of the producer's entries must allow the
 * operation in that account and region.
 */
export function disallowedReason(
  deployment: ProducerDeployment,
  producer: string,
  target: { readonly account: string; readonly region: string },
  call: { readonly service: string; readonly operation: string },
): Problem | undefined {
  const { account, region } = target;
  const entry = deployment.targets.find((t) => t.account === account);
  if (entry === undefined) {
    return problem(
      ['target', 'account'],
      'not-allowed',
      `${account} is not a target of this deployment`,
    );
  }
  if (!isRegionKnown(deployment, region)) {
    const text = `${region} is not a known AWS region (a new one goes in the deployment's extraRegions)`;
    return problem(['target', 'region'], 'not-allowed', text);
  }
  const whose = deployment.implicitProducer ? '' : `producer ${producer} in `;
  const inAccount = (producerNamed(deployment, producer)?.allow ?? []).filter((g) =>
    g.accounts.includes(account),
  );
  if (inAccount.length === 0) {
    const text = `${account} is not allowed for producer ${producer}`;
    return problem(['target', 'account'], 'not-allowed', text);
  }
  const inRegion = inAccount.filter((g) => g.regions === undefined || g.regions.includes(region));
  if ((entry.regions !== undefined && !entry.regions.includes(region)) || inRegion.length === 0) {
    const text = `${region} is not allowed for ${whose}account ${account}`;
    return problem(['target', 'region'], 'not-allowed', text);
  }
  const allowed = inRegion.some(
    (g) =>
      g.service === call.service && g.operations.some((op) => operationMatches(op, call.operation)),
  );
  if (!allowed) {
    const text = `${call.service}:${call.operation} is not allowed for ${whose}account ${account}`;
    return problem(['call', 'operation'], 'not-allowed', text);
  }
  return undefined;
}

/**
 * Whether one of `producer`'s entries allows this call in the target's account and region
 * without resource conditions. Only then does its session in the target's role hold the read
 * that shows such a call's effect (infra/target-role.ts): a read takes no resource conditions, so
 * it would show the producer resources outside them.
 */
export function allowedWithoutConditions(
  deployment: Pick<ProducerDeployment, 'producers'>,
  producer: string,
  target: { readonly account: string; readonly region: string },
  call: { readonly service: string; readonly operation: string },
): boolean {
  return (producerNamed(deployment, producer)?.allow ?? []).some(
    (g) =>
      g.conditions === undefined &&
      g.accounts.includes(target.account) &&
      (g.regions === undefined || g.regions.includes(target.region)) &&
      g.service === call.service &&
      g.operations.some((op) => operationMatches(op, call.operation)),
  );
}

/** Whether `producer`'s requests may name `replyTo` (one of its reply queues and topics). */
export function replyToAllowed(
  deployment: Pick<ProducerDeployment, 'producers'>,
  producer: string,
  replyTo: string,
): boolean {
  return producerNamed(deployment, producer)?.replyTo.includes(replyTo) ?? false;
}
