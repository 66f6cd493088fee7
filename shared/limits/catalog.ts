/**
 * The limits catalog: which buckets a call draws on, each bucket's effective limit and the
 * tokens the call takes from it. Built in: EC2 (./ec2.ts) and Service Quotas
 * (./service-quotas.ts). Operators add services, override limits per account and region, and
 * set a safety factor, because other clients in the account spend the same provider buckets
 * (DESIGN.md, "Buckets and limits").
 *
 * How a limit is worked out, in order:
 * 1. the service's rule gives each bucket's default limit (or the operator's `services` entry);
 * 2. overrides for (service, bucket) that match the target apply, least specific first, so the
 *    most specific one that sets a field wins it: account+region > account > region > any;
 * 3. the safety factor multiplies rate and burst (burst floored, at least 1). It applies to
 *    overridden limits too: an override states the provider's limit (e.g. a raised one), and
 *    the other clients sharing it are still there.
 */

import { isRecord } from '../util/objects.js';
import { EC2_SERVICE, ec2Needs } from './ec2.js';
import {
  describeValue,
  InvalidLimitsConfigError,
  LimitsError,
  UnknownServiceError,
} from './errors.js';
import { SERVICE_QUOTAS_LIMITS, SERVICE_QUOTAS_SERVICE } from './service-quotas.js';
import type { BucketDraw, BucketLimit, BucketNeed, ServiceLimits } from './types.js';

/**
 * An operator's limit for one bucket, optionally only for one account and/or region. Set `rate`,
 * `burst` or both; an unset field keeps the value from the less specific layers.
 */
export interface LimitOverride {
  /** Only for this account; any account when unset. */
  readonly account?: string;
  /** Only for this region; any region when unset. */
  readonly region?: string;
  /** Service id, e.g. `ec2`. */
  readonly service: string;
  /** Bucket name as the catalog reports it, e.g. `DescribeInstances`, `RunInstances:resource`. */
  readonly bucket: string;
  /** Tokens per second; > 0, fractional allowed. */
  readonly rate?: number;
  /** Capacity; ≥ 1. */
  readonly burst?: number;
}

/** Operator configuration of the catalog. Every field is optional; `{}` means the built-in defaults. */
export interface LimitsConfig {
  /**
   * Share of each provider limit Sluice may spend, in (0, 1]; multiplies rate and burst (burst
   * floored, at least 1), so that other clients of the same account keep some headroom.
   * @default 1
   */
  readonly safetyFactor?: number;
  /**
   * Limits for services not built in, or replacing a built-in one entirely (by service id).
   * @default {}
   */
  readonly services?: Readonly<Record<string, ServiceLimits>>;
  /**
   * Per-bucket limits; the most specific match wins (account+region > account > region > any).
   * Two overrides with the same service, bucket, account and region are a config error.
   * @default []
   */
  readonly overrides?: readonly LimitOverride[];
}

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

/** A validated, immutable catalog. */
export interface LimitsCatalog {
  /**
   * The buckets the call draws on, each with its effective limit and the call's cost, request
   * bucket first. Never empty.
   * @throws {UnknownServiceError} when the service is neither built in nor configured.
   * @throws {InvalidCostError} when a cost read from the input is missing or malformed.
   */
  drawsFor(target: CallTarget, call: CallSpec): BucketDraw[];
}

type NeedsFn = (
  operation: string,
  input: Readonly<Record<string, unknown>>,
) => readonly BucketNeed[];

/** Services with built-in limits, by service id. */
const BUILT_IN: ReadonlyMap<string, NeedsFn> = new Map<string, NeedsFn>([
  [EC2_SERVICE, ec2Needs],
  [SERVICE_QUOTAS_SERVICE, needsFromServiceLimits(SERVICE_QUOTAS_LIMITS)],
]);

/** Ids of the services the catalog knows without configuration. */
export const BUILT_IN_SERVICES: readonly string[] = Object.freeze([...BUILT_IN.keys()]);

/**
 * Every problem in a config, as `path: what is wrong` strings; empty when the config is valid.
 * Checks the values at run time, so it also serves configs parsed from JSON or the environment.
 */
