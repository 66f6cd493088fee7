/**
 * The limits catalog: which buckets a call draws on, each bucket's effective limit and the
 * tokens the call takes from it. Built in: every service of the registry
 * (shared/services/registry.ts), by its limit rules. Operators add services, override limits
 * per account and region, and set a safety factor (./limits-config.ts), because other clients
 * in the account spend the same provider buckets (DESIGN.md, "Buckets and limits").
 *
 * How a limit is worked out, in order:
 * 1. the service's rule gives each bucket's default limit (or the operator's `services` entry);
 * 2. overrides for (service, bucket) that match the target apply, least specific first, so the
 *    most specific one that sets a field wins it: account+region > account > region > any;
 * 3. the safety factor multiplies rate and burst (burst floored, at least 1). It applies to
 *    overridden limits too: an override states the provider's limit (e.g. a raised one), and
 *    the other clients sharing it are still there.
 */

import { SERVICES } from '../services/registry.js';
import { InvalidLimitsConfigError, UnknownServiceError } from './errors.js';
import { type LimitOverride, type LimitsConfig, validateLimitsConfig } from './limits-config.js';
import { tableRules } from './table-rules.js';
import type { BucketDraw, BucketLimit, BucketSpec, EffectiveBucket, LimitRules } from './types.js';

export type { LimitOverride, LimitsConfig } from './limits-config.js';

/** Whose limits a call spends and where it runs: the request's `target`. */
export interface CallTarget {
  readonly account: string;
  readonly region: string;
}

