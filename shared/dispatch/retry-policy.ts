/**
 * What becomes of a request after its call ran: finish it, try again later through admission
 * (pushing the bucket back after a provider throttle), or give up and dead-letter it
 * (DESIGN.md, "When the provider still says no").
 *
 * Pure and clock-free: the time the call finished and the random number for the jitter come in
 * as arguments, so every branch is tested without a clock (test/unit/dispatch/retry-policy.test.ts).
 */
import { deadlineMs, effectiveMaxAttempts, type SluiceRequest } from '../contract/request.js';
import { ERROR_CODES } from '../contract/result.js';
import type { ClassifiedError } from './classify.js';

/**
 * The first back-off after a transient error, and the floor of every one: a provider that just
 * failed (5xx, timeout, reset) gets at least a second before the same call comes back.
 */
export const TRANSIENT_BASE_MS = 1_000;
/**
 * The longest back-off after a transient error. The ceiling doubles from {@link TRANSIENT_BASE_MS}
 * with each attempt and stops here (5 min), so a long outage is probed every few minutes, not
 * once an hour.
 */
export const TRANSIENT_CAP_MS = 300_000;
/**
 * The shortest wait after a provider throttle without `Retry-After`, and so the shortest time the
 * bucket is pushed back: one second covers the refill of one token of any bucket of 1/s or more
 * (slower buckets wait one emission interval, `1000 / rate` ms).
 */
export const THROTTLE_MIN_PENALTY_MS = 1_000;

/**
 * The least wait before reading back a call that may have run (./outcome-check.ts): the lost
 * request has had its whole timeout already, and this leaves the provider time to finish one it
 * was still working on and for its reads to show the change (EC2's tag reads are eventually
 * consistent).
 */
export const READ_BACK_SETTLE_MS = 5_000;

/**
 * How a call ended: it returned `output`, or it threw what {@link ClassifiedError} says (a
 * failure, or a DryRun's success signal).
 */
export type CallOutcome<Output = unknown> =
  | { readonly kind: 'succeeded'; readonly output: Output }
  | ClassifiedError;

/** A request's bounds on trying again. */
export interface RetryLimits {
  /** Attempts the request allows in all (the request's `maxAttempts` or the default). */
  readonly maxAttempts: number;
  /** The request's own `deadline`, epoch ms, if it set one. */
  readonly deadlineMs?: number;
  /** When the coordinator first received the request, epoch ms. */
  readonly firstSeenMs: number;
  /** The deployment's longest wait for any request, from {@link firstSeenMs}. */
  readonly maxWaitMs: number;
}

/** Everything the decision depends on. */
export interface AfterCallInput<Output = unknown> {
  readonly outcome: CallOutcome<Output>;
  /** The attempt that just ended, from 1 (the requests table counts them). */
  readonly attempt: number;
  readonly limits: RetryLimits;
  /**
   * Refill rate (tokens/s) of the bucket the call draws on first, the one a throttle pushes back;
   * undefined when the call draws on no bucket (nothing to push back).
   */
  readonly bucketRate?: number;
  /**
   * Whether running the call again is harmless (read-only, token-protected, idempotent): a call
   * that may have run without an answer is tried again only then.
   */
  readonly safeToRepeat: boolean;
  /**
   * Whether the call's effect can be read back (an outcome check, ./outcome-check.ts): a call not
   * safe to repeat that may have run is then tried again, and the next attempt reads before it
   * sends. @default false
   */
  readonly checkable?: boolean;
  /** When the call ended, epoch ms. */
  readonly nowMs: number;
  /** A number in [0, 1) for the back-off's jitter. */
  readonly random: number;
}

/** A failed request's error, as its result records it. */
export interface FinalError {
  readonly code: string;
  readonly message: string;
}

/** The decision: one of five ways on. */
export type AfterCall<Output = unknown> =
  /** Record the output; done. */
  | { readonly kind: 'succeeded'; readonly output: Output }
  /**
   * A `DryRun` the provider would have run: the request succeeded (`dryRun: true`, no output);
   * done. It is no failure, so it is never retried.
   */
  | { readonly kind: 'dry-run' }
  /** A permanent error: record it as the request's failure; another try would fail the same way. */
  | { readonly kind: 'failed'; readonly error: FinalError }
  /**
   * Re-queue the request through admission, to arrive at `retryAtMs`. After a throttle the
   * bucket's next slot is pushed back to `penalizeUntilMs` too, for every dispatcher at once.
   * `mayHaveRun`: the call may have taken effect, so the next attempt reads back before sending
   * (the request keeps its "sent" marker).
   */
  | {
      readonly kind: 'retry';
      readonly retryAtMs: number;
      readonly penalizeUntilMs?: number;
      readonly mayHaveRun?: true;
    }
  /**
   * Attempts or time ran out: record the failure (`AttemptsExhausted` or `DeadlineExceeded`,
   * naming the last error) and dead-letter the request with the code as the reason. A throttle
   * still pushes the bucket back: the provider's penalty holds whoever calls next.
   */
  | { readonly kind: 'give-up'; readonly error: FinalError; readonly penalizeUntilMs?: number };

