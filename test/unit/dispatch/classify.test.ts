import { describe, expect, it } from 'vitest';
import { classifyCallError, parseRetryAfter } from '../../../shared/dispatch/classify.js';

/** An error shaped like the SDK's service exceptions. */
function sdkError(name: string, status: number, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`${name} happened`), {
    name,
    $metadata: { httpStatusCode: status },
    $response: { headers },
  });
}

describe('classifyCallError', () => {
  it("recognises EC2's RequestLimitExceeded (503) as throttling, not as a server error", () => {
    expect(classifyCallError(sdkError('RequestLimitExceeded', 503))).toEqual({
      kind: 'throttled',
      code: 'RequestLimitExceeded',
      message: 'RequestLimitExceeded happened',
    });
  });

  it("recognises Service Quotas' TooManyRequestsException and a bare 429 as throttling", () => {
    expect(classifyCallError(sdkError('TooManyRequestsException', 400)).kind).toBe('throttled');
    expect(classifyCallError(sdkError('SomethingElse', 429)).kind).toBe('throttled');
  });

  it("recognises EC2's CapacityBlockDescribeLimitExceeded as throttling, which smithy does not know", () => {
    expect(classifyCallError(sdkError('CapacityBlockDescribeLimitExceeded', 400))).toEqual({
      kind: 'throttled',
      code: 'CapacityBlockDescribeLimitExceeded',
      message: 'CapacityBlockDescribeLimitExceeded happened',
    });
  });

  it('honours Retry-After in seconds and as an HTTP date', () => {
    expect(classifyCallError(sdkError('Throttling', 400, { 'retry-after': '4' }))).toMatchObject({
      retryAfterMs: 4_000,
    });
    const now = Date.parse('2026-11-24T12:00:00Z');
    expect(parseRetryAfter({ 'retry-after': 'Tue, 24 Nov 2026 12:00:30 GMT' }, now)).toBe(30_000);
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
  });

  it('treats 5xx, timeouts and reset connections as transient', () => {
    expect(classifyCallError(sdkError('InternalError', 500)).kind).toBe('transient');
    expect(classifyCallError(sdkError('ServiceUnavailable', 503)).kind).toBe('transient');
    expect(
      classifyCallError(
        Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' }),
      ).kind,
    ).toBe('transient');
    expect(
      classifyCallError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).kind,
    ).toBe('transient');
  });

  it('says which transient failures may have run at the provider: those left without an answer', () => {
    const noAnswer = (name: string, code?: string) =>
      classifyCallError(Object.assign(new Error(name), { name, ...(code ? { code } : {}) }));
    // The provider answered 5xx: it did not succeed.
    expect(classifyCallError(sdkError('InternalError', 500))).toEqual({
      kind: 'transient',
      code: 'InternalError',
      message: 'InternalError happened',
    });
    // Timed out or cut off after the request left: it may have run.
    expect(noAnswer('TimeoutError', 'ETIMEDOUT')).toMatchObject({ mayHaveRun: true });
    expect(noAnswer('TimeoutError', 'ECONNRESET')).toMatchObject({ mayHaveRun: true });
    expect(noAnswer('TimeoutError')).toMatchObject({ mayHaveRun: true });
    expect(noAnswer('AbortError')).toMatchObject({ kind: 'transient', mayHaveRun: true });
    // Never arrived: nothing listened, or the name did not resolve.
    expect(noAnswer('Error', 'ECONNREFUSED')).toMatchObject({ mayHaveRun: false });
    expect(noAnswer('Error', 'EAI_AGAIN')).toMatchObject({ mayHaveRun: false });
  });

  it('treats validation, access denied and not found as permanent, keeping the provider code', () => {
    expect(classifyCallError(sdkError('InvalidParameterValue', 400))).toEqual({
      kind: 'permanent',
      code: 'InvalidParameterValue',
      message: 'InvalidParameterValue happened',
    });
    expect(classifyCallError(sdkError('UnauthorizedOperation', 403)).kind).toBe('permanent');
    expect(classifyCallError(sdkError('InvalidInstanceID.NotFound', 400)).kind).toBe('permanent');
  });

  it("recognises EC2's DryRunOperation (412), by its name, as a DryRun that would have succeeded", () => {
    expect(classifyCallError(sdkError('DryRunOperation', 412))).toEqual({
      kind: 'dry-run',
      message: 'DryRunOperation happened',
    });
    // By name, whatever the status: a 412 of another name is a failure like any other.
    expect(classifyCallError(sdkError('DryRunOperation', 400)).kind).toBe('dry-run');
    expect(classifyCallError(sdkError('PreconditionFailed', 412)).kind).toBe('permanent');
  });

  it('treats a denied DryRun (UnauthorizedOperation) as the permanent failure it is', () => {
    expect(classifyCallError(sdkError('UnauthorizedOperation', 403))).toEqual({
      kind: 'permanent',
      code: 'UnauthorizedOperation',
      message: 'UnauthorizedOperation happened',
    });
  });
});