/** What a call does: the request's `call` (service id, API operation name, SDK input). */
export interface CallSpec {
  readonly service: string;
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** An operation of a service, whatever its input: the request's `call` without `input`. */
export type OperationSpec = Pick<CallSpec, 'service' | 'operation'>;

/** A validated, immutable catalog. */
export interface LimitsCatalog {
  /**
   * The buckets the call draws on, each with its effective limit and the call's cost, request
   * bucket first. Never empty.
   * @throws {UnknownServiceError} when the service is neither built in nor configured.
   * @throws {InvalidCostError} when a cost read from the input is missing or malformed.
   */
  drawsFor(target: CallTarget, call: CallSpec): BucketDraw[];
  /**
   * Every bucket the operation can draw on, whatever the call's input, each with its effective
   * limit for the target, request bucket first: for EC2 the request bucket, the `:unfiltered`
   * one of the seven big Describe actions and the `:resource` one of the instance actions.
   * Each bucket {@link LimitsCatalog.drawsFor} returns for the operation is one of these.
   * @throws {UnknownServiceError} when the service is neither built in nor configured.
   */
  bucketsOf(target: CallTarget, call: OperationSpec): EffectiveBucket[];
}

/** Services with built-in limits, by service id: the registry's. */
const BUILT_IN: ReadonlyMap<string, LimitRules> = new Map(
  Object.values(SERVICES).map((service) => [service.id, service.limits]),
);

/** Ids of the services the catalog knows without configuration. */
export const BUILT_IN_SERVICES: readonly string[] = Object.freeze([...BUILT_IN.keys()]);

/**
 * Validates the config once and returns a frozen catalog. The config is copied: changing it
 * afterwards does not change the catalog.
 *
 * @throws {InvalidLimitsConfigError} listing every problem when the config is invalid.
 * @example
 * const catalog = createCatalog({
 *   safetyFactor: 0.8,
 *   overrides: [{ account: '123456789012', service: 'ec2', bucket: 'RunInstances', rate: 4 }],
 * });
 * catalog.drawsFor(
 *   { account: '123456789012', region: 'eu-west-1' },
 *   { service: 'ec2', operation: 'RunInstances', input: { MaxCount: 3, MinCount: 1 } },
 * );
 * // → RunInstances (rate 3.2, burst 4, cost 1) and RunInstances:resource (1.6, 800, cost 3)
 */
export function createCatalog(config: LimitsConfig = {}): LimitsCatalog {
  const problems = validateLimitsConfig(config);
  if (problems.length > 0) throw new InvalidLimitsConfigError(problems);

  const safetyFactor = config.safetyFactor ?? 1;
  const services = new Map(BUILT_IN);
  for (const [id, limits] of Object.entries(config.services ?? {})) {
    services.set(id, tableRules(deepFreeze(structuredClone(limits))));
  }
  const knownServices = Object.freeze([...services.keys()]);
  const overrides = indexOverrides(config.overrides ?? []);

  const rulesOf = ({ service, operation }: OperationSpec): LimitRules => {
    const rules = services.get(service);
    if (rules === undefined) throw new UnknownServiceError(service, operation, knownServices);
    return rules;
  };
  /** The bucket of the target, its default limit made effective. */
  const effective = (target: CallTarget, service: string, spec: BucketSpec): EffectiveBucket => {
    const ref = Object.freeze({
      account: target.account,
      region: target.region,
      service,
      bucket: spec.bucket,
    });
    const overridden = applyOverrides(
      spec.limit,
      overrides.get(overrideKey(service, spec.bucket)),
      target,
    );
    return { ref, limit: applySafetyFactor(overridden, safetyFactor) };
  };

  return Object.freeze({
    drawsFor(target: CallTarget, call: CallSpec): BucketDraw[] {
      return rulesOf(call)
        .needs(call.operation, call.input)
        .map((need) =>
          Object.freeze({ ...effective(target, call.service, need), cost: need.cost }),
        );
    },
    bucketsOf(target: CallTarget, call: OperationSpec): EffectiveBucket[] {
      return rulesOf(call)
        .bucketsOf(call.operation)
        .map((spec) => Object.freeze(effective(target, call.service, spec)));
    },
  });
}

const DEFAULT_CATALOG = createCatalog();

/**
 * The buckets a call draws on, with effective limits and costs; see {@link LimitsCatalog.drawsFor}.
 * Without `config`, the built-in defaults. With one, the config is validated on every call:
 * hold a {@link createCatalog} result instead when calling often with the same config.
 *
 * @throws {InvalidLimitsConfigError} when `config` is invalid.
 * @throws {UnknownServiceError} when the service is neither built in nor configured.
 * @throws {InvalidCostError} when a cost read from the input is missing or malformed.
 */
export function drawsFor(target: CallTarget, call: CallSpec, config?: LimitsConfig): BucketDraw[] {
  return (config === undefined ? DEFAULT_CATALOG : createCatalog(config)).drawsFor(target, call);
}

// ---------------------------------------------------------------------------------------------

/** Overrides for one (service, bucket), least specific first. */
type OverrideIndex = ReadonlyMap<string, readonly LimitOverride[]>;

function overrideKey(service: string, bucket: string): string {
  // Neither part can hold U+0000, so the key is unambiguous.
  return `${service}\u0000${bucket}`;
}

/** any = 0 < region = 1 < account = 2 < account + region = 3. */
function specificity(override: LimitOverride): number {
  return (override.account !== undefined ? 2 : 0) + (override.region !== undefined ? 1 : 0);
}

function indexOverrides(overrides: readonly LimitOverride[]): OverrideIndex {
  const index = new Map<string, LimitOverride[]>();
  for (const override of overrides) {
    const key = overrideKey(override.service, override.bucket);
    const list = index.get(key) ?? [];
    list.push(Object.freeze({ ...override }));
    index.set(key, list);
  }
  for (const list of index.values()) list.sort((a, b) => specificity(a) - specificity(b));
  return index;
}

function applyOverrides(
  base: BucketLimit,
  overrides: readonly LimitOverride[] | undefined,
  target: CallTarget,
): BucketLimit {
  if (overrides === undefined) return base;
  let { rate, burst } = base;
  for (const o of overrides) {
    if (o.account !== undefined && o.account !== target.account) continue;
    if (o.region !== undefined && o.region !== target.region) continue;
    rate = o.rate ?? rate;
    burst = o.burst ?? burst;
  }
  return rate === base.rate && burst === base.burst ? base : Object.freeze({ rate, burst });
}

/**
 * Rate × factor, burst × factor floored but at least 1 (a bucket must hold one token). With the
 * factor 1 the limit is returned untouched, so fractional rates (0.1, 0.15, 0.3) stay exact.
 */
function applySafetyFactor(limit: BucketLimit, factor: number): BucketLimit {
  if (factor === 1) return limit;
  // The epsilon keeps float error from flooring e.g. 100 × 0.29 = 28.999999999999996 to 28.
  const burst = Math.max(1, Math.floor(limit.burst * factor + 1e-9));
  return Object.freeze({ rate: limit.rate * factor, burst });
}

/** Freezes a plain-data tree, so limits handed out in draws cannot be changed by callers. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
