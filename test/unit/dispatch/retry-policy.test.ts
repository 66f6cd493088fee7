/**
 * The retry policy: what follows a call for every kind of outcome, at the bounds of attempts and
 * time, with examples for each branch and properties over random inputs (no clock: time and the
 * jitter's random number are arguments).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_ATTEMPTS, type SluiceRequest } from '../../../shared/contract/request.js';
import type { CallFailure } from '../../../shared/dispatch/classify.js';
import {
  type AfterCallInput,
  afterCall,
  lastStartMs,
  READ_BACK_SETTLE_MS,
  type RetryLimits,
  retryLimitsOf,
  THROTTLE_MIN_PENALTY_MS,
  TRANSIENT_BASE_MS,
  TRANSIENT_CAP_MS,
  throttlePenaltyMs,
  transientBackoffMs,
} from '../../../shared/dispatch/retry-policy.js';

const NOW = 1_800_000_000_000;
const LIMITS: RetryLimits = { maxAttempts: 5, firstSeenMs: NOW - 60_000, maxWaitMs: 86_400_000 };
const TRANSIENT: CallFailure = { kind: 'transient', code: 'InternalError', message: 'boom' };
const THROTTLED: CallFailure = {
  kind: 'throttled',
  code: 'RequestLimitExceeded',
  message: 'Request limit exceeded.',
};

function decide(overrides: Partial<AfterCallInput<{ ok: boolean }>>) {
  return afterCall<{ ok: boolean }>({
    outcome: TRANSIENT,
    attempt: 1,
    limits: LIMITS,
    bucketRate: 20,
    safeToRepeat: false,
    nowMs: NOW,
    random: 0.5,
    ...overrides,
  });
}

describe('afterCall: calls that may have run without an answer', () => {
  const TIMED_OUT: CallFailure = {
    kind: 'transient',
    code: 'TimeoutError',
    message: 'a request has exceeded the configured 5000 ms requestTimeout.',
    mayHaveRun: true,
  };

  it('gives up a call that is not safe to repeat as OutcomeUnknown, and dead-letters it', () => {
    expect(decide({ outcome: TIMED_OUT, safeToRepeat: false })).toEqual({
      kind: 'give-up',
      error: {
        code: 'OutcomeUnknown',
        message:
          'no answer after the call was sent (TimeoutError: a request has exceeded the configured 5000 ms requestTimeout.); the operation is not safe to repeat',
      },
    });
  });

  it('tries a call that is safe to repeat again, after a back-off', () => {
    expect(decide({ outcome: TIMED_OUT, safeToRepeat: true })).toEqual({
      kind: 'retry',
      retryAtMs: NOW + TRANSIENT_BASE_MS,
    });
  });

  it('tries an unsafe call again after a 5xx answer: the provider said it did not succeed', () => {
    expect(decide({ outcome: TRANSIENT, safeToRepeat: false }).kind).toBe('retry');
  });

  it('tries an unsafe call whose effect can be read back again, saying it may have run', () => {
    expect(decide({ outcome: TIMED_OUT, safeToRepeat: false, checkable: true })).toEqual({
      kind: 'retry',
      // Not before the provider has settled, whatever the back-off.
      retryAtMs: NOW + READ_BACK_SETTLE_MS,
      mayHaveRun: true,
    });
    const later = decide({
      outcome: TIMED_OUT,
      safeToRepeat: false,
      checkable: true,
      attempt: 4,
      random: 0.99,
    });
    expect(later).toMatchObject({ kind: 'retry', mayHaveRun: true });
    expect(later.kind === 'retry' && later.retryAtMs).toBe(NOW + transientBackoffMs(4, 0.99));
  });

  it('gives up OutcomeUnknown, never AttemptsExhausted, when the attempts run out before a read', () => {
    expect(
      decide({ outcome: TIMED_OUT, safeToRepeat: false, checkable: true, attempt: 5 }),
    ).toEqual({
      kind: 'give-up',
      error: {
        code: 'OutcomeUnknown',
        message:
          'all 5 attempts used without learning whether the call ran; last error TimeoutError: a request has exceeded the configured 5000 ms requestTimeout.',
      },
    });
  });

  it('says nothing of a call that may have run when it is safe to repeat or did not run', () => {
    expect(decide({ outcome: TIMED_OUT, safeToRepeat: true, checkable: true })).not.toHaveProperty(
      'mayHaveRun',
    );
    expect(decide({ outcome: TRANSIENT, checkable: true })).not.toHaveProperty('mayHaveRun');
  });
});

describe('afterCall: finishing', () => {
  it('finishes a call that returned as succeeded, with its output', () => {
    expect(decide({ outcome: { kind: 'succeeded', output: { ok: true } }, attempt: 5 })).toEqual({
      kind: 'succeeded',
      output: { ok: true },
    });
  });

  it("finishes a permanent error as failed with the provider's code and message, without retrying", () => {
    const denied: CallFailure = {
      kind: 'permanent',
      code: 'UnauthorizedOperation',
      message: 'not allowed',
    };
    expect(decide({ outcome: denied, attempt: 1 })).toEqual({
      kind: 'failed',
      error: { code: 'UnauthorizedOperation', message: 'not allowed' },
    });
  });
});

describe('afterCall: DryRun', () => {
  it('finishes a DryRun that would have succeeded as a success, even on the last attempt or after the deadline', () => {
    const dryRun = { kind: 'dry-run', message: 'Request would have succeeded' } as const;
    expect(decide({ outcome: dryRun, attempt: 1 })).toEqual({ kind: 'dry-run' });
    expect(
      decide({ outcome: dryRun, attempt: 5, limits: { ...LIMITS, deadlineMs: NOW - 1 } }),
    ).toEqual({ kind: 'dry-run' });
  });
});

describe('afterCall: transient errors', () => {
  it('retries through admission after a jittered back-off, without touching the bucket', () => {
    // Attempt 3: the ceiling is 4 s; half of it.
    expect(decide({ attempt: 3, random: 0.5 })).toEqual({
      kind: 'retry',
      retryAtMs: NOW + 2_000,
    });
  });

  it('spreads the retry over the whole range up to the ceiling (full jitter), never under the base', () => {
    expect(transientBackoffMs(4, 0)).toBe(TRANSIENT_BASE_MS);
    expect(transientBackoffMs(4, 0.25)).toBe(2_000);
    expect(transientBackoffMs(4, 0.999_999)).toBe(8_000);
    expect(transientBackoffMs(1, 0.999_999)).toBe(TRANSIENT_BASE_MS);
  });

  it('caps the ceiling at five minutes however many attempts came before', () => {
    expect(transientBackoffMs(30, 0.999_999)).toBe(TRANSIENT_CAP_MS);
    expect(transientBackoffMs(10, 0.5)).toBe(150_000);
  });
});

describe('afterCall: provider throttles', () => {
  it('retries after one emission interval of the bucket, at least a second, and pushes the bucket back as long', () => {
    expect(decide({ outcome: THROTTLED, bucketRate: 20 })).toEqual({
      kind: 'retry',
      retryAtMs: NOW + THROTTLE_MIN_PENALTY_MS,
      penalizeUntilMs: NOW + THROTTLE_MIN_PENALTY_MS,
    });
    // 0.1 token/s: the next token is 10 s away.
    expect(decide({ outcome: THROTTLED, bucketRate: 0.1 })).toEqual({
      kind: 'retry',
      retryAtMs: NOW + 10_000,
      penalizeUntilMs: NOW + 10_000,
    });
  });

  it("honours the provider's Retry-After, shorter or longer than the bucket's interval", () => {
    for (const retryAfterMs of [0, 7_000, 120_000]) {
      expect(decide({ outcome: { ...THROTTLED, retryAfterMs }, bucketRate: 0.1 })).toEqual({
        kind: 'retry',
        retryAtMs: NOW + retryAfterMs,
        penalizeUntilMs: NOW + retryAfterMs,
      });
    }
  });

  it('pushes no bucket back when the call draws on none', () => {
    expect(decide({ outcome: THROTTLED, bucketRate: undefined })).toEqual({
      kind: 'retry',
      retryAtMs: NOW + THROTTLE_MIN_PENALTY_MS,
    });
  });
});

describe('afterCall: giving up', () => {
  it('gives up after the last attempt, naming the last error', () => {
    expect(decide({ attempt: 5 })).toEqual({
      kind: 'give-up',
      error: {
        code: 'AttemptsExhausted',
        message: 'all 5 attempts used; last error InternalError: boom',
      },
    });
  });

  it('still pushes the bucket back when the last attempt was throttled', () => {
    expect(decide({ outcome: THROTTLED, attempt: 5, bucketRate: 2 })).toEqual({
      kind: 'give-up',
      error: {
        code: 'AttemptsExhausted',
        message: 'all 5 attempts used; last error RequestLimitExceeded: Request limit exceeded.',
      },
      penalizeUntilMs: NOW + THROTTLE_MIN_PENALTY_MS,
    });
  });

  it("gives up when the request's deadline passes before the next attempt would start", () => {
    const limits = { ...LIMITS, deadlineMs: NOW + 1_999 };
    expect(decide({ attempt: 3, random: 0.5, limits })).toEqual({
      kind: 'give-up',
      error: {
        code: 'DeadlineExceeded',
        message: 'the deadline passes before the next attempt; last error InternalError: boom',
      },
    });
    // A retry exactly at the deadline still starts in time.
    expect(
      decide({ attempt: 3, random: 0.5, limits: { ...limits, deadlineMs: NOW + 2_000 } }),
    ).toMatchObject({ kind: 'retry', retryAtMs: NOW + 2_000 });
  });

  it("gives up when the deployment's longest wait from the first receipt ends first", () => {
    const limits = { ...LIMITS, deadlineMs: NOW + 3_600_000, maxWaitMs: 61_000 };
    expect(decide({ outcome: { ...THROTTLED, retryAfterMs: 5_000 }, limits })).toMatchObject({
      kind: 'give-up',
      error: { code: 'DeadlineExceeded' },
      penalizeUntilMs: NOW + 5_000,
    });
  });

  it('says the attempts ran out when both attempts and time did', () => {
    const limits = { ...LIMITS, deadlineMs: NOW };
    expect(decide({ attempt: 5, limits })).toMatchObject({
      kind: 'give-up',
      error: { code: 'AttemptsExhausted' },
    });
  });
});

describe('lastStartMs and retryLimitsOf', () => {
  it("is the request's deadline or the end of the longest wait, whichever comes first", () => {
    expect(lastStartMs({ firstSeenMs: NOW, maxWaitMs: 1_000 })).toBe(NOW + 1_000);
    expect(lastStartMs({ firstSeenMs: NOW, maxWaitMs: 1_000, deadlineMs: NOW + 500 })).toBe(
      NOW + 500,
    );
    expect(lastStartMs({ firstSeenMs: NOW, maxWaitMs: 1_000, deadlineMs: NOW + 5_000 })).toBe(
      NOW + 1_000,
    );
  });

  it("reads a request's attempts (the contract's default unless it says) and deadline", () => {
    const request: SluiceRequest = {
      v: 1,
      id: 'r',
      target: { account: '111111111111', region: 'us-east-1' },
      call: { service: 'ec2', operation: 'DescribeVpcs', input: {} },
    };
    expect(retryLimitsOf(request, NOW, 60_000)).toEqual({
      maxAttempts: DEFAULT_MAX_ATTEMPTS,
      firstSeenMs: NOW,
      maxWaitMs: 60_000,
    });
    const deadline = new Date(NOW + 5_000).toISOString();
    expect(retryLimitsOf({ ...request, maxAttempts: 7, deadline }, NOW, 60_000)).toEqual({
      maxAttempts: 7,
      deadlineMs: NOW + 5_000,
      firstSeenMs: NOW,
      maxWaitMs: 60_000,
    });
  });
});

const failureArb: fc.Arbitrary<CallFailure> = fc.oneof(
  fc.constant(TRANSIENT),
  fc.constant(THROTTLED),
  fc
    .integer({ min: 0, max: 900_000 })
    .map((retryAfterMs): CallFailure => ({ ...THROTTLED, retryAfterMs })),
);
const inputArb = fc.record({
  outcome: failureArb,
  attempt: fc.integer({ min: 1, max: 40 }),
  limits: fc.record(
    {
      maxAttempts: fc.integer({ min: 1, max: 20 }),
      deadlineMs: fc.integer({ min: NOW - 10_000, max: NOW + 3_600_000 }),
      firstSeenMs: fc.integer({ min: NOW - 86_400_000, max: NOW }),
      maxWaitMs: fc.integer({ min: 1_000, max: 172_800_000 }),
    },
    { requiredKeys: ['maxAttempts', 'firstSeenMs', 'maxWaitMs'] },
  ),
  bucketRate: fc.option(fc.double({ min: 0.05, max: 500, noNaN: true }), { nil: undefined }),
  safeToRepeat: fc.boolean(),
  nowMs: fc.constant(NOW),
  random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
});

describe('afterCall: properties', () => {
  it('never allows an attempt beyond maxAttempts', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const decision = afterCall({ ...input, attempt: input.limits.maxAttempts });
        expect(decision.kind).toBe('give-up');
      }),
    );
  });

  it('retries only to a time in the future within the request’s time, and a transient retry within [base, cap]', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const decision = afterCall(input);
        if (decision.kind !== 'retry') return;
        expect(decision.retryAtMs).toBeGreaterThanOrEqual(input.nowMs);
        expect(decision.retryAtMs).toBeLessThanOrEqual(lastStartMs(input.limits));
        if (input.outcome.kind === 'transient') {
          expect(decision.retryAtMs).toBeGreaterThanOrEqual(input.nowMs + TRANSIENT_BASE_MS);
          expect(decision.retryAtMs).toBeLessThanOrEqual(input.nowMs + TRANSIENT_CAP_MS);
        }
      }),
    );
  });

  it('waits at least the minimum penalty after a throttle without Retry-After, and pushes the bucket back to the retry time', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        if (input.outcome.kind !== 'throttled') return;
        const decision = afterCall(input);
        if (decision.kind !== 'retry' && decision.kind !== 'give-up')
          throw new Error(`a throttle ended as ${decision.kind}`);
        const waitMs = throttlePenaltyMs(input.outcome.retryAfterMs, input.bucketRate);
        if (input.outcome.retryAfterMs === undefined)
          expect(waitMs).toBeGreaterThanOrEqual(THROTTLE_MIN_PENALTY_MS);
        if (decision.kind === 'retry') expect(decision.retryAtMs).toBe(input.nowMs + waitMs);
        expect(decision.penalizeUntilMs).toBe(
          input.bucketRate === undefined ? undefined : input.nowMs + waitMs,
        );
      }),
    );
  });

  it('is monotone in attempts: once it gives up, every later attempt gives up too', () => {
    fc.assert(
      fc.property(inputArb, fc.integer({ min: 1, max: 20 }), (input, more) => {
        if (afterCall(input).kind !== 'give-up') return;
        expect(afterCall({ ...input, attempt: input.attempt + more }).kind).toBe('give-up');
      }),
    );
  });

  it('backs off no less after a later attempt (same random number)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, random) => {
          expect(transientBackoffMs(attempt + 1, random)).toBeGreaterThanOrEqual(
            transientBackoffMs(attempt, random),
          );
        },
      ),
    );
  });
});
