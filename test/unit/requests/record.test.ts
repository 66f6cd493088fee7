import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { failedResult, rejectedResult, succeededResult } from '../../../shared/contract/result.js';
import {
  decodeRequestItem,
  encodeRequestItem,
  MalformedRecordError,
  type StoredRequestState,
} from '../../../shared/requests/record.js';

const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const timings = { receivedAt: NOW - 900, finishedAt: NOW };

/** What decoding `item` threw, for assertions on its class and message. */
function failure(item: Record<string, AttributeValue>): MalformedRecordError {
  try {
    decodeRequestItem(item);
  } catch (error) {
    if (error instanceof MalformedRecordError) return error;
    throw error;
  }
  throw new Error('expected a MalformedRecordError, decoding succeeded');
}

describe('encodeRequestItem and decodeRequestItem', () => {
  const states: [string, StoredRequestState][] = [
    ['waiting', { status: 'waiting', attempts: 0 }],
    ['running', { status: 'running', attempts: 2, leaseOwner: 'dispatcher-a', leaseUntil: NOW }],
    [
      'succeeded',
      {
        status: 'finished',
        attempts: 1,
        result: succeededResult('req-1', 1, { Reservations: [] }, timings),
      },
    ],
    [
      'failed',
      {
        status: 'finished',
        attempts: 3,
        result: failedResult('req-1', 3, { code: 'InvalidParameterValue', message: 'no' }, timings),
      },
    ],
    ['rejected', { status: 'finished', attempts: 0, result: rejectedResult(undefined, [], NOW) }],
  ];

  it.each(states)('a %s record reads back as the state it was written from', (_, state) => {
    expect(decodeRequestItem(encodeRequestItem('req-1', state))).toEqual(state);
  });

  it('stores a finished record under the status of its result', () => {
    const [, finished] = states[2] as [string, StoredRequestState];
    expect(encodeRequestItem('req-1', finished).status).toEqual({ S: 'succeeded' });
  });
});

describe('decodeRequestItem refuses a malformed record', () => {
  it('names every problem at once: attribute and rule', () => {
    const error = failure({ status: { S: 'done' }, attempts: { S: '1' } });
    expect(error.id).toBeUndefined();
    expect(error.problems.map((p) => [p.field, p.rule])).toEqual([
      ['id', 'required'],
      ['attempts', 'type'],
      ['status', 'enum'],
    ]);
    expect(error.message).toBe(
      'requests table: the record of request (no id) is malformed: 3 problems: ' +
        'id: is required (required); attempts: must be a number (N), not S (type); ' +
        'status: is "done", not one of waiting, running, succeeded, failed, rejected (enum)',
    );
  });

  it('wants attempts to be a whole count', () => {
    const base = { id: { S: 'r' }, status: { S: 'waiting' } };
    expect(failure({ ...base, attempts: { N: '1.5' } }).problems[0]?.message).toBe(
      'attempts: must be an integer, not 1.5 (integer)',
    );
    expect(failure({ ...base, attempts: { N: '-1' } }).problems[0]?.message).toBe(
      'attempts: must be at least 0, not -1 (range)',
    );
  });

  it('wants the lease of a running record', () => {
    const error = failure({
      id: { S: 'r' },
      status: { S: 'running' },
      attempts: { N: '1' },
      leaseOwner: { S: '' },
    });
    expect(error.id).toBe('r');
    expect(error.problems.map((p) => p.message)).toEqual([
      'leaseOwner: must not be empty (length)',
      'leaseUntil: is required (required)',
    ]);
  });

  it('wants the result of a finished record: present, valid, of this status and request', () => {
    const base = { id: { S: 'r-1' }, status: { S: 'succeeded' }, attempts: { N: '1' } };
    expect(failure(base).problems[0]?.message).toBe(
      'result: is required once the request is succeeded (required)',
    );
    expect(failure({ ...base, result: { S: '{"v":1' } }).problems[0]?.message).toMatch(
      /^result: is not valid JSON: .* \(json\)$/,
    );
    const wrongShape = JSON.stringify({
      ...succeededResult('r-1', 1, {}, timings),
      attempts: -2,
    });
    expect(failure({ ...base, result: { S: wrongShape } }).problems[0]?.message).toBe(
      'result.attempts: must be at least 0 (range)',
    );
    const other = JSON.stringify(failedResult('r-2', 1, { code: 'X', message: '' }, timings));
    expect(failure({ ...base, result: { S: other } }).problems.map((p) => p.message)).toEqual([
      'result.status: says failed but the record says succeeded (mismatch)',
      'result.id: is "r-2", the result of another request (mismatch)',
    ]);
  });
});
