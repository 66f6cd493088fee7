/**
 * The dispatcher's decisions with in-memory collaborators and a fake clock: what is re-sent,
 * with which delay and envelope, what is dead-lettered and why. Storage conditions themselves
 * are proven against the engines in test/integration.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type {
  AdmissionDecision,
  AdmissionOutcome,
} from '../../../shared/admission/bucket-store.js';
import { FIXED } from '../../../shared/admission/timeline.js';
import { parseDeploymentConfig } from '../../../shared/config/deployment.js';
import type { SluiceRequest } from '../../../shared/contract/request.js';
import type { SluiceResult } from '../../../shared/contract/result.js';
import { MAX_INLINE_OUTPUT_BYTES } from '../../../shared/contract/sizes.js';
import { IN_PROCESS_ROUNDS } from '../../../shared/dispatch/admit-batch.js';
import { UnsupportedCallError } from '../../../shared/dispatch/call-runner.js';
import { Dispatcher, type IncomingMessage } from '../../../shared/dispatch/dispatcher.js';
import { ENVELOPE } from '../../../shared/dispatch/envelope.js';
import type { OutgoingMessage } from '../../../shared/dispatch/queue-sender.js';
import type { Reply } from '../../../shared/dispatch/replies.js';
import { SLOWED_HOP_MS } from '../../../shared/dispatch/requeue.js';
import { createCatalog } from '../../../shared/limits/index.js';
import type { CheckedEffect } from '../../../shared/services/registry.js';
import { idOfRequestKey } from '../../../shared/storage/tables.js';
import { unchangedCheckIns } from '../../support/check-ins.js';

const T0 = 1_800_000_000_000;
const producerQueues = new Map([
  ['q-high', 'default'],
  ['q-normal', 'default'],
  ['q-low', 'default'],
]);

/** An admission decision for a slot at `atMs` on one bucket (log position 0, epoch 0). */
function admittedAt(atMs: number): AdmissionDecision {
  return {
    kind: 'admitted',
    runAtMs: atMs,
    slotsUs: [atMs * 1_000],
    positions: [{ slotUs: atMs * 1_000, seq: 0 }],
    epochs: [0],
    slowed: false,
    fractions: [1],
  };
}
const SCHEDULED = 'https://sqs.us-east-1.amazonaws.com/000000000000/q-scheduled';
const REPLY_TOPIC = 'arn:aws:sns:eu-west-1:111111111111:results';