/** A request's {@link RetryLimits}, given when it was first seen and the deployment's longest wait. */
export function retryLimitsOf(
  request: SluiceRequest,
  firstSeenMs: number,
  maxWaitMs: number,
): RetryLimits {
  const deadline = deadlineMs(request);
  return {
    maxAttempts: effectiveMaxAttempts(request),
    ...(deadline === undefined ? {} : { deadlineMs: deadline }),
    firstSeenMs,
    maxWaitMs,
  };
}

/**
 * The last moment a request may still start an attempt, epoch ms: its own deadline or the
 * deployment's longest wait from its first receipt, whichever comes first.
 */
export function lastStartMs(limits: Omit<RetryLimits, 'maxAttempts'>): number {
  return Math.min(
    limits.deadlineMs ?? Number.POSITIVE_INFINITY,
    limits.firstSeenMs + limits.maxWaitMs,
  );
}

/**
 * The wait before the next attempt after a transient error: "full jitter" (AWS Architecture Blog,
 * "Exponential Backoff And Jitter"), a random share of a ceiling that doubles per attempt up to
 * {@link TRANSIENT_CAP_MS}, and never under {@link TRANSIENT_BASE_MS}. Spreading the retries over
 * the whole range keeps the callers of a recovering provider from coming back in step.
 */
export function transientBackoffMs(attempt: number, random: number): number {
  const ceiling = Math.min(TRANSIENT_CAP_MS, TRANSIENT_BASE_MS * 2 ** (attempt - 1));
  return Math.max(TRANSIENT_BASE_MS, Math.round(random * ceiling));
}

/**
 * The wait after a provider throttle: the provider's `Retry-After` when it sent one (honoured as
 * given: it knows its own penalty), else one emission interval of the bucket, at least
 * {@link THROTTLE_MIN_PENALTY_MS}.
 */
export function throttlePenaltyMs(retryAfterMs: number | undefined, bucketRate?: number): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  return Math.max(THROTTLE_MIN_PENALTY_MS, bucketRate === undefined ? 0 : 1_000 / bucketRate);
}

/** Decides what follows a call. */
export function afterCall<Output>(input: AfterCallInput<Output>): AfterCall<Output> {
  const { outcome, attempt, limits, nowMs } = input;
  if (outcome.kind === 'succeeded') return { kind: 'succeeded', output: outcome.output };
  if (outcome.kind === 'dry-run') return { kind: 'dry-run' };
  if (outcome.kind === 'permanent') {
    return { kind: 'failed', error: { code: outcome.code, message: outcome.message } };
  }
  const unknown =
    outcome.kind === 'transient' && outcome.mayHaveRun === true && !input.safeToRepeat;
  if (unknown && input.checkable !== true) {
    // It may have run: running it again could do it twice. Only the provider knows.
    return {
      kind: 'give-up',
      error: {
        code: ERROR_CODES.outcomeUnknown,
        message: `no answer after the call was sent (${outcome.code}: ${outcome.message}); the operation is not safe to repeat`,
      },
    };
  }

  let retryAtMs: number;
  let penalizeUntilMs: number | undefined;
  if (outcome.kind === 'throttled') {
    retryAtMs = nowMs + throttlePenaltyMs(outcome.retryAfterMs, input.bucketRate);
    if (input.bucketRate !== undefined) penalizeUntilMs = retryAtMs;
  } else {
    retryAtMs = nowMs + transientBackoffMs(attempt, input.random);
    if (unknown) retryAtMs = Math.max(retryAtMs, nowMs + READ_BACK_SETTLE_MS);
  }
  const penalty = penalizeUntilMs === undefined ? {} : { penalizeUntilMs };

  const exhausted = attempt >= limits.maxAttempts;
  if (exhausted || retryAtMs > lastStartMs(limits)) {
    const why = exhausted
      ? `all ${attempt} attempts used`
      : 'the deadline passes before the next attempt';
    if (unknown) {
      // Never read back: whether it ran is still unknown.
      return {
        kind: 'give-up',
        error: {
          code: ERROR_CODES.outcomeUnknown,
          message: `${why} without learning whether the call ran; last error ${outcome.code}: ${outcome.message}`,
        },
      };
    }
    return {
      kind: 'give-up',
      error: {
        code: exhausted ? ERROR_CODES.attemptsExhausted : ERROR_CODES.deadlineExceeded,
        message: `${why}; last error ${outcome.code}: ${outcome.message}`,
      },
      ...penalty,
    };
  }
  return {
    kind: 'retry',
    retryAtMs,
    ...penalty,
    ...(unknown ? { mayHaveRun: true as const } : {}),
  };
}
