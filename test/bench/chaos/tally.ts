/**
 * The chaos benchmark's figures, from what it recorded: the requests it submitted (when, what
 * kind), the results in the requests table (and when each was first seen there), the dead-letter
 * queue, the calls the provider simulator ran, and when each fault ended. Pure: no clients here.
 */
import type { SluiceResult } from '../../../shared/contract/result.js';
import { ERROR_CODES } from '../../../shared/contract/result.js';

/** The kinds of calls in the workload. */
export type CallKind = 'read' | 'run' | 'tags' | 'quotas' | 'large';

/** A request the benchmark submitted. */
export interface Submitted {
  readonly id: string;
  readonly kind: CallKind;
  readonly atMs: number;
}

/** A fault as it happened: its name and when it began and ended. */
export interface FaultWindow {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** A call the provider ran: a RunInstances by its ClientToken, a CreateTags by its request id. */
export interface Execution {
  readonly kind: 'run' | 'tags';
  /** The ClientToken (run) or the request id carried in its tag (tags). */
  readonly key: string;
}

/** Everything the tally reads. */
export interface ChaosRecord {
  readonly submitted: readonly Submitted[];
  /** Request id → its result, when one was recorded. */
  readonly results: ReadonlyMap<string, SluiceResult>;
  /** Request id → when the benchmark first saw it finished in the table, epoch ms. */
  readonly seenFinishedMs: ReadonlyMap<string, number>;
  /** Request id → the reason its dead letter gives (`sluice-reason`), `''` without one. */
  readonly deadLetters: ReadonlyMap<string, string>;
  readonly executions: readonly Execution[];
  /** Request id → the ClientToken the dispatcher derived for it (RunInstances). */
  readonly tokens: ReadonlyMap<string, string>;
  readonly faults: readonly FaultWindow[];
}

/** The figures the benchmark prints. */
export interface ChaosFigures {
  readonly submitted: number;
  readonly succeeded: number;
  /** Failed results by error code. */
  readonly failed: Readonly<Record<string, number>>;
  readonly rejected: number;
  /** No result recorded, and not in the dead-letter queue with a reason. */
  readonly lost: number;
  /** Non-idempotent calls (CreateTags by call, RunInstances by ClientToken) run more than once. */
  readonly executedTwice: number;
  readonly outcomeUnknown: {
    readonly total: number;
    /** Of those, how many the provider really ran. */
    readonly providerExecuted: number;
    /**
     * By why: a lapsed attempt had sent the call, the call got no answer, or a read back could
     * not tell (see causeOf).
     */
    readonly byCause: Readonly<Record<string, number>>;
    /** By the fault during which the request was first submitted (or `none`). */
    readonly byPhase: Readonly<Record<string, number>>;
  };
  /**
   * Per fault: seconds from its end until every request submitted before its end was finished
   * in the table (null if one never was).
   */
  readonly recoverySeconds: Readonly<Record<string, number | null>>;
  /** Results whose output was in S3 (`outputRef`). */
  readonly largeOutputs: number;
  /** Succeeded requests whose answer was lost and whose effect a read back confirmed. */
  readonly confirmedByReadBack: number;
}

/** Counts what happened. */
export function tally(record: ChaosRecord): ChaosFigures {
  let succeeded = 0;
  let rejected = 0;
  let largeOutputs = 0;
  let confirmedByReadBack = 0;
  const failed: Record<string, number> = {};
  for (const result of record.results.values()) {
    if (result.status === 'succeeded') {
      succeeded++;
      if (result.outputRef !== undefined) largeOutputs++;
      if (result.confirmedBy !== undefined) confirmedByReadBack++;
    } else if (result.status === 'rejected') rejected++;
    else failed[result.error.code] = (failed[result.error.code] ?? 0) + 1;
  }
  const lost = record.submitted.filter(
    (s) => !record.results.has(s.id) && !record.deadLetters.get(s.id),
  ).length;

  const runs = countBy(record.executions);
  const executedTwice = [...runs.values()].filter((count) => count > 1).length;

  const unknown = record.submitted.filter((s) => {
    const result = record.results.get(s.id);
    return result?.status === 'failed' && result.error.code === ERROR_CODES.outcomeUnknown;
  });
  const byCause: Record<string, number> = {};
  const byPhase: Record<string, number> = {};
  let providerExecuted = 0;
  for (const s of unknown) {
    const result = record.results.get(s.id);
    const message = result?.status === 'failed' ? result.error.message : '';
    const cause = causeOf(message);
    byCause[cause] = (byCause[cause] ?? 0) + 1;
    const phase = record.faults.find((f) => s.atMs >= f.startMs && s.atMs <= f.endMs)?.name;
    byPhase[phase ?? 'none'] = (byPhase[phase ?? 'none'] ?? 0) + 1;
    const key = s.kind === 'run' ? (record.tokens.get(s.id) ?? '') : s.id;
    if ((runs.get(`${s.kind}:${key}`) ?? 0) > 0) providerExecuted++;
  }

  const recoverySeconds: Record<string, number | null> = {};
  for (const fault of record.faults) {
    const before = record.submitted.filter((s) => s.atMs <= fault.endMs);
    const finishedAt = before.map((s) => record.seenFinishedMs.get(s.id));
    recoverySeconds[fault.name] = finishedAt.some((t) => t === undefined)
      ? null
      : round1(Math.max(0, ...(finishedAt as number[]).map((t) => t - fault.endMs)) / 1_000);
  }

  return {
    submitted: record.submitted.length,
    succeeded,
    failed,
    rejected,
    lost,
    executedTwice,
    outcomeUnknown: { total: unknown.length, providerExecuted, byCause, byPhase },
    recoverySeconds,
    largeOutputs,
    confirmedByReadBack,
  };
}

/**
 * Why an outcome stayed unknown, from the result's message: no answer to a call that cannot be
 * read back; a read back that found the keys with other values, that kept failing, or that was
 * refused; or an attempt interrupted (a kill) of a call that cannot be read back.
 */
function causeOf(message: string): string {
  if (message.startsWith('no answer')) return 'no-answer';
  if (message.includes('other values')) return 'read-back-unclear';
  if (message.includes('without learning')) return 'read-back-failed';
  if (message.includes('reading back with')) return 'read-back-refused';
  return 'interrupted';
}

/** Executions per `kind:key`. */
function countBy(executions: readonly Execution[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of executions) {
    const key = `${e.kind}:${e.key}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