function setup(
  options: {
    decide?: (costs: readonly number[], index: number) => AdmissionDecision;
    run?: () => Promise<Record<string, unknown>>;
    check?: () => Promise<void>;
    maxOutputBytes?: number;
    /** Whether the call is safe to repeat (read-only, token). @default true */
    safeToRepeat?: boolean;
    /** What the claim says of a previous attempt. */
    claim?: { tookOverLapsedLease: boolean; previousMayHaveRun: boolean };
    /** The request carries a "sent" marker: a previous attempt's call may have run. */
    marked?: boolean;
    /** The call's outcome check (DescribeTags): what it shows of the effect. @default no check */
    readBack?: () => Promise<CheckedEffect>;
    /** The producer's `maxPriority` (its requests are scheduled no more urgently). */
    maxPriority?: 'high' | 'normal' | 'low';
    /** Writes that fail (DynamoDB unavailable) this many times before they succeed. */
    failing?: Partial<Record<'markSent' | 'release' | 'finishClaimed' | 'reportThrottle', number>>;
  } = {},
) {
  let now = T0;
  const sent: OutgoingMessage[] = [];
  const replies: Reply[] = [];
  const finished = new Map<string, SluiceResult>();
  const stored = new Map<string, string>();
  const admits: number[] = [];
  const admittedLevels: string[] = [];
  const penalties: number[] = [];
  const checkIns: boolean[] = [];
  let runs = 0;
  let claims = 0;
  const ranAt: number[] = [];
  const events: string[] = [];
  const warnings: string[] = [];
  /** Whether each release kept the "sent" marker (the call may have run). */
  const releasesKeepingMark: boolean[] = [];
  let failSends = false;
  let failDeadLetters = false;
  const failing = { ...options.failing };
  /** Throws the first `failing[write]` times, like a DynamoDB that is down. */
  const blink = (write: keyof typeof failing) => {
    const left = failing[write] ?? 0;
    if (left > 0) {
      failing[write] = left - 1;
      events.push(`${write} failed`);
      throw Object.assign(new Error('connect ECONNREFUSED'), {
        name: 'Error',
        code: 'ECONNREFUSED',
      });
    }
    events.push(write);
  };
  const dispatcher = new Dispatcher({
    deployment: parseDeploymentConfig({
      targets: [
        {
          account: '111111111111',
          allow: [{ service: 'ec2', operations: ['Describe*', 'RunInstances'] }],
        },
      ],
      replyTo: [REPLY_TOPIC],
      ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
      ...(options.maxPriority === undefined
        ? {}
        : {
            producers: [
              {
                name: 'default',
                allow: [
                  {
                    accounts: ['111111111111'],
                    service: 'ec2',
                    operations: ['Describe*', 'RunInstances'],
                  },
                ],
                replyTo: [REPLY_TOPIC],
                maxPriority: options.maxPriority,
              },
            ],
          }),
    }),
    producerQueues,
    scheduledQueueUrl: SCHEDULED,
    dlqUrl: 'q-dlq',
    telemetry: { count: () => {}, info: () => {}, warn: (m) => warnings.push(m) },
    catalog: createCatalog(),
    clock: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    random: () => 0.5,
    buckets: {
      admit: async (_buckets, costs, tags): Promise<AdmissionOutcome> => {
        admits.push(costs.length);
        admittedLevels.push(...(tags ?? []).map((t) => t.level));
        const decide = options.decide ?? (() => admittedAt(now));
        return {
          decisions: costs.map(decide),
          requests: { writes: 1, reads: 0 },
          forfeitedTokens: 0,
        };
      },
      checkIn: async (reservations, commit) => {
        checkIns.push(commit);
        return unchangedCheckIns(reservations, commit);
      },
      reportThrottle: async (_bucket, _epoch, retryAfterMs) => {
        blink('reportThrottle');
        penalties.push(now + (retryAfterMs ?? 0));
        return true;
      },
    },
    requests: {
      claim: async () => {
        claims++;
        const previous = options.claim ?? { tookOverLapsedLease: false, previousMayHaveRun: false };
        return { kind: 'claimed', attempts: 1, receivedAt: T0, ...previous };
      },
      markSent: async () => {
        blink('markSent');
        return true;
      },
      release: async (_key, _owner, _now, keep) => {
        blink('release');
        releasesKeepingMark.push(keep?.mayHaveRun === true);
        return true;
      },
      finishClaimed: async (key, _owner, result) => {
        blink('finishClaimed');
        finished.set(idOfRequestKey(key), result);
        return true;
      },
      finishOpen: async (key, _fingerprint, result, _now, _firstSeen, ifMayHaveRun) => {
        const recorded = options.marked ? ifMayHaveRun : result;
        if (recorded !== undefined) finished.set(idOfRequestKey(key), recorded);
        return recorded;
      },
      recordRejection: async (key, result) => {
        finished.set(idOfRequestKey(key), result);
        return true;
      },
    },
    runner: {
      check: options.check ?? (async () => {}),
      isSafeToRepeat: () => options.safeToRepeat ?? true,
      timeoutsOf: () => ({ connectionTimeoutMs: 1_000, requestTimeoutMs: 5_000 }),
      outcomeCheckOf: () => (options.readBack === undefined ? undefined : 'DescribeTags'),
      readBack: async () => {
        events.push('readBack');
        if (options.readBack === undefined) throw new Error('no outcome check');
        return options.readBack();
      },
      run: async () => {
        runs++;
        ranAt.push(now);
        events.push('run');
        return options.run ? options.run() : { ok: true };
      },
    },
    queue: {
      sendAll: async (messages) => {
        if (failSends) return new Map(messages.map((m) => [m.key, 'ServiceUnavailable']));
        if (failDeadLetters && messages.some((m) => m.queueUrl === 'q-dlq'))
          return new Map(messages.map((m) => [m.key, 'KmsThrottled']));
        sent.push(...messages);
        events.push(...messages.map((m) => `send ${m.queueUrl}`));
        return new Map();
      },
    },
    outputs: {
      put: async (producer, id, attempt, body) => {
        const key = `outputs/${producer}/${id}/${attempt}.json`;
        stored.set(key, body);
        return {
          bucket: 'outputs-bucket',
          key,
          bytes: Buffer.byteLength(body),
          sha256: createHash('sha256').update(body).digest('hex'),
        };
      },
    },
    replies: {
      sendAll: async (outgoing) => {
        if (failSends) return new Map(outgoing.map((r) => [r.key, 'ServiceUnavailable']));
        replies.push(...outgoing);
        events.push(...outgoing.map((r) => `reply ${r.destination}`));
        return new Map();
      },
    },
  });
  return {
    dispatcher,
    sent,
    replies,
    finished,
    stored,
    admits,
    admittedLevels,
    penalties,
    checkIns,
    runs: () => runs,
    claims: () => claims,
    ranAt,
    events,
    warnings,
    releasesKeepingMark,
    advance: (ms: number) => {
      now += ms;
    },
    failSends: () => {
      failSends = true;
    },
    failDeadLetters: () => {
      failDeadLetters = true;
    },
  };
}

function message(
  request: Partial<SluiceRequest> & { id: string },
  attributes: Record<string, string> = {},
): IncomingMessage {
  const body: SluiceRequest = {
    v: 1,
    target: { account: '111111111111', region: 'us-east-1' },
    call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
    ...request,
  };
  return {
    messageId: `m-${request.id}`,
    body: JSON.stringify(body),
    attributes,
    sentAtMs: T0,
    queueName: 'q-normal',
  };
}

