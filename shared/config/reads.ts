/**
 * The `reads` section of the deployment configuration: whether identical reads in flight share
 * one provider call (single-flight, on by default), and which reads' outputs are cached, for how
 * long (off by default). What the dispatcher does with it is shared/dispatch/shared-reads.ts.
 *
 * @example
 * { "reads": { "cache": [{ "service": "service-quotas", "operations": ["ListServiceQuotas"], "cacheSeconds": 300 }] } }
 */
import { z } from 'zod';
import {
  OPERATION_GLOB_PATTERN,
  OPERATION_GLOB_RULE,
  operationMatches,
  SERVICE_PATTERN,
  SERVICE_RULE,
} from '../contract/patterns.js';
import { type Problem, problem } from '../contract/problems.js';
import { SERVICES } from '../services/registry.js';

/** A day: the longest a cached output may serve. */
const MAX_CACHE_SECONDS = 86_400;

/** Outputs of these reads are cached for `cacheSeconds`. */
const cacheRuleSchema = z.strictObject({
  service: z.string().regex(SERVICE_PATTERN, SERVICE_RULE),
  /** Read-only operations, or patterns of them (`List*`). */
  operations: z.array(z.string().regex(OPERATION_GLOB_PATTERN, OPERATION_GLOB_RULE)).min(1),
  cacheSeconds: z.int().min(1).max(MAX_CACHE_SECONDS),
});

/** `reads`: single-flight and the result cache. */
export const readsSchema = z.strictObject({
  /**
   * Identical reads (same target, operation and input) arriving while one of them is waiting or
   * running share its provider call. Off, only cached operations share (a cache is filled by one
   * call at a time). @default true
   */
  coalesce: z.boolean().optional(),
  /** Reads whose outputs are cached, and for how long. @default [] */
  cache: z.array(cacheRuleSchema).optional(),
});

/** One cache rule: a service's read operations and how long their outputs serve. */
export type CacheRule = z.infer<typeof cacheRuleSchema>;

/** The reads policy, defaults applied. */
export interface ReadsPolicy {
  readonly coalesce: boolean;
  readonly cache: readonly CacheRule[];
}

/** The policy a configuration asks for. */
export function readsPolicyOf(input: z.infer<typeof readsSchema> | undefined): ReadsPolicy {
  return Object.freeze({ coalesce: input?.coalesce ?? true, cache: input?.cache ?? [] });
}

/**
 * What the schema cannot check: each cache rule names a service of the registry and only
 * operations it knows as reads (a pattern by its prefix: `List*` yes, `Create*` no). Caching a
 * mutating call would answer a change with an old answer.
 */
export function readsProblems(
  input: z.infer<typeof readsSchema> | undefined,
  path: readonly (string | number)[],
): Problem[] {
  const problems: Problem[] = [];
  (input?.cache ?? []).forEach((rule, i) => {
    const service = SERVICES[rule.service];
    if (service === undefined) {
      const text = `${rule.service} is not a service Sluice can call`;
      problems.push(problem([...path, 'cache', i, 'service'], 'unsupported', text));
      return;
    }
    rule.operations.forEach((operation, j) => {
      const name = operation.endsWith('*') ? operation.slice(0, -1) : operation;
      if (!service.isReadOnly(name)) {
        const text = `${rule.service}:${operation} is not a read: only read-only operations are cached`;
        problems.push(problem([...path, 'cache', i, 'operations', j], 'read-only', text));
      }
    });
  });
  return problems;
}

/** How long the output of this call is cached, ms: the first matching rule's; 0 when none. */
export function cacheMsFor(
  policy: ReadsPolicy,
  call: { readonly service: string; readonly operation: string },
): number {
  const rule = policy.cache.find(
    (r) =>
      r.service === call.service && r.operations.some((op) => operationMatches(op, call.operation)),
  );
  return rule === undefined ? 0 : rule.cacheSeconds * 1_000;
}
