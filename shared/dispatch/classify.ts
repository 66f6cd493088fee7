/**
 * The one place that decides what an error thrown by a call means. Throttling and transience are
 * recognised by the SDK's own classification (`@smithy/service-error-classification`: the same
 * lists the SDK's retry strategy uses — `RequestLimitExceeded`, `Throttling*`,
 * `TooManyRequestsException`, `SlowDown`, HTTP 429 …), never by matching message strings.
 *
 * One error is no failure: EC2 answers a `DryRun` call that would have succeeded with the error
 * `DryRunOperation` (HTTP 412) — its success signal — and one that would not with
 * `UnauthorizedOperation` (a permanent failure, like any access denied).
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/CommonParameters.html (`DryRun`)
 */
import {
  isServerError,
  isThrottlingError,
  isTransientError,
} from '@smithy/service-error-classification';

/** What a failed call means for the request. */
export type CallFailure =
  | {
      /** The provider is rate limiting: re-queue and slow the bucket down. */
      readonly kind: 'throttled';
      readonly code: string;
      readonly message: string;
      /** The provider's `Retry-After`, when it sent one. */
      readonly retryAfterMs?: number;
    }
  | {
      /** Worth another try after a backoff: 5xx, timeouts, dropped connections. */
      readonly kind: 'transient';
      readonly code: string;
      readonly message: string;
      /**
       * No answer came after the request may have left (a timeout, a connection dropped mid-call):
       * the provider may have run it. A 5xx answer says it did not succeed; a refused connection
       * or an unresolved name says it never arrived. @default false
       */
      readonly mayHaveRun?: boolean;
    }
  | {
      /** Another try would fail the same way: validation, access denied, not found … */
      readonly kind: 'permanent';
      readonly code: string;
      readonly message: string;
    };

/**
 * A `DryRun` call that would have succeeded: EC2 says so with this error (HTTP 412), recognised by
 * its name like every other provider error code.
 */
export const DRY_RUN_SUCCEEDED_CODE = 'DryRunOperation';

/** What an error thrown by a call means: a failure, or a DryRun that would have succeeded. */
export type ClassifiedError =
  | CallFailure
  | {
      /** A `DryRun` call the provider would have run: the request succeeded as a check. */
      readonly kind: 'dry-run';
      readonly message: string;
    };

/**
 * Throttling codes the SDK's classifier does not know, by service documentation: EC2 answers
 * `DescribeCapacityBlockOfferings` beyond its bucket with `CapacityBlockDescribeLimitExceeded`.
 */
export const EXTRA_THROTTLING_CODES: ReadonlySet<string> = new Set([
  'CapacityBlockDescribeLimitExceeded',
]);

/**
 * Failures that say the request never reached the provider: nothing listened, or the name did
 * not resolve. Every other failure without an answer (a timeout, a reset, a broken pipe) may have
 * come after the provider got the request.
 */
const NEVER_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND']);

/** Connection-level failures from Node's sockets: the request may never have reached anyone. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  $retryable?: { throttling?: boolean };
}

/**
 * Classifies an error thrown by an SDK call: throttled, transient or permanent, or the success
 * signal of a `DryRun`.
 *
 * @param nowMs used only to turn an HTTP-date `Retry-After` into a duration.
 */
export function classifyCallError(error: unknown, nowMs: number = Date.now()): ClassifiedError {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const code = shape.name && shape.name !== 'Error' ? shape.name : (shape.code ?? 'UnknownError');
  const message = shape.message ?? String(error);
  if (code === DRY_RUN_SUCCEEDED_CODE) return { kind: 'dry-run', message };
  // biome-ignore lint/suspicious/noExplicitAny: the smithy classifiers take the SDK's error type.
  const sdkError = shape as any;

  if (isThrottlingError(sdkError) || EXTRA_THROTTLING_CODES.has(code)) {
    const retryAfterMs = parseRetryAfter(shape.$response?.headers, nowMs);
    return retryAfterMs === undefined
      ? { kind: 'throttled', code, message }
      : { kind: 'throttled', code, message, retryAfterMs };
  }
  const answered = shape.$metadata?.httpStatusCode !== undefined;
  const unanswered = {
    kind: 'transient' as const,
    code,
    message,
    mayHaveRun: !(shape.code !== undefined && NEVER_SENT_CODES.has(shape.code)),
  };
  if (isTransientError(sdkError) || isServerError(sdkError)) {
    return answered ? { kind: 'transient', code, message } : unanswered;
  }
  if (!answered) {
    // No answer from the service: a socket or timeout failure is transient (an abort is our own
    // timeout); anything else (a bug, a malformed input the SDK refused to serialise) will not
    // improve with retries.
    if (
      (shape.code && NETWORK_CODES.has(shape.code)) ||
      code === 'TimeoutError' ||
      code === 'AbortError'
    ) {
      return unanswered;
    }
  }
  return { kind: 'permanent', code, message };
}

/** `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from now; capped at 15 min. */
export function parseRetryAfter(
  headers: Record<string, string | undefined> | undefined,
  nowMs: number,
): number | undefined {
  const raw = headers?.['retry-after'] ?? headers?.['Retry-After'];
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  const ms = Number.isFinite(seconds) ? seconds * 1_000 : Date.parse(raw) - nowMs;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, Math.round(ms)), 900_000);
}
