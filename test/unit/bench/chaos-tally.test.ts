/**
 * The chaos benchmark's counting rules: what is lost, what ran twice, which unknown outcomes the
 * provider really ran, and when the system had recovered from a fault.
 */
import { describe, expect, it } from 'vitest';
import {
  failedResult,
  type SluiceResult,
  succeededResult,
} from '../../../shared/contract/result.js';
import { type ChaosRecord, tally } from '../../bench/chaos/tally.js';

const T0 = 1_800_000_000_000;
const at = { receivedAt: T0, finishedAt: T0 + 1 };

function record(over: Partial<ChaosRecord>): ChaosRecord {
  return {
    submitted: [],
    results: new Map(),
    seenFinishedMs: new Map(),
    deadLetters: new Map(),
    executions: [],
    tokens: new Map(),
    faults: [],
    ...over,
  };
}

describe('tally', () => {
  it('counts successes confirmed by a read back, and unknowns a read back could not settle', () => {
    const figures = tally(
      record({
        submitted: [
          { id: 'c', kind: 'tags', atMs: T0 },
          { id: 'u', kind: 'tags', atMs: T0 },
        ],
        results: new Map<string, SluiceResult>([
          ['c', succeededResult('c', 2, {}, at, { confirmedBy: 'DescribeTags' })],
          [
            'u',
            failedResult(
              'u',
              2,
              {
                code: 'OutcomeUnknown',
                message:
                  'a previous attempt sent the call …, and DescribeTags shows its keys with other values …',
              },
              at,
            ),
          ],
        ]),
      }),
    );
    expect(figures.confirmedByReadBack).toBe(1);
    expect(figures.outcomeUnknown.byCause).toEqual({ 'read-back-unclear': 1 });
  });

  it('counts as lost a request with no result unless the DLQ holds it with a reason', () => {
    const figures = tally(
      record({
        submitted: [
          { id: 'a', kind: 'read', atMs: T0 },
          { id: 'b', kind: 'read', atMs: T0 },
          { id: 'c', kind: 'read', atMs: T0 },
        ],
        // b reached the DLQ by SQS's redrive, without Sluice's reason; c with one.
        deadLetters: new Map([
          ['b', ''],
          ['c', 'DeadlineExceeded'],
        ]),
      }),
    );
    expect(figures.lost).toBe(2);
  });

  it('counts CreateTags by call and RunInstances by ClientToken that ran more than once', () => {
    const figures = tally(
      record({
        executions: [
          { kind: 'tags', key: 't1' },
          { kind: 'tags', key: 't1' },
          { kind: 'tags', key: 't2' },
          { kind: 'run', key: 'token-1' },
          { kind: 'run', key: 'token-1' },
        ],
      }),
    );
    expect(figures.executedTwice).toBe(2);
  });

  it('says how many unknown outcomes the provider ran, by cause and by the phase of submission', () => {
    const unknown = (id: string, message: string) =>
      failedResult(id, 1, { code: 'OutcomeUnknown', message }, at);
    const figures = tally(
      record({
        submitted: [
          { id: 'k', kind: 'tags', atMs: T0 + 5 },
          { id: 'h', kind: 'tags', atMs: T0 + 50 },
        ],
        results: new Map([
          ['k', unknown('k', 'a previous attempt was interrupted after sending the call')],
          ['h', unknown('h', 'no answer after the call was sent (TimeoutError: …)')],
        ]),
        executions: [{ kind: 'tags', key: 'k' }],
        faults: [
          { name: 'kill', startMs: T0, endMs: T0 + 10 },
          { name: 'provider-hang', startMs: T0 + 40, endMs: T0 + 60 },
        ],
      }),
    );
    expect(figures.outcomeUnknown).toEqual({
      total: 2,
      providerExecuted: 1,
      byCause: { interrupted: 1, 'no-answer': 1 },
      byPhase: { kill: 1, 'provider-hang': 1 },
    });
    expect(figures.failed).toEqual({ OutcomeUnknown: 2 });
  });

  it('measures recovery until every request submitted before the fault ended was finished', () => {
    const faults = [{ name: 'sqs-outage', startMs: T0, endMs: T0 + 10_000 }];
    const submitted = [
      { id: 'a', kind: 'read' as const, atMs: T0 },
      { id: 'b', kind: 'read' as const, atMs: T0 + 9_000 },
    ];
    const results = new Map([
      ['a', succeededResult('a', 1, {}, at)],
      ['b', succeededResult('b', 1, {}, at)],
    ]);
    const finished = tally(
      record({
        submitted,
        results,
        faults,
        seenFinishedMs: new Map([
          ['a', T0 + 12_000],
          ['b', T0 + 31_500],
        ]),
      }),
    );
    const unfinished = tally(
      record({ submitted, faults, seenFinishedMs: new Map([['a', T0 + 12_000]]) }),
    );
    expect(finished.recoverySeconds).toEqual({ 'sqs-outage': 21.5 });
    expect(unfinished.recoverySeconds).toEqual({ 'sqs-outage': null });
  });
});