describe('Dispatcher.processBatch', () => {
  it('runs an admitted call at once and records its result', async () => {
    const t = setup();
    const outcome = await t.dispatcher.processBatch([message({ id: 'a' })], 'owner');
    expect(outcome.failedMessageIds).toEqual([]);
    expect(t.finished.get('a')).toMatchObject({ status: 'succeeded', output: { ok: true } });
  });

  it('does not claim a call that could outlive the invocation: it is re-queued to be admitted again', async () => {
    const t = setup();
    // The call's timeout (5 s) and the bookkeeping reserve (3 s) do not fit in 7.9 s.
    const outcome = await t.dispatcher.processBatch([message({ id: 'late-in-run' })], 'o', {
      remainingMs: 7_900,
    });
    expect(t.claims()).toBe(0);
    expect(t.runs()).toBe(0);
    expect(t.sent).toEqual([
      expect.objectContaining({ queueUrl: SCHEDULED, delaySeconds: 0, body: expect.any(String) }),
    ]);
    expect(outcome.failedMessageIds).toEqual([]);
  });

  it('runs a call whose timeout and bookkeeping fit in the time the invocation has left', async () => {
    const t = setup();
    await t.dispatcher.processBatch([message({ id: 'in-time' })], 'o', { remainingMs: 8_000 });
    expect(t.runs()).toBe(1);
    expect(t.finished.get('in-time')).toMatchObject({ status: 'succeeded' });
  });

  it('keeps an output of up to 192 KiB in the result', async () => {
    const output = { Pad: 'x'.repeat(MAX_INLINE_OUTPUT_BYTES - 10) };
    const t = setup({ run: async () => output });
    await t.dispatcher.processBatch([message({ id: 'inline' })], 'owner');
    expect(Buffer.byteLength(JSON.stringify(output))).toBe(MAX_INLINE_OUTPUT_BYTES);
    expect(t.finished.get('inline')).toMatchObject({ status: 'succeeded', output });
    expect(t.stored.size).toBe(0);
  });

  it('stores a larger output in S3 and records a pointer to it, in the result and the reply', async () => {
    const output = { Pad: 'x'.repeat(MAX_INLINE_OUTPUT_BYTES) };
    const t = setup({ run: async () => output });
    await t.dispatcher.processBatch([message({ id: 'large', replyTo: REPLY_TOPIC })], 'owner');
    const body = JSON.stringify(output);
    const result = t.finished.get('large');
    expect(result).toEqual({
      v: 1,
      status: 'succeeded',
      id: 'large',
      attempts: 1,
      outputRef: {
        bucket: 'outputs-bucket',
        key: 'outputs/default/large/1.json',
        bytes: Buffer.byteLength(body),
        sha256: createHash('sha256').update(body).digest('hex'),
      },
      timings: expect.any(Object),
    });
    expect(t.stored.get('outputs/default/large/1.json')).toBe(body);
    expect(t.replies.map((r) => JSON.parse(r.body))).toEqual([result]);
  });

  it('fails a call whose output is larger than maxOutputBytes with OutputTooLarge, storing nothing', async () => {
    const t = setup({
      run: async () => ({ Pad: 'x'.repeat(300_000) }),
      maxOutputBytes: 250_000,
    });
    await t.dispatcher.processBatch([message({ id: 'huge-output' })], 'owner');
    expect(t.finished.get('huge-output')).toMatchObject({
      status: 'failed',
      error: {
        code: 'OutputTooLarge',
        message:
          'the call succeeded, but its output is 300010 bytes, more than maxOutputBytes (250000); it was not kept',
      },
    });
    expect(t.stored.size).toBe(0);
  });

  it('runs at once a slot admission froze; any other slot due now checks in first', async () => {
    const frozen = setup({
      decide: () => ({ ...admittedAt(T0), positions: [{ slotUs: T0 * 1_000, seq: FIXED }] }),
    });
    await frozen.dispatcher.processBatch([message({ id: 'f' })], 'owner');
    expect(frozen.checkIns).toEqual([]);
    expect(frozen.runs()).toBe(1);
    // Not frozen: a cut-in planned a moment earlier may have moved it since.
    const open = setup({ decide: () => admittedAt(T0 + 100) });
    await open.dispatcher.processBatch([message({ id: 'o' })], 'owner');
    expect(open.checkIns).toEqual([true]);
    expect(open.runs()).toBe(1);
  });

  it('re-sends a reservation to the scheduled queue to arrive early, and runs it at its slot without admission', async () => {
    const t = setup({
      decide: () => admittedAt(T0 + 30_000),
    });
    await t.dispatcher.processBatch([message({ id: 'r', priority: 'high' })], 'owner');
    // 30 s to the slot: delayed 29 s (SQS delays are whole seconds), the rest waited in-process.
    expect(t.sent).toEqual([
      expect.objectContaining({
        queueUrl: SCHEDULED,
        delaySeconds: 29,
        attributes: {
          [ENVELOPE.producer]: 'default',
          [ENVELOPE.firstSeen]: String(T0),
          [ENVELOPE.runAt]: String(T0 + 30_000),
          [ENVELOPE.timeline]: `${(T0 + 30_000) * 1_000}:0:0`,
        },
      }),
    ]);
    t.advance(29_000);
    const arrived = t.sent[0] as OutgoingMessage;
    await t.dispatcher.processBatch(
      [
        {
          messageId: 'm2',
          body: arrived.body,
          attributes: arrived.attributes ?? {},
          sentAtMs: T0 + 1_000,
          queueName: 'q-scheduled',
        },
      ],
      'o',
    );
    expect(t.admits).toEqual([1]);
    // It committed to its slot (one check-in) and ran on it.
    expect(t.checkIns).toEqual([true]);
    expect(t.ranAt).toEqual([T0 + 30_000]);
  });

  it("sends re-queued messages before running the batch's due calls: their delays count from now", async () => {
    let n = 0;
    const t = setup({
      decide: () => (n++ === 0 ? admittedAt(T0) : admittedAt(T0 + 30_000)),
    });
    await t.dispatcher.processBatch([message({ id: 'now' }), message({ id: 'later' })], 'owner');
    expect(t.events.filter((e) => e.startsWith('send') || e === 'run')).toEqual([
      `send ${SCHEDULED}`,
      'run',
    ]);
  });

  it('ignores a reservation on a request queue (producers can send there): admits it like any request', async () => {
    const t = setup();
    // A whole reservation envelope, one the scheduled queue would believe: a slot due now on a
    // position nothing can move.
    const forged = message(
      { id: 'f' },
      { [ENVELOPE.runAt]: String(T0), [ENVELOPE.timeline]: `${T0 * 1_000}:-1:0` },
    );
    await t.dispatcher.processBatch([{ ...forged, queueName: 'q-normal' }], 'owner');
    expect(t.admits).toEqual([1]);
    expect(t.runs()).toBe(1);
    expect(t.warnings).toEqual(['envelope attributes ignored on a request queue']);
  });

  it('refuses a message from a queue of no producer: dead-lettered with the reason, never admitted', async () => {
    const t = setup();
    await t.dispatcher.processBatch([{ ...message({ id: 'stray' }), queueName: 'q-other' }], 'o');
    expect(t.sent).toEqual([
      expect.objectContaining({
        queueUrl: 'q-dlq',
        attributes: { [ENVELOPE.reason]: expect.stringMatching(/^NoProducer/) },
      }),
    ]);
    expect(t.admits).toEqual([]);
    expect(t.finished.size).toBe(0);
  });

  it("schedules a request no more urgently than its producer's maxPriority", async () => {
    const t = setup({ maxPriority: 'normal' });
    await t.dispatcher.processBatch(
      [message({ id: 'pushy', priority: 'high' }), message({ id: 'batch', priority: 'low' })],
      'o',
    );
    expect(t.admittedLevels.sort()).toEqual(['low', 'normal']);
    const open = setup();
    await open.dispatcher.processBatch([message({ id: 'click', priority: 'high' })], 'o');
    expect(open.admittedLevels).toEqual(['high']);
  });

  it('asks again in this invocation when the bucket has room again within moments, then runs the call', async () => {
    let asked = 0;
    const t = setup({
      decide: () => {
        asked++;
        return asked < 3
          ? { kind: 'not-yet', retryAtMs: T0 + 600 * asked, slowed: false, contended: true }
          : admittedAt(T0 + 1_200);
      },
    });
    await t.dispatcher.processBatch([message({ id: 'soon' })], 'o');
    expect(t.admits).toEqual([1, 1, 1]);
    expect(t.sent).toEqual([]);
    expect(t.finished.get('soon')).toMatchObject({ status: 'succeeded' });
  });

  it('sends a call whose bucket is not contended to the scheduled queue even when its time is near', async () => {
    const t = setup({ decide: () => ({ kind: 'not-yet', retryAtMs: T0 + 500, slowed: false }) });
    await t.dispatcher.processBatch([message({ id: 'exact' })], 'o');
    expect(t.admits).toEqual([1]);
    expect(t.sent).toEqual([expect.objectContaining({ queueUrl: SCHEDULED, delaySeconds: 1 })]);
  });

  it('asks again at most IN_PROCESS_ROUNDS times, then waits on the scheduled queue', async () => {
    let asked = 0;
    const t = setup({
      decide: () => {
        asked++;
        return { kind: 'not-yet', retryAtMs: T0 + 500 * asked, slowed: false, contended: true };
      },
    });
    await t.dispatcher.processBatch([message({ id: 'busy' })], 'o');
    expect(t.admits).toHaveLength(IN_PROCESS_ROUNDS + 1);
    expect(t.sent).toEqual([expect.objectContaining({ queueUrl: SCHEDULED })]);
    expect(t.runs()).toBe(0);
  });

  it("bounds a scheduled message's first receipt by its SentTimestamp, and refuses one naming no producer", async () => {
    const t = setup({ decide: () => ({ kind: 'not-yet', retryAtMs: T0 + 5_000, slowed: false }) });
    const scheduled = (id: string, attributes: Record<string, string>) => ({
      ...message({ id }, attributes),
      queueName: 'q-scheduled',
    });
    await t.dispatcher.processBatch(
      [
        scheduled('later', {
          [ENVELOPE.producer]: 'default',
          [ENVELOPE.firstSeen]: String(T0 + 86_400_000),
        }),
        scheduled('nobody', { [ENVELOPE.firstSeen]: String(T0) }),
      ],
      'o',
    );
    expect(t.sent.map((m) => [m.queueUrl, m.attributes?.[ENVELOPE.reason]?.slice(0, 10)])).toEqual([
      ['q-dlq', 'NoProducer'],
      [SCHEDULED, undefined],
    ]);
    // Re-sent with the first receipt SQS vouches for (its SentTimestamp), not the envelope's.
    expect(t.sent[1]?.attributes?.[ENVELOPE.firstSeen]).toBe(String(T0));
  });

  it('chains waits longer than SQS allows: 900 s delays carrying the time to wait for', async () => {
    const t = setup({
      decide: () => ({ kind: 'not-yet', retryAtMs: T0 + 2_000_000, slowed: false }),
    });
    await t.dispatcher.processBatch([message({ id: 'long' })], 'owner');
    const first = t.sent[0] as OutgoingMessage;
    expect(first).toMatchObject({
      delaySeconds: 900,
      attributes: { [ENVELOPE.notBefore]: String(T0 + 2_000_000) },
    });
    t.advance(900_000);
    await t.dispatcher.processBatch(
      [
        {
          messageId: 'm2',
          body: first.body,
          attributes: first.attributes ?? {},
          sentAtMs: T0 + 900_000,
          queueName: 'q-scheduled',
        },
      ],
      'o',
    );
    // Still 1,100 s to go: re-sent again without touching the buckets.
    expect(t.admits).toEqual([1]);
    expect(t.sent[1]).toMatchObject({
      delaySeconds: 900,
      attributes: { [ENVELOPE.notBefore]: String(T0 + 2_000_000) },
    });
  });

  it('looks again within a hop when a slowed bucket said not yet: its horizon widens as it recovers', async () => {
    const t = setup({ decide: () => ({ kind: 'not-yet', retryAtMs: T0 + 120_000, slowed: true }) });
    await t.dispatcher.processBatch([message({ id: 'slow' })], 'owner');
    expect(t.sent[0]).toMatchObject({ delaySeconds: SLOWED_HOP_MS / 1_000 });
  });

  it('fails a request whose deadline has passed, dead-letters it, and never admits it', async () => {
    const t = setup();
    t.advance(60_000);
    await t.dispatcher.processBatch(
      [message({ id: 'late', deadline: new Date(T0 + 1_000).toISOString() })],
      'owner',
    );
    expect(t.finished.get('late')).toMatchObject({
      status: 'failed',
      error: { code: 'DeadlineExceeded' },
    });
    expect(t.sent).toEqual([
      expect.objectContaining({
        queueUrl: 'q-dlq',
        attributes: {
          [ENVELOPE.producer]: 'default',
          [ENVELOPE.firstSeen]: String(T0),
          [ENVELOPE.reason]: 'DeadlineExceeded',
        },
      }),
    ]);
    expect(t.admits).toEqual([]);
  });

  it('fails a late request whose earlier call may have run as OutcomeUnknown, not DeadlineExceeded', async () => {
    const t = setup({ marked: true });
    t.advance(60_000);
    await t.dispatcher.processBatch(
      [message({ id: 'late-sent', deadline: new Date(T0 + 1_000).toISOString() })],
      'owner',
    );
    expect(t.finished.get('late-sent')).toMatchObject({
      status: 'failed',
      error: { code: 'OutcomeUnknown', message: expect.stringContaining('may have run') },
    });
    expect(t.sent.map((m) => m.attributes?.[ENVELOPE.reason])).toEqual(['OutcomeUnknown']);
  });

  it("dead-letters with Sluice's attributes only, none of the producer's", async () => {
    const t = setup();
    t.advance(60_000);
    const producerAttributes = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`mine-${i}`, 'x']),
    );
    await t.dispatcher.processBatch(
      [message({ id: 'late', deadline: new Date(T0).toISOString() }, producerAttributes)],
      'owner',
    );
    expect(Object.keys(t.sent[0]?.attributes ?? {})).toEqual([
      ENVELOPE.producer,
      ENVELOPE.firstSeen,
      ENVELOPE.reason,
    ]);
  });

  it('records the result of a request that failed for good even when its dead letter cannot be sent', async () => {
    const t = setup();
    t.failDeadLetters();
    t.advance(60_000);
    const outcome = await t.dispatcher.processBatch(
      [message({ id: 'late', deadline: new Date(T0).toISOString() })],
      'owner',
    );
    expect(t.finished.get('late')).toMatchObject({
      status: 'failed',
      error: { code: 'DeadlineExceeded' },
    });
    expect(t.warnings).toContain('dead letter not sent; the result is recorded');
    // Delivered again it would only find its result: the message is acknowledged.
    expect(outcome.failedMessageIds).toEqual([]);
  });

  it('after a provider throttle on the last attempt: pushes the bucket back, fails the request, dead-letters it', async () => {
    const throttle = Object.assign(new Error('Request limit exceeded.'), {
      name: 'RequestLimitExceeded',
      $metadata: { httpStatusCode: 503 },
    });
    const t = setup({ run: () => Promise.reject(throttle) });
    await t.dispatcher.processBatch([message({ id: 'busy', maxAttempts: 1 })], 'owner');
    expect(t.penalties).toEqual([T0 + 1_000]);
    expect(t.finished.get('busy')).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'AttemptsExhausted' },
    });
    expect(t.sent.map((m) => m.queueUrl)).toEqual(['q-dlq']);
  });

  it('re-queues a throttled call, through the scheduled queue, to admission again when attempts remain', async () => {
    const throttle = Object.assign(new Error('slow down'), {
      name: 'Throttling',
      $metadata: { httpStatusCode: 400 },
    });
    const t = setup({ run: () => Promise.reject(throttle) });
    await t.dispatcher.processBatch([message({ id: 'again' })], 'owner');
    expect(t.sent).toEqual([
      expect.objectContaining({
        queueUrl: SCHEDULED,
        delaySeconds: 1,
        attributes: { [ENVELOPE.producer]: 'default', [ENVELOPE.firstSeen]: String(T0) },
      }),
    ]);
    expect(t.finished.has('again')).toBe(false);
  });

  it('fails a call that can never fit its bucket, without running it', async () => {
    const t = setup({
      decide: () => ({
        kind: 'never-fits',
        bucket: { account: '1', region: 'r', service: 'ec2', bucket: 'RunInstances:resource' },
        cost: 2_000,
        burst: 1_000,
      }),
    });
    await t.dispatcher.processBatch([message({ id: 'huge' })], 'owner');
    expect(t.finished.get('huge')).toMatchObject({
      status: 'failed',
      error: { code: 'NeverFits' },
    });
    expect(t.runs()).toBe(0);
  });

  it('leaves a message for redelivery when its re-send cannot be sent', async () => {
    const t = setup({ decide: () => ({ kind: 'not-yet', retryAtMs: T0 + 5_000, slowed: false }) });
    t.failSends();
    const outcome = await t.dispatcher.processBatch([message({ id: 'x' })], 'owner');
    expect(outcome.failedMessageIds).toEqual(['m-x']);
  });

  it('rejects a replyTo the deployment does not allow, naming the field and the rule', async () => {
    const t = setup();
    await t.dispatcher.processBatch(
      [message({ id: 'rt', replyTo: 'https://sqs.us-east-1.amazonaws.com/999999999999/theirs' })],
      'o',
    );
    expect(t.finished.get('rt')).toMatchObject({
      status: 'rejected',
      error: { problems: [{ field: 'replyTo', rule: 'not-allowed' }] },
    });
    expect(t.runs()).toBe(0);
  });

  it('replies to an allowed SNS topic with the result and the attributes subscribers filter on', async () => {
    const t = setup();
    await t.dispatcher.processBatch([message({ id: 'to-topic', replyTo: REPLY_TOPIC })], 'o');
    expect(t.replies).toEqual([
      {
        key: expect.any(String),
        destination: REPLY_TOPIC,
        body: JSON.stringify(t.finished.get('to-topic')),
        attributes: {
          status: 'succeeded',
          producer: 'default',
          operation: 'DescribeInstances',
          service: 'ec2',
        },
        fifo: {
          groupId: expect.stringMatching(/^[0-9a-f]{64}$/),
          deduplicationId: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      },
    ]);
  });

  it('replies to a rejected request that names an allowed topic, with status rejected', async () => {
    const t = setup();
    await t.dispatcher.processBatch(
      [
        message({
          id: 'bad-op',
          replyTo: REPLY_TOPIC,
          call: { service: 'ec2', operation: 'TerminateInstances', input: {} },
        }),
      ],
      'o',
    );
    expect(t.replies.map((r) => r.attributes)).toEqual([
      { status: 'rejected', producer: 'default', operation: 'TerminateInstances', service: 'ec2' },
    ]);
  });

  it('leaves a message for redelivery when its reply cannot be sent', async () => {
    const t = setup();
    t.failSends();
    const outcome = await t.dispatcher.processBatch(
      [message({ id: 'unreplied', replyTo: REPLY_TOPIC })],
      'o',
    );
    expect(outcome.failedMessageIds).toEqual(['m-unreplied']);
  });

  it('rejects an operation the SDK does not know, naming the field and the rule', async () => {
    const t = setup({
      check: () =>
        Promise.reject(new UnsupportedCallError('call.operation', 'ec2 has no operation Fly')),
    });
    await t.dispatcher.processBatch([message({ id: 'fly' })], 'o');
    expect(t.finished.get('fly')).toMatchObject({
      status: 'rejected',
      error: {
        problems: [
          {
            field: 'call.operation',
            rule: 'unsupported',
            message: 'call.operation: ec2 has no operation Fly (unsupported)',
          },
        ],
      },
    });
    expect(t.admits).toEqual([]);
  });

  it('rejects a call whose cost cannot be read from its input, naming the input field', async () => {
    const t = setup();
    await t.dispatcher.processBatch(
      [
        message({
          id: 'cost',
          call: { service: 'ec2', operation: 'RunInstances', input: { MinCount: 1, MaxCount: 0 } },
        }),
      ],
      'o',
    );
    expect(t.finished.get('cost')).toMatchObject({
      status: 'rejected',
      error: {
        problems: [
          {
            field: 'call.input.MaxCount',
            rule: 'cost',
            message: expect.stringMatching(/^call\.input\.MaxCount: must be .* \(cost\)$/),
          },
        ],
      },
    });
    expect(t.runs()).toBe(0);
  });
});