export function validateLimitsConfig(config: LimitsConfig): string[] {
  const problems: string[] = [];
  if (!isRecord(config)) return [`config must be an object; got ${describeValue(config)}`];

  const { safetyFactor, services, overrides } = config;
  if (
    safetyFactor !== undefined &&
    !(typeof safetyFactor === 'number' && safetyFactor > 0 && safetyFactor <= 1)
  ) {
    problems.push(`safetyFactor must be a number in (0, 1]; got ${describeValue(safetyFactor)}`);
  }

  if (services !== undefined) {
    if (!isRecord(services)) {
      problems.push(`services must be an object; got ${describeValue(services)}`);
    } else {
      for (const [id, limits] of Object.entries(services)) {
        problems.push(...serviceProblems(id, limits));
      }
    }
  }

  if (overrides !== undefined) {
    if (!Array.isArray(overrides)) {
      problems.push(`overrides must be an array; got ${describeValue(overrides)}`);
    } else {
      problems.push(...overrideProblems(overrides));
    }
  }
  return problems;
}

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
    services.set(id, needsFromServiceLimits(deepFreeze(structuredClone(limits))));
  }
  const knownServices = Object.freeze([...services.keys()]);
  const overrides = indexOverrides(config.overrides ?? []);

  return Object.freeze({
    drawsFor(target: CallTarget, call: CallSpec): BucketDraw[] {
      const needs = services.get(call.service);
      if (needs === undefined) {
        throw new UnknownServiceError(call.service, call.operation, knownServices);
      }
      return needs(call.operation, call.input).map((need) => {
        const ref = Object.freeze({
          account: target.account,
          region: target.region,
          service: call.service,
          bucket: need.bucket,
        });
        const overridden = applyOverrides(
          need.limit,
          overrides.get(overrideKey(call.service, need.bucket)),
          target,
        );
        return Object.freeze({
          ref,
          limit: applySafetyFactor(overridden, safetyFactor),
          cost: need.cost,
        });
      });
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

/** One token from the operation's bucket (or the default bucket) per call. */
function needsFromServiceLimits(limits: ServiceLimits): NeedsFn {
  return (operation) => {
    const bucket = ownValue(limits.operations ?? {}, operation) ?? limits.defaultBucket;
    const limit = ownValue(limits.buckets, bucket);
    // validateLimitsConfig guarantees every named bucket exists; built-ins are checked by tests.
    if (limit === undefined) throw new LimitsError(`bucket '${bucket}' has no limit`);
    return [{ bucket, limit, cost: 1 }];
  };
}

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

function serviceProblems(id: string, limits: unknown): string[] {
  const path = `services.${id}`;
  const problems: string[] = [];
  if (id === '' || id.includes('#')) {
    problems.push(`${path}: service id must be non-empty and must not contain '#'`);
  }
  if (!isRecord(limits))
    return [...problems, `${path} must be an object; got ${describeValue(limits)}`];

  const { buckets, defaultBucket, operations } = limits;
  const bucketNames = new Set<string>();
  if (!isRecord(buckets) || Object.keys(buckets).length === 0) {
    problems.push(`${path}.buckets must be an object with at least one bucket`);
  } else {
    for (const [name, limit] of Object.entries(buckets)) {
      bucketNames.add(name);
      if (name === '' || name.includes('#')) {
        problems.push(
          `${path}.buckets: bucket name '${name}' must be non-empty and must not contain '#'`,
        );
      }
      if (!isRecord(limit)) {
        problems.push(
          `${path}.buckets.${name} must be { rate, burst }; got ${describeValue(limit)}`,
        );
        continue;
      }
      problems.push(...rateProblems(`${path}.buckets.${name}.rate`, limit.rate, true));
      problems.push(...burstProblems(`${path}.buckets.${name}.burst`, limit.burst, true));
    }
  }

  if (typeof defaultBucket !== 'string' || !bucketNames.has(defaultBucket)) {
    problems.push(
      `${path}.defaultBucket must name a key of ${path}.buckets; got ${describeValue(defaultBucket)}`,
    );
  }
  if (operations !== undefined) {
    if (!isRecord(operations)) {
      problems.push(`${path}.operations must be an object; got ${describeValue(operations)}`);
    } else {
      for (const [operation, bucket] of Object.entries(operations)) {
        if (typeof bucket !== 'string' || !bucketNames.has(bucket)) {
          problems.push(
            `${path}.operations.${operation} must name a key of ${path}.buckets; got ${describeValue(bucket)}`,
          );
        }
      }
    }
  }
  return problems;
}

function overrideProblems(overrides: readonly unknown[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  overrides.forEach((override, i) => {
    const path = `overrides[${i}]`;
    if (!isRecord(override)) {
      problems.push(`${path} must be an object; got ${describeValue(override)}`);
      return;
    }
    for (const field of ['service', 'bucket'] as const) {
      const value = override[field];
      if (typeof value !== 'string' || value === '') {
        problems.push(`${path}.${field} must be a non-empty string; got ${describeValue(value)}`);
      }
    }
    for (const field of ['account', 'region'] as const) {
      const value = override[field];
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        problems.push(
          `${path}.${field} must be a non-empty string when set; got ${describeValue(value)}`,
        );
      }
    }
    if (override.rate === undefined && override.burst === undefined) {
      problems.push(`${path} must set rate or burst`);
    }
    problems.push(...rateProblems(`${path}.rate`, override.rate, false));
    problems.push(...burstProblems(`${path}.burst`, override.burst, false));

    const key = JSON.stringify([
      override.service,
      override.bucket,
      override.account,
      override.region,
    ]);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
    } else {
      problems.push(
        `${path} repeats overrides[${first}] (same service, bucket, account and region)`,
      );
    }
  });
  return problems;
}

function rateProblems(path: string, rate: unknown, required: boolean): string[] {
  if (rate === undefined && !required) return [];
  return typeof rate === 'number' && Number.isFinite(rate) && rate > 0
    ? []
    : [`${path} must be a finite number > 0; got ${describeValue(rate)}`];
}

function burstProblems(path: string, burst: unknown, required: boolean): string[] {
  if (burst === undefined && !required) return [];
  return typeof burst === 'number' && Number.isFinite(burst) && burst >= 1
    ? []
    : [`${path} must be a finite number >= 1; got ${describeValue(burst)}`];
}

/** Freezes a plain-data tree, so limits handed out in draws cannot be changed by callers. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** `record[key]` only for own keys, so an operation named `constructor` finds nothing. */
function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
