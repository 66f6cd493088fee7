/**
 * The operator's configuration of the limits catalog (overrides, extra services, safety factor)
 * and its validation. Checked at run time, so it also serves configs parsed from JSON or the
 * environment; every problem is reported at once, as a {@link Problem} naming the field and the
 * rule.
 */
import { formatField, type Problem, problem } from '../contract/problems.js';
import { isRecord } from '../util/objects.js';
import { describeValue } from './errors.js';
import type { ServiceLimits } from './types.js';

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

type Path = readonly PropertyKey[];

/**
 * Every problem in a config; empty when the config is valid. Rules: `type`, `range`,
 * `required`, `length`, `pattern`, `unique`, and `unknown-bucket` (a bucket name that is not a
 * key of the service's `buckets`).
 *
 * @param at where the config sits in a larger document (`['limits']` in the deployment config),
 *   so that problems name the field from there. @default []
 */
export function validateLimitsConfig(config: LimitsConfig, at: Path = []): Problem[] {
  if (!isRecord(config)) return [problem(at, 'type', mustBe('an object', config))];
  const problems: Problem[] = [];

  const { safetyFactor, services, overrides } = config;
  if (
    safetyFactor !== undefined &&
    !(typeof safetyFactor === 'number' && safetyFactor > 0 && safetyFactor <= 1)
  ) {
    problems.push(
      problem(
        [...at, 'safetyFactor'],
        numberRule(safetyFactor),
        mustBe('a number in (0, 1]', safetyFactor),
      ),
    );
  }

  if (services !== undefined) {
    if (!isRecord(services)) {
      problems.push(problem([...at, 'services'], 'type', mustBe('an object', services)));
    } else {
      for (const [id, limits] of Object.entries(services)) {
        problems.push(...serviceProblems([...at, 'services', id], id, limits));
      }
    }
  }

  if (overrides !== undefined) {
    if (!Array.isArray(overrides)) {
      problems.push(problem([...at, 'overrides'], 'type', mustBe('an array', overrides)));
    } else {
      problems.push(...overrideProblems([...at, 'overrides'], overrides));
    }
  }
  return problems;
}

function serviceProblems(path: Path, id: string, limits: unknown): Problem[] {
  const problems: Problem[] = [];
  if (id === '' || id.includes('#')) {
    problems.push(
      problem(path, 'pattern', "service id must be non-empty and must not contain '#'"),
    );
  }
  if (!isRecord(limits)) return [...problems, problem(path, 'type', mustBe('an object', limits))];

  const { buckets, defaultBucket, operations } = limits;
  const bucketsPath = [...path, 'buckets'];
  const bucketNames = new Set<string>();
  if (!isRecord(buckets)) {
    problems.push(
      problem(bucketsPath, 'type', mustBe('an object with at least one bucket', buckets)),
    );
  } else if (Object.keys(buckets).length === 0) {
    problems.push(problem(bucketsPath, 'required', 'must name at least one bucket'));
  } else {
    for (const [name, limit] of Object.entries(buckets)) {
      const bucketPath = [...bucketsPath, name];
      bucketNames.add(name);
      if (name === '' || name.includes('#')) {
        problems.push(
          problem(bucketPath, 'pattern', "bucket name must be non-empty and must not contain '#'"),
        );
      }
      if (!isRecord(limit)) {
        problems.push(problem(bucketPath, 'type', mustBe('{ rate, burst }', limit)));
        continue;
      }
      problems.push(...rateProblems([...bucketPath, 'rate'], limit.rate, true));
      problems.push(...burstProblems([...bucketPath, 'burst'], limit.burst, true));
    }
  }

  const aBucket = `a key of ${formatField(bucketsPath)}`;
  if (typeof defaultBucket !== 'string' || !bucketNames.has(defaultBucket)) {
    problems.push(
      problem(
        [...path, 'defaultBucket'],
        bucketRule(defaultBucket),
        nameOf(aBucket, defaultBucket),
      ),
    );
  }
  if (operations !== undefined) {
    if (!isRecord(operations)) {
      problems.push(problem([...path, 'operations'], 'type', mustBe('an object', operations)));
    } else {
      for (const [operation, bucket] of Object.entries(operations)) {
        if (typeof bucket !== 'string' || !bucketNames.has(bucket)) {
          problems.push(
            problem(
              [...path, 'operations', operation],
              bucketRule(bucket),
              nameOf(aBucket, bucket),
            ),
          );
        }
      }
    }
  }
  return problems;
}

function overrideProblems(path: Path, overrides: readonly unknown[]): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  overrides.forEach((override, i) => {
    const at = [...path, i];
    if (!isRecord(override)) {
      problems.push(problem(at, 'type', mustBe('an object', override)));
      return;
    }
    for (const field of ['service', 'bucket'] as const) {
      const value = override[field];
      if (typeof value !== 'string' || value === '') {
        problems.push(
          problem([...at, field], stringRule(value), mustBe('a non-empty string', value)),
        );
      }
    }
    for (const field of ['account', 'region'] as const) {
      const value = override[field];
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        problems.push(
          problem([...at, field], stringRule(value), mustBe('a non-empty string when set', value)),
        );
      }
    }
    if (override.rate === undefined && override.burst === undefined) {
      problems.push(problem(at, 'required', 'must set rate or burst'));
    }
    problems.push(...rateProblems([...at, 'rate'], override.rate, false));
    problems.push(...burstProblems([...at, 'burst'], override.burst, false));

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
      const text = `repeats ${formatField([...path, first])}: same service, bucket, account and region`;
      problems.push(problem(at, 'unique', text));
    }
  });
  return problems;
}

function rateProblems(path: Path, rate: unknown, required: boolean): Problem[] {
  if (rate === undefined && !required) return [];
  return typeof rate === 'number' && Number.isFinite(rate) && rate > 0
    ? []
    : [problem(path, numberRule(rate), mustBe('a finite number > 0', rate))];
}

function burstProblems(path: Path, burst: unknown, required: boolean): Problem[] {
  if (burst === undefined && !required) return [];
  return typeof burst === 'number' && Number.isFinite(burst) && burst >= 1
    ? []
    : [problem(path, numberRule(burst), mustBe('a finite number >= 1', burst))];
}

function mustBe(what: string, value: unknown): string {
  return `must be ${what}; got ${describeValue(value)}`;
}

function nameOf(what: string, value: unknown): string {
  return `must name ${what}; got ${describeValue(value)}`;
}

/** A number out of range, or not a number at all. */
function numberRule(value: unknown): string {
  if (value === undefined) return 'required';
  return typeof value === 'number' ? 'range' : 'type';
}

/** An empty string, or not a string at all. */
function stringRule(value: unknown): string {
  if (value === undefined) return 'required';
  return typeof value === 'string' ? 'length' : 'type';
}

/** A string naming no bucket of the service, or not a string at all. */
function bucketRule(value: unknown): string {
  if (value === undefined) return 'required';
  return typeof value === 'string' ? 'unknown-bucket' : 'type';
}