/** A call the provider throttles (EC2's answer). */
const throttle = () =>
  Promise.reject(
    Object.assign(new Error('Request limit exceeded.'), {
      name: 'RequestLimitExceeded',
      $metadata: { httpStatusCode: 503 },
    }),
  );

describe('Dispatcher bookkeeping under the lease', () => {
  it('marks a call that is not safe to repeat as sent, just before sending it', async () => {
    const t = setup({ safeToRepeat: false });
    await t.dispatcher.processBatch([message({ id: 'tags' })], 'o');
    expect(t.events.slice(0, 3)).toEqual(['markSent', 'run', 'finishClaimed']);
  });

  it('writes no marker before a call that is safe to repeat', async () => {
    const t = setup({ safeToRepeat: true });
    await t.dispatcher.processBatch([message({ id: 'read' })], 'o');
    expect(t.events).not.toContain('markSent');
    expect(t.runs()).toBe(1);
  });

  it('runs again an unsafe call whose lapsed attempt never marked it sent', async () => {
    const t = setup({
      safeToRepeat: false,
      claim: { tookOverLapsedLease: true, previousMayHaveRun: false },
    });
    await t.dispatcher.processBatch([message({ id: 'never-sent' })], 'o');
    expect(t.runs()).toBe(1);
    expect(t.finished.get('never-sent')).toMatchObject({ status: 'succeeded' });
  });

  it('ends an unsafe call whose lapsed attempt marked it sent as OutcomeUnknown, without running it', async () => {
    const t = setup({
      safeToRepeat: false,
      claim: { tookOverLapsedLease: true, previousMayHaveRun: true },
    });
    await t.dispatcher.processBatch([message({ id: 'maybe-ran' })], 'o');
    expect(t.runs()).toBe(0);
    expect(t.finished.get('maybe-ran')).toMatchObject({
      status: 'failed',
      error: { code: 'OutcomeUnknown' },
    });
    expect(t.sent.map((m) => m.attributes?.[ENVELOPE.reason])).toEqual(['outcome unknown']);
  });

  it('does not send the call when its marker cannot be written, and leaves the message for redelivery', async () => {
    const t = setup({ safeToRepeat: false, failing: { markSent: 100 } });
    const outcome = await t.dispatcher.processBatch([message({ id: 'unmarked' })], 'o', {
      remainingMs: 30_000,
    });
    expect(t.runs()).toBe(0);
    expect(outcome.failedMessageIds).toEqual(['m-unmarked']);
  });

  it('retries a failed lease release after a throttle, with jitter, and re-queues the call', async () => {
    const t = setup({ run: throttle, safeToRepeat: false, failing: { release: 3 } });
    const outcome = await t.dispatcher.processBatch([message({ id: 'blink' })], 'o');
    expect(t.events.filter((e) => e.startsWith('release'))).toEqual([
      'release failed',
      'release failed',
      'release failed',
      'release',
    ]);
    expect(t.warnings.filter((w) => w === 'lease release failed; trying again')).toHaveLength(3);
    expect(t.sent.map((m) => m.queueUrl)).toEqual([SCHEDULED]);
    expect(outcome.failedMessageIds).toEqual([]);
  });

  it('releases the lease even when the throttle report cannot be written', async () => {
    const t = setup({ run: throttle, failing: { reportThrottle: 1_000 } });
    const outcome = await t.dispatcher.processBatch([message({ id: 'unreported' })], 'o');
    expect(t.events).toContain('release');
    expect(t.warnings).toContain('throttle report not written');
    expect(t.sent.map((m) => m.queueUrl)).toEqual([SCHEDULED]);
    expect(outcome.failedMessageIds).toEqual([]);
  });

  it('retries the result write of a call that ran, so its output is not lost', async () => {
    const t = setup({ safeToRepeat: false, failing: { finishClaimed: 5 } });
    const outcome = await t.dispatcher.processBatch([message({ id: 'ran-once' })], 'o');
    expect(t.runs()).toBe(1);
    expect(t.finished.get('ran-once')).toMatchObject({ status: 'succeeded', output: { ok: true } });
    expect(outcome.failedMessageIds).toEqual([]);
  });

  it('stops retrying before the lease ends, and leaves the message for redelivery', async () => {
    // A lease of 10 s: the writes are tried for about 9 s, then given up.
    const t = setup({ run: throttle, failing: { release: 1_000 } });
    const outcome = await t.dispatcher.processBatch([message({ id: 'down' })], 'o', {
      remainingMs: 10_000,
    });
    const tries = t.events.filter((e) => e === 'release failed').length;
    expect(tries).toBeGreaterThan(3);
    expect(tries).toBeLessThan(20);
    expect(outcome.failedMessageIds).toEqual(['m-down']);
  });
});

