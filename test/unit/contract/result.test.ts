import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  failedResult,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_MESSAGE_BYTES,
  MAX_RESULT_PROBLEMS,
  type Problem,
  parseRequest,
  parseResult,
  type ResultParseResult,
  rejectedResult,
  succeededResult,
  validateResult,
} from '../../../shared/contract/index.js';

const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const timings = { receivedAt: NOW - 900, startedAt: NOW - 400, finishedAt: NOW };

function fieldRules(result: ResultParseResult): string[][] {
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.result)}`);
  return result.problems.map((p) => [p.field, p.rule]);
}

function unknownFields(count: number): Problem[] {
  return Array.from({ length: count }, (_, i) => ({
    field: `f${i}`,
    rule: 'unknown-field',
    message: `f${i}: is not a field of the contract (unknown-field)`,
  }));
}

describe('builders', () => {
  it('succeededResult makes a valid v1 record with the output', () => {
    const result = succeededResult('req-1', 1, { Reservations: [] }, timings);

    expect(result).toEqual({
      v: 1,
      status: 'succeeded',
      id: 'req-1',
      attempts: 1,
      output: { Reservations: [] },
      timings: { receivedAt: NOW - 900, startedAt: NOW - 400, finishedAt: NOW },
    });
    expect(validateResult(result)).toEqual({ ok: true, result });
  });

  it('succeededResult marks a DryRun that would have succeeded, and outputs shared from another call', () => {
    const dryRun = succeededResult('req-d', 1, {}, timings, { dryRun: true });
    const coalesced = succeededResult('req-c', 0, { Quotas: [] }, timings, { coalesced: true });
    const cached = succeededResult('req-k', 0, { Quotas: [] }, timings, { cachedAt: NOW - 5_000 });

    expect(dryRun).toMatchObject({ status: 'succeeded', dryRun: true, output: {} });
    expect(coalesced).toMatchObject({ attempts: 0, coalesced: true });
    expect(cached).toMatchObject({ attempts: 0, cachedAt: NOW - 5_000 });
    for (const result of [dryRun, coalesced, cached])
      expect(validateResult(result)).toEqual({ ok: true, result });
  });

  it('failedResult keeps the provider code and cuts a long message to MAX_ERROR_MESSAGE_CHARS', () => {
    const result = failedResult(
      'req-2',
      3,
      { code: 'InvalidParameterValue', message: 'm'.repeat(5000) },
      timings,
    );

    expect(result.error.code).toBe('InvalidParameterValue');
    expect(result.error.message).toBe(`${'m'.repeat(MAX_ERROR_MESSAGE_CHARS - 1)}…`);
    expect(result.attempts).toBe(3);
    expect(validateResult(result).ok).toBe(true);
  });

  it('rejectedResult without an id leaves id out and takes no attempts and no time', () => {
    const problems = unknownFields(1);
    const result = rejectedResult(undefined, problems, NOW);

    expect(result).toEqual({
      v: 1,
      status: 'rejected',
      attempts: 0,
      error: {
        code: 'ValidationFailed',
        message: '1 problem: f0: is not a field of the contract (unknown-field)',
        problems,
      },
      timings: { receivedAt: NOW, finishedAt: NOW },
    });
    expect('id' in result).toBe(false);
    expect(validateResult(result).ok).toBe(true);
  });

  it('rejectedResult with an id carries it', () => {
    expect(rejectedResult('req-3', unknownFields(1), NOW).id).toBe('req-3');
  });

  it('rejectedResult lists at most MAX_RESULT_PROBLEMS problems but counts them all', () => {
    const result = rejectedResult('req-4', unknownFields(120), NOW);

    expect(result.error.problems).toHaveLength(MAX_RESULT_PROBLEMS);
    expect(result.error.problems[49]?.field).toBe('f49');
    expect(result.error.message.startsWith('120 problems: f0: ')).toBe(true);
    expect(result.error.message.endsWith('; and 115 more')).toBe(true);
    expect(validateResult(result).ok).toBe(true);
  });

  it('rejectedResult built from a real rejection survives a JSON round trip through parseResult', () => {
    const parsed = parseRequest('x'.repeat(MAX_MESSAGE_BYTES + 1));
    if (parsed.ok) throw new Error('expected a rejection');
    const result = rejectedResult(undefined, parsed.problems, NOW);

    expect(result.error.problems).toEqual([
      {
        field: '(body)',
        rule: 'max-size',
        message:
          "(body): is 1048577 bytes; a message may be at most 1040384 bytes (SQS's 1 MiB less 8 KiB kept for Sluice's envelope) (max-size)",
      },
    ]);
    expect(parseResult(JSON.stringify(result))).toEqual({ ok: true, result });
  });

  it('exposes the Sluice error codes', () => {
    expect(ERROR_CODES).toEqual({
      validationFailed: 'ValidationFailed',
      idConflict: 'IdConflict',
      attemptsExhausted: 'AttemptsExhausted',
      deadlineExceeded: 'DeadlineExceeded',
      neverFits: 'NeverFits',
      outcomeUnknown: 'OutcomeUnknown',
      outputTooLarge: 'OutputTooLarge',
    });
  });
});

describe('validateResult', () => {
  const succeeded = () => succeededResult('req-1', 1, {}, timings) as Record<string, unknown>;

  it.each([
    ['an unknown status', { v: 1, status: 'done' }, [['status', 'enum']]],
    ['a missing status', { v: 1 }, [['status', 'required']]],
    ['succeeded without output', { ...succeeded(), output: undefined }, [['output', 'one-of']]],
    [
      'succeeded with both output and outputRef',
      { ...succeeded(), outputRef: { bucket: 'b-1', key: 'k', bytes: 1, sha256: 'a'.repeat(64) } },
      [['output', 'one-of']],
    ],
    [
      'succeeded with a malformed outputRef',
      {
        ...succeeded(),
        output: undefined,
        outputRef: { bucket: 'No_Such', key: '', bytes: -1, sha256: 'xyz' },
      },
      [
        ['outputRef.bucket', 'pattern'],
        ['outputRef.key', 'length'],
        ['outputRef.bytes', 'range'],
        ['outputRef.sha256', 'pattern'],
      ],
    ],
    [
      'succeeded with an error field',
      { ...succeeded(), error: { code: 'X', message: '' } },
      [['error', 'unknown-field']],
    ],
    ['negative attempts', { ...succeeded(), attempts: -1 }, [['attempts', 'range']]],
    [
      'a fractional timing',
      { ...succeeded(), timings: { receivedAt: 1.5, finishedAt: 2 } },
      [['timings.receivedAt', 'integer']],
    ],
    [
      'a missing finishedAt',
      { ...succeeded(), timings: { receivedAt: 1 } },
      [['timings.finishedAt', 'required']],
    ],
    ['an invalid id', { ...succeeded(), id: 'a#b' }, [['id', 'pattern']]],
    ['v 2', { ...succeeded(), v: 2 }, [['v', 'literal']]],
    ['dryRun false', { ...succeeded(), dryRun: false }, [['dryRun', 'literal']]],
    ['coalesced false', { ...succeeded(), coalesced: false }, [['coalesced', 'literal']]],
    ['a negative cachedAt', { ...succeeded(), cachedAt: -1 }, [['cachedAt', 'range']]],
  ])('reports %s', (_name, value, expected) => {
    expect(fieldRules(validateResult(value))).toEqual(expected);
  });

  it('rejects a rejected result whose code is neither ValidationFailed nor IdConflict', () => {
    const result = {
      ...rejectedResult('r', [], NOW),
      error: { code: 'Oops', message: '', problems: [] },
    };

    expect(fieldRules(validateResult(result))).toEqual([['error.code', 'enum']]);
    const conflict = rejectedResult('r', [], NOW, ERROR_CODES.idConflict);
    expect(validateResult(conflict)).toEqual({ ok: true, result: conflict });
  });

  it('rejects a failed result without an error', () => {
    const { error: _error, ...result } = failedResult('r', 1, { code: 'X', message: 'y' }, timings);

    expect(fieldRules(validateResult(result))).toEqual([['error', 'required']]);
  });

  it('parseResult rejects a body that is not JSON', () => {
    expect(fieldRules(parseResult('{"status":'))).toEqual([['(body)', 'json']]);
  });
});
