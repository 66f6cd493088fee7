/**
 * Shared reads, the pure part: what a request does about a read in each state of the reads
 * table's item, the followers' back-off, and the fingerprint that decides which requests are
 * the same read. The conditional writes are proven on the engines (test/integration/).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DoneRead,
  decideRead,
  FOLLOW_BASE_MS,
  FOLLOW_MAX_MS,
  followDelayMs,
  type SharedRead,
} from '../../../shared/reads/shared-read.js';
import { callFingerprint } from '../../../shared/requests/fingerprint.js';
import { canonicalJson } from '../../../shared/util/canonical-json.js';

const NOW = 1_800_000_000_000;
const ME = { owner: 'me', firstSeenMs: NOW - 1_000 };

const done = (startedAt: number, cacheUntil = 0): DoneRead => ({
  state: 'done',
  version: 2,
  output: { Quotas: [] },
  startedAt,
  finishedAt: startedAt + 50,
  cacheUntil,
});

describe('decideRead', () => {
  it.each<[string, SharedRead | undefined, string]>([
    ['nobody has it', undefined, 'lead'],
    ['released by a leader that did not call', { state: 'released', version: 3 }, 'lead'],
    [
      'held by another, lease live',
      { state: 'running', version: 1, owner: 'other', leaseUntil: NOW + 1 },
      'follow',
    ],
    [
      'held by another, lease lapsed (the leader died)',
      { state: 'running', version: 1, owner: 'other', leaseUntil: NOW },
      'lead',
    ],
    [
      'held by itself (a re-delivery, or back after a retry)',
      { state: 'running', version: 1, owner: 'me', leaseUntil: NOW + 60_000 },
      'lead',
    ],
    ['done by a call that started after it was sent', done(ME.firstSeenMs), 'coalesced'],
    ['done by a call that started before it was sent, not cached', done(NOW - 2_000), 'lead'],
    ['done before it was sent, cached until later', done(NOW - 2_000, NOW + 1), 'cached'],
    ['done before it was sent, cache expired now', done(NOW - 2_000, NOW), 'lead'],
    [
      'unshared by the call it waited for',
      { state: 'unshared', version: 2, startedAt: ME.firstSeenMs, finishedAt: NOW },
      'alone',
    ],
    [
      'unshared by an older call',
      { state: 'unshared', version: 2, startedAt: NOW - 5_000, finishedAt: NOW - 4_000 },
      'lead',
    ],
  ])('%s: %s', (_what, read, kind) => {
    expect(decideRead(read, ME, NOW).kind).toBe(kind);
  });

  it('prefers the shared call to the cache, and hands back the read it decided on', () => {
    const read = done(ME.firstSeenMs, NOW + 300_000);
    expect(decideRead(read, ME, NOW)).toEqual({ kind: 'coalesced', read });
  });

  it('never answers with an output older than the request, unless the cache allows it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        (sentAgo, startedAgo, cacheLeft) => {
          const who = { owner: 'p', firstSeenMs: NOW - sentAgo };
          const read = done(NOW - startedAgo, cacheLeft === 0 ? 0 : NOW + cacheLeft);
          const decision = decideRead(read, who, NOW);
          if (decision.kind === 'coalesced')
            expect(read.startedAt).toBeGreaterThanOrEqual(who.firstSeenMs);
          if (decision.kind === 'cached') expect(read.cacheUntil).toBeGreaterThan(NOW);
          if (cacheLeft === 0) expect(decision.kind).not.toBe('cached');
        },
      ),
    );
  });
});

describe('followDelayMs', () => {
  it('waits a second, doubling per look, at most 16 s', () => {
    const lease = NOW + 3_600_000;
    expect([0, 1, 2, 3, 4, 5, 9].map((looks) => followDelayMs(looks, lease, NOW))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 16_000, 16_000,
    ]);
    expect(FOLLOW_MAX_MS).toBe(16_000);
  });

  it('looks again when the lease ends (to take over), never sooner than a second', () => {
    expect(followDelayMs(4, NOW + 3_000, NOW)).toBe(3_000);
    expect(followDelayMs(4, NOW - 5, NOW)).toBe(FOLLOW_BASE_MS);
  });
});

describe('callFingerprint', () => {
  const read = {
    target: { account: '111111111111', region: 'us-east-1' },
    call: {
      service: 'ec2',
      operation: 'DescribeInstances',
      input: { Filters: [{ Name: 'instance-state-name', Values: ['running'] }], MaxResults: 5 },
    },
  };

  it('is the same whatever order the keys were written in, at every level', () => {
    const reordered = {
      call: {
        input: { MaxResults: 5, Filters: [{ Values: ['running'], Name: 'instance-state-name' }] },
        operation: 'DescribeInstances',
        service: 'ec2',
      },
      target: { region: 'us-east-1', account: '111111111111' },
    };
    expect(callFingerprint(reordered)).toBe(callFingerprint(read));
    expect(callFingerprint(read)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs for another account, region, operation, input or array order', () => {
    const base = callFingerprint(read);
    const others = [
      { ...read, target: { ...read.target, account: '222222222222' } },
      { ...read, target: { ...read.target, region: 'eu-west-1' } },
      { ...read, call: { ...read.call, operation: 'DescribeVolumes' } },
      { ...read, call: { ...read.call, input: { ...read.call.input, MaxResults: 6 } } },
      {
        ...read,
        call: { ...read.call, input: { Filters: read.call.input.Filters, MaxResults: 5, X: 1 } },
      },
    ];
    for (const other of others) expect(callFingerprint(other)).not.toBe(base);
  });

  it('ignores what steers the request rather than the call', () => {
    const request = { ...read, id: 'a', priority: 'high', tags: { team: 'x' } };
    expect(callFingerprint(request)).toBe(callFingerprint(read));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: [3, { y: 1, x: 2 }], a: null })).toBe(
      '{"a":null,"b":[3,{"x":2,"y":1}]}',
    );
  });
});