describe('Dispatcher reading back a call whose answer was lost', () => {
  const maybeRan = { tookOverLapsedLease: true, previousMayHaveRun: true };
  const hung = () =>
    Promise.reject(
      Object.assign(new Error('Request timed out'), { name: 'TimeoutError', $metadata: {} }),
    );

  it('finishes as succeeded, confirmed by the read, without sending the call again', async () => {
    const t = setup({
      safeToRepeat: false,
      claim: maybeRan,
      readBack: async () => 'applied' as const,
    });
    await t.dispatcher.processBatch([message({ id: 'tagged' })], 'o');
    expect(t.runs()).toBe(0);
    expect(t.events).not.toContain('markSent');
    expect(t.finished.get('tagged')).toMatchObject({
      status: 'succeeded',
      output: {},
      confirmedBy: 'DescribeTags',
    });
    expect(t.sent).toEqual([]);
  });

  it('sends the call again, marked sent first, when the read shows it did not run', async () => {
    const t = setup({
      safeToRepeat: false,
      claim: maybeRan,
      readBack: async () => 'absent' as const,
    });
    await t.dispatcher.processBatch([message({ id: 'untagged' })], 'o');
    expect(t.events.slice(0, 4)).toEqual(['readBack', 'markSent', 'run', 'finishClaimed']);
    expect(t.finished.get('untagged')).toMatchObject({ status: 'succeeded', output: { ok: true } });
    expect(t.finished.get('untagged')).not.toHaveProperty('confirmedBy');
  });

  it('tries again later, keeping the marker, when the read itself is throttled', async () => {
    const t = setup({ safeToRepeat: false, claim: maybeRan, readBack: throttle });
    const outcome = await t.dispatcher.processBatch([message({ id: 'unread' })], 'o');
    expect(t.runs()).toBe(0);
    expect(t.finished.has('unread')).toBe(false);
    expect(t.releasesKeepingMark).toEqual([true]);
    // A failed read is no throttle of the call's bucket.
    expect(t.penalties).toEqual([]);
    expect(t.sent.map((m) => m.queueUrl)).toEqual([SCHEDULED]);
    expect(outcome.failedMessageIds).toEqual([]);
  });

  it('ends OutcomeUnknown, without sending, when the read is unclear (the keys have other values)', async () => {
    const t = setup({ safeToRepeat: false, claim: maybeRan, readBack: async () => 'unclear' });
    await t.dispatcher.processBatch([message({ id: 'overwritten' })], 'o');
    expect(t.runs()).toBe(0);
    expect(t.finished.get('overwritten')).toMatchObject({
      status: 'failed',
      error: { code: 'OutcomeUnknown', message: expect.stringContaining('other values') },
    });
  });

  it('ends OutcomeUnknown when the read is refused (no permission): it can never be learned', async () => {
    const denied = () =>
      Promise.reject(
        Object.assign(new Error('not authorized'), {
          name: 'UnauthorizedOperation',
          $metadata: { httpStatusCode: 403 },
        }),
      );
    const t = setup({ safeToRepeat: false, claim: maybeRan, readBack: denied });
    await t.dispatcher.processBatch([message({ id: 'denied' })], 'o');
    expect(t.runs()).toBe(0);
    expect(t.finished.get('denied')).toMatchObject({
      status: 'failed',
      error: { code: 'OutcomeUnknown' },
    });
    const result = t.finished.get('denied');
    expect(result?.status === 'failed' && result.error.message).toContain('DescribeTags');
  });

  it('gives a hung call back with its marker, to be read back, when it has a check', async () => {
    const t = setup({ safeToRepeat: false, run: hung, readBack: async () => 'applied' as const });
    await t.dispatcher.processBatch([message({ id: 'hung' })], 'o');
    expect(t.runs()).toBe(1);
    expect(t.finished.has('hung')).toBe(false);
    expect(t.releasesKeepingMark).toEqual([true]);
    expect(t.sent.map((m) => m.queueUrl)).toEqual([SCHEDULED]);
  });

  it('ends a hung call OutcomeUnknown at once when it has no check', async () => {
    const t = setup({ safeToRepeat: false, run: hung });
    await t.dispatcher.processBatch([message({ id: 'hung-unchecked' })], 'o');
    expect(t.finished.get('hung-unchecked')).toMatchObject({
      status: 'failed',
      error: { code: 'OutcomeUnknown' },
    });
    expect(t.events).not.toContain('readBack');
  });

  it('forgets the marker when a throttled call is given back: it did not run', async () => {
    const t = setup({
      safeToRepeat: false,
      run: throttle,
      readBack: async () => 'applied' as const,
    });
    await t.dispatcher.processBatch([message({ id: 'throttled' })], 'o');
    expect(t.releasesKeepingMark).toEqual([false]);
  });
});
