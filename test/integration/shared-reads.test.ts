/**
 * Shared reads through real dispatchers, on every engine (dynalite and DynamoDB Local): the
 * requests and reads tables are real, so are the conditions that make single-flight hold across
 * dispatchers; the provider, the buckets and SQS are in-memory stand-ins that count calls,
 * admissions and re-sent messages, under one fake clock.
 *
 * Shown: identical reads from two dispatchers share one provider call and spend one token; a
 * request sent after the shared call started leads the next one (never an answer older than the
 * request); a cached output serves later requests without a call or a token until it expires; a
 * leader that crashes mid-call loses nothing — its lease lapses, a follower takes the read over,
 * and the crashed request is answered from that call; a read is shared across producers, each
 * checked against its own allowlist first; a re-used id is a conflict, never another read's
 * output; mutating calls and DryRuns never share; an output too large for a result (stored in S3,
 * under its own request's producer) is never shared.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../local/emulators/dynalite.js';
import { createBucket, s3Client } from '../../local/emulators/s3.js';
import { startSqs } from '../../local/emulators/sqs.js';
import { FIXED } from '../../shared/admission/timeline.js';
import {
  type DeploymentConfigInput,
  parseDeploymentConfig,
} from '../../shared/config/deployment.js';
import { METRICS } from '../../shared/contract/metrics.js';
import type { SluiceRequest } from '../../shared/contract/request.js';
import type { SluiceResult } from '../../shared/contract/result.js';
import { MAX_INLINE_OUTPUT_BYTES } from '../../shared/contract/sizes.js';
import { Dispatcher, type IncomingMessage } from '../../shared/dispatch/dispatcher.js';
import { ENVELOPE } from '../../shared/dispatch/envelope.js';
import type { OutgoingMessage } from '../../shared/dispatch/queue-sender.js';
import { READ_LEASE_MARGIN_MS } from '../../shared/dispatch/shared-reads.js';
import { createCatalog } from '../../shared/limits/index.js';
import { ReadsStore } from '../../shared/reads/reads-store.js';
import { fetchOutput, OutputStore } from '../../shared/requests/outputs.js';
import { RequestsStore } from '../../shared/requests/requests-store.js';
import { READS_TABLE, REQUESTS_TABLE, requestKey } from '../../shared/storage/tables.js';
import { unchangedCheckIns } from '../support/check-ins.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { enginesUnderTest } from '../support/inject-engines.js';

const T0 = 1_800_000_000_000;
const ACCOUNT = '111111111111';
const LEASE_MS = 120_000;
const SCHEDULED = 'https://sqs.us-east-1.amazonaws.com/000000000000/q-scheduled';
const QUOTAS = { Quotas: [{ QuotaCode: 'L-1216C47A', Value: 1152 }] };
/** The answer for a `ServiceCode` starting `big`: larger than a result holds, so it is in S3. */
const BIG_QUOTAS = { Quotas: [{ QuotaCode: 'x'.repeat(MAX_INLINE_OUTPUT_BYTES), Value: 1 }] };

/** A provider call held open until the test lets it answer (or never: a crash). */
interface Gate {
  /** Resolves once the call has reached the provider. */
  readonly entered: Promise<void>;
  readonly opened: Promise<void>;
  enter(): void;
  open(): void;
}

function gate(): Gate {
  const g: Partial<Gate> = {};
  const entered = new Promise<void>((resolve) => {
    g.enter = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    g.open = resolve;
  });
  return { ...(g as Pick<Gate, 'enter' | 'open'>), entered, opened };
}

/** The store, whose claim of request `id` fails as if the requests table were unavailable. */
function failingClaim(store: RequestsStore, id: string | undefined) {
  return {
    claim: (...args: Parameters<RequestsStore['claim']>) => {
      if (args[0] === requestKey('default', id ?? '')) {
        return Promise.reject(new Error('requests table unavailable'));
      }
      return store.claim(...args);
    },
    markSent: store.markSent.bind(store),
    release: store.release.bind(store),
    finishClaimed: store.finishClaimed.bind(store),
    finishOpen: store.finishOpen.bind(store),
    recordRejection: store.recordRejection.bind(store),
  };
}

describe.each(enginesUnderTest())('shared reads through the dispatcher on $name', (engine) => {
  let requestsTable: string;
  let readsTable: string;
  let now = T0;
  let run = 0;

  // The outputs bucket, on fauxqs's S3: outputs too large for a result are stored there.
  let s3Emulator: RunningEmulator;
  let s3: ReturnType<typeof s3Client>;
  let outputsBucket: string;

  beforeAll(async () => {
    const client = dynamoClient(engine.endpoint);
    s3Emulator = await startSqs();
    s3 = s3Client(s3Emulator.endpoint);
    [requestsTable, readsTable, outputsBucket] = await Promise.all([
      createTable(client, REQUESTS_TABLE, uniqueTableName('requests')),
      createTable(client, READS_TABLE, uniqueTableName('reads')),
      createBucket(s3, uniqueTableName('outputs').toLowerCase()),
    ]);
  });

  afterAll(async () => {
    s3?.destroy();
    await s3Emulator?.stop();
  });

  /**
   * Dispatchers (each with its own DynamoDB client) over the shared tables; `calls` lists what
   * reached the provider, `counted` the metrics (AdmittedCalls: tokens spent), `sent` what was
   * re-queued.
   */
  function fleet(
    config: Partial<DeploymentConfigInput> = {},
    failClaimOf?: string,
    /** How far ahead of now admission places each call. */
    admitAheadMs = 0,
  ) {
    const calls: string[] = [];
    const sent: OutgoingMessage[] = [];
    const counted = new Map<string, number>();
    const gates = new Map<string, Gate>();
    const deployment = parseDeploymentConfig({
      targets: [
        {
          account: ACCOUNT,
          allow: [
            { service: 'service-quotas', operations: ['ListServiceQuotas'] },
            { service: 'ec2', operations: ['RunInstances', 'DescribeInstances'] },
          ],
        },
      ],
      leaseMs: LEASE_MS,
      ...config,
    });
    const dispatcher = () => {
      const client = dynamoClient(engine.endpoint);
      return new Dispatcher({
        deployment,
        // Producer `p` sends on queue `q-p`; a deployment that names none has `default`.
        producerQueues: new Map(
          (config.producers ?? [{ name: 'default' }]).map((p) => [`q-${p.name}`, p.name]),
        ),
        scheduledQueueUrl: SCHEDULED,
        dlqUrl: 'q-dlq',
        catalog: createCatalog(),
        clock: () => now,
        sleep: async () => {},
        random: () => 0.5,
        telemetry: {
          count: (metric, value) => counted.set(metric, (counted.get(metric) ?? 0) + value),
          info: () => {},
          warn: () => {},
        },
        buckets: {
          admit: async (_buckets, costs) => ({
            decisions: costs.map(() => ({
              kind: 'admitted' as const,
              runAtMs: now + admitAheadMs,
              slotsUs: [(now + admitAheadMs) * 1_000],
              positions: [{ slotUs: (now + admitAheadMs) * 1_000, seq: FIXED }],
              epochs: [0],
              slowed: false,
              fractions: [1],
            })),
            requests: { writes: 1, reads: 0 },
            forfeitedTokens: 0,
          }),
          // Nothing moves a slot here: every reservation runs where admission put it.
          checkIn: async (reservations, commit) => unchangedCheckIns(reservations, commit),
          reportThrottle: async () => true,
        },
        requests: failingClaim(
          new RequestsStore({ client, tableName: requestsTable }),
          failClaimOf,
        ),
        reads: new ReadsStore({ client, tableName: readsTable }),
        runner: {
          check: async () => {},
          isSafeToRepeat: () => true,
          timeoutsOf: () => ({ connectionTimeoutMs: 1_000, requestTimeoutMs: 5_000 }),
          outcomeCheckOf: () => undefined,
          readBack: async () => {
            throw new Error('reads are safe to repeat: never read back');
          },
          run: async (request) => {
            calls.push(request.id);
            const held = gates.get(request.id);
            if (held !== undefined) {
              held.enter();
              await held.opened;
            }
            if (request.call.service === 'ec2') return { Reservations: [] };
            return String(request.call.input.ServiceCode).startsWith('big') ? BIG_QUOTAS : QUOTAS;
          },
        },
        queue: {
          sendAll: async (messages) => {
            sent.push(...messages);
            return new Map();
          },
        },
        replies: { sendAll: async () => new Map() },
        outputs: new OutputStore({ s3, bucketName: outputsBucket }),
      });
    };
    const results = new RequestsStore({
      client: dynamoClient(engine.endpoint),
      tableName: requestsTable,
    });
    return {
      calls,
      sent,
      counted,
      dispatcher,
      /** Holds the provider call of request `id` open until `open()`. */
      hold(id: string): Gate {
        const held = gate();
        gates.set(id, held);
        return held;
      },
      async result(id: string, producer = 'default'): Promise<SluiceResult | undefined> {
        const state = await results.get(requestKey(producer, id));
        return state.status === 'finished' ? state.result : undefined;
      },
      /** The message a re-sent request arrives as, on the scheduled queue (or its own). */
      redelivered(id: string): IncomingMessage {
        const out = [...sent].reverse().find((m) => JSON.parse(m.body).id === id);
        if (out === undefined) throw new Error(`${id} was not re-sent`);
        return {
          messageId: `again-${id}-${sent.indexOf(out)}`,
          body: out.body,
          attributes: out.attributes ?? {},
          sentAtMs: now,
          queueName: out.queueUrl.slice(out.queueUrl.lastIndexOf('/') + 1),
        };
      },
    };
  }

  /** A fresh request id for this run: every test's reads are its own. */
  const id = (name: string) => `${name}-${run}`;

  /**
   * A request message for `ListServiceQuotas` of `serviceCode`, sent at `sentAtMs` by `producer`
   * (on its queue).
   */
  function quotas(
    name: string,
    sentAtMs: number,
    serviceCode = `svc${run}`,
    producer = 'default',
  ): IncomingMessage {
    return message(
      id(name),
      sentAtMs,
      {
        service: 'service-quotas',
        operation: 'ListServiceQuotas',
        input: { ServiceCode: serviceCode },
      },
      producer,
    );
  }

  function message(
    requestId: string,
    sentAtMs: number,
    call: SluiceRequest['call'],
    producer = 'default',
  ): IncomingMessage {
    const body: SluiceRequest = {
      v: 1,
      id: requestId,
      target: { account: ACCOUNT, region: 'us-east-1' },
      call,
    };
    return {
      messageId: `m-${producer}-${requestId}`,
      body: JSON.stringify(body),
      attributes: {},
      sentAtMs,
      queueName: `q-${producer}`,
    };
  }

  function fresh() {
    run++;
    now = T0 + run * 10_000_000;
  }

  it('identical reads from two dispatchers share one provider call: one token, the others coalesced', async () => {
    fresh();
    const t = fleet();
    const sentAt = now;
    const a = t.dispatcher();
    const b = t.dispatcher();
    const held = t.hold(id('lead'));
    now += 100;
    const first = a.processBatch([quotas('lead', sentAt), quotas('same-batch', sentAt)], 'a');
    await held.entered;
    // While a's call is out, b sees the read held: its requests wait, no call, no admission.
    await b.processBatch([quotas('other-1', sentAt), quotas('other-2', sentAt)], 'b');
    expect(t.sent.map((m) => [JSON.parse(m.body).id, m.queueUrl, m.delaySeconds])).toEqual([
      [id('other-1'), SCHEDULED, 1],
      [id('other-2'), SCHEDULED, 1],
    ]);
    expect(t.sent[0]?.attributes).toEqual({
      [ENVELOPE.producer]: 'default',
      [ENVELOPE.firstSeen]: String(sentAt),
      [ENVELOPE.follows]: '1',
    });
    held.open();
    await first;
    now += 1_000;
    await b.processBatch([t.redelivered(id('other-1')), t.redelivered(id('other-2'))], 'b');

    expect(t.calls).toEqual([id('lead')]);
    expect(await t.result(id('lead'))).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      output: QUOTAS,
    });
    for (const name of ['same-batch', 'other-1', 'other-2']) {
      const result = await t.result(id(name));
      expect(result).toMatchObject({
        status: 'succeeded',
        attempts: 0,
        coalesced: true,
        output: QUOTAS,
      });
      expect(result).not.toHaveProperty('cachedAt');
    }
    expect(t.counted.get(METRICS.AdmittedCalls)).toBe(1);
    expect(t.counted.get(METRICS.CoalescedCalls)).toBe(3);
  });

  it('never hands a request an answer older than itself: one sent after the shared call started leads the next call', async () => {
    fresh();
    const t = fleet();
    const a = t.dispatcher();
    const held = t.hold(id('early'));
    const first = a.processBatch([quotas('early', now)], 'a');
    await held.entered;
    now += 500;
    await a.processBatch([quotas('late', now)], 'a2');
    held.open();
    await first;
    now += 1_000;
    await a.processBatch([t.redelivered(id('late'))], 'a3');

    expect(t.calls).toEqual([id('early'), id('late')]);
    expect(await t.result(id('late'))).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await t.result(id('late'))).not.toHaveProperty('coalesced');
  });

  it('serves a cached output without a call or a token until cacheSeconds pass, then calls again', async () => {
    fresh();
    const t = fleet({
      reads: {
        cache: [{ service: 'service-quotas', operations: ['List*'], cacheSeconds: 300 }],
      },
    });
    const d = t.dispatcher();
    const firstCallAt = now;
    await d.processBatch([quotas('fill', now)], 'd');
    now += 60_000;
    await d.processBatch([quotas('hit', now)], 'd');
    now = firstCallAt + 300_000;
    await d.processBatch([quotas('expired', now)], 'd');

    expect(t.calls).toEqual([id('fill'), id('expired')]);
    expect(await t.result(id('hit'))).toMatchObject({
      status: 'succeeded',
      attempts: 0,
      cachedAt: firstCallAt,
      output: QUOTAS,
    });
    expect(await t.result(id('hit'))).not.toHaveProperty('coalesced');
    expect(t.counted.get(METRICS.CachedCalls)).toBe(1);
    expect(t.counted.get(METRICS.AdmittedCalls)).toBe(2);
  });

  it('after a leader crash mid-call: a follower takes over once the lease lapses, and the crashed request is answered from that call', async () => {
    fresh();
    const t = fleet();
    const sentAt = now;
    // The leader's invocation dies in the call: it never answers and never ends the read.
    const crash = t.hold(id('crashed'));
    void t.dispatcher().processBatch([quotas('crashed', sentAt)], 'dead');
    await crash.entered;
    const survivor = t.dispatcher();
    now += 200;
    await survivor.processBatch([quotas('waiting', sentAt)], 'alive');
    expect(t.calls).toEqual([id('crashed')]);

    // Within the lease it keeps waiting, on a widening schedule.
    now += 1_000;
    await survivor.processBatch([t.redelivered(id('waiting'))], 'alive');
    expect(t.sent.at(-1)).toMatchObject({
      delaySeconds: 2,
      attributes: { [ENVELOPE.follows]: '2' },
    });
    expect(t.calls).toEqual([id('crashed')]);

    // The lease lapses: the follower leads and makes the call.
    now = sentAt + LEASE_MS + 1;
    await survivor.processBatch([t.redelivered(id('waiting'))], 'alive');
    expect(t.calls).toEqual([id('crashed'), id('waiting')]);
    expect(await t.result(id('waiting'))).toMatchObject({ status: 'succeeded', attempts: 1 });

    // SQS delivers the crashed request again: answered from the takeover's call, no third call.
    now += 10_000;
    await survivor.processBatch([quotas('crashed', sentAt)], 'alive');
    expect(t.calls).toHaveLength(2);
    expect(await t.result(id('crashed'))).toMatchObject({
      status: 'succeeded',
      attempts: 0,
      coalesced: true,
      output: QUOTAS,
    });
  });

  it("takes a dead leader's read over once its call's timeout and a margin have passed, long before the deployment's lease", async () => {
    fresh();
    const t = fleet();
    const sentAt = now;
    const crash = t.hold(id('dead'));
    void t.dispatcher().processBatch([quotas('dead', sentAt)], 'dead');
    await crash.entered;
    const survivor = t.dispatcher();
    await survivor.processBatch([quotas('patient', sentAt)], 'alive');
    expect(t.calls).toEqual([id('dead')]);

    // The read lease: the call's 5 s timeout and READ_LEASE_MARGIN_MS, not LEASE_MS (120 s).
    // Until it ends the follower waits …
    now = sentAt + 5_000 + READ_LEASE_MARGIN_MS - 1;
    await survivor.processBatch([t.redelivered(id('patient'))], 'alive');
    expect(t.calls).toEqual([id('dead')]);
    // … and then leads.
    now = sentAt + 5_000 + READ_LEASE_MARGIN_MS + 1;
    expect(now - sentAt).toBeLessThan(LEASE_MS);
    await survivor.processBatch([t.redelivered(id('patient'))], 'alive');
    expect(t.calls).toEqual([id('dead'), id('patient')]);
  });

  it('holds the read for a leader re-queued to a later slot: followers wait for it past the read lease, and it calls at its slot', async () => {
    fresh();
    const t = fleet({}, undefined, 60_000);
    const sentAt = now;
    const leader = t.dispatcher();
    await leader.processBatch([quotas('ahead', sentAt)], 'first');
    expect(t.calls).toEqual([]);
    expect(t.sent.at(-1)?.attributes?.[ENVELOPE.runAt]).toBeDefined();

    // Past the read lease of a leader running now, but before its slot: still its read.
    now = sentAt + 5_000 + READ_LEASE_MARGIN_MS + 5_000;
    await t.dispatcher().processBatch([quotas('behind', sentAt)], 'second');
    expect(t.calls).toEqual([]);
    expect(t.sent.at(-1)?.attributes?.[ENVELOPE.follows]).toBe('1');

    // At its slot the leader is back, claims again and calls.
    now = sentAt + 60_000;
    await leader.processBatch([t.redelivered(id('ahead'))], 'first');
    expect(t.calls).toEqual([id('ahead')]);
  });

  it('lets go of the read when a crashed leader is delivered again while its request is still held: a follower leads at once', async () => {
    fresh();
    const t = fleet();
    const sentAt = now;
    const crash = t.hold(id('crashed-again'));
    void t.dispatcher().processBatch([quotas('crashed-again', sentAt)], 'dead');
    await crash.entered;
    const survivor = t.dispatcher();
    now += 200;
    await survivor.processBatch([quotas('follower', sentAt)], 'alive');
    expect(t.calls).toEqual([id('crashed-again')]);
    // Its message comes back (visibility timeout) while the dead attempt's lease still holds
    // the request: it cannot run, and it lets the read go rather than renew it.
    now += 1_000;
    await survivor.processBatch([quotas('crashed-again', sentAt)], 'alive');
    expect(t.calls).toHaveLength(1);
    // The follower, next time it looks, leads and calls: it does not wait out the lease.
    now += 2_000;
    await survivor.processBatch([t.redelivered(id('follower'))], 'alive');
    expect(t.calls).toEqual([id('crashed-again'), id('follower')]);
    expect(now).toBeLessThan(sentAt + LEASE_MS);
  });

  it("lets go of the read when the leader's own storage fails: the next request leads at once", async () => {
    fresh();
    const t = fleet({}, id('doomed'));
    const d = t.dispatcher();
    const failed = await d.processBatch([quotas('doomed', now), quotas('behind', now)], 'd');
    expect(failed.failedMessageIds).toEqual([`m-default-${id('doomed')}`]);
    // The one behind it waited in the batch, then went to look again a second later.
    expect(t.sent.map((m) => [JSON.parse(m.body).id, m.delaySeconds])).toEqual([[id('behind'), 1]]);
    now += 1_000;
    await d.processBatch([t.redelivered(id('behind'))], 'd');

    expect(t.calls).toEqual([id('behind')]);
    expect(await t.result(id('behind'))).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('answers a re-used id with IdConflict, never with the output of the read it now names', async () => {
    fresh();
    const t = fleet();
    const d = t.dispatcher();
    const sentAt = now;
    await d.processBatch([quotas('reused', sentAt, `first${run}`)], 'd');
    const first = await t.result(id('reused'));
    await d.processBatch([quotas('other', sentAt, `second${run}`)], 'd');
    // The same id again, for the second read: its output is there to share, but not for this id.
    await d.processBatch(
      [{ ...quotas('reused', sentAt, `second${run}`), messageId: 'again' }],
      'd',
    );

    expect(t.calls).toEqual([id('reused'), id('other')]);
    expect(await t.result(id('reused'))).toEqual(first);
    expect(t.sent.map((m) => [m.queueUrl, m.attributes?.[ENVELOPE.reason]])).toEqual([
      ['q-dlq', 'IdConflict'],
    ]);
  });

  it('shares a read across producers each allowed it, and rejects a producer that is not, never answering it from the shared call', async () => {
    fresh();
    const quotasIn = (regions: string[]) => [
      {
        accounts: [ACCOUNT],
        regions,
        service: 'service-quotas',
        operations: ['ListServiceQuotas'],
      },
    ];
    const t = fleet({
      producers: [
        { name: 'planner', allow: quotasIn(['us-east-1']) },
        { name: 'reporting', allow: quotasIn(['us-east-1', 'eu-west-1']) },
        { name: 'europe', allow: quotasIn(['eu-west-1']) },
      ],
    });
    const d = t.dispatcher();
    const sentAt = now;
    const held = t.hold(id('p'));
    const first = d.processBatch([quotas('p', sentAt, undefined, 'planner')], 'd');
    await held.entered;
    await d.processBatch(
      [quotas('r', sentAt, undefined, 'reporting'), quotas('e', sentAt, undefined, 'europe')],
      'd2',
    );
    held.open();
    await first;
    now += 1_000;
    await d.processBatch([t.redelivered(id('r'))], 'd3');

    expect(t.calls).toEqual([id('p')]);
    expect(await t.result(id('r'), 'reporting')).toMatchObject({
      status: 'succeeded',
      coalesced: true,
      output: QUOTAS,
    });
    expect(await t.result(id('e'), 'europe')).toMatchObject({
      status: 'rejected',
      error: { problems: [{ field: 'target.region', rule: 'not-allowed' }] },
    });
  });

  it('never shares an output too large for a result: the leader stores it in S3, every other request makes its own call', async () => {
    fresh();
    const t = fleet();
    const d = t.dispatcher();
    const big = `big${run}`;
    await d.processBatch([quotas('big-lead', now, big), quotas('big-same-batch', now, big)], 'd');
    // The one in the batch waited for the leader, which had nothing to share: it looks again.
    expect(t.sent.map((m) => JSON.parse(m.body).id)).toEqual([id('big-same-batch')]);
    now += 1_000;
    await d.processBatch([t.redelivered(id('big-same-batch')), quotas('big-later', now, big)], 'd');

    // Each made its own call; the last two ran in one batch, in either order.
    expect(t.calls[0]).toBe(id('big-lead'));
    expect([...t.calls].sort()).toEqual(
      [id('big-lead'), id('big-same-batch'), id('big-later')].sort(),
    );
    for (const name of ['big-lead', 'big-same-batch', 'big-later']) {
      const result = await t.result(id(name));
      expect(result).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(result).not.toHaveProperty('coalesced');
      expect(result).not.toHaveProperty('output');
      // Each in its own producer's place in S3, never another request's object.
      if (result?.status !== 'succeeded' || result.outputRef === undefined) {
        throw new Error(`${name} has no outputRef`);
      }
      expect(result.outputRef.key).toBe(`outputs/default/${id(name)}/1.json`);
      expect(await fetchOutput(s3, result.outputRef)).toEqual(BIG_QUOTAS);
    }
    expect(t.counted.get(METRICS.CoalescedCalls)).toBeUndefined();
  });

  it('never shares a mutating call or a DryRun, however identical', async () => {
    fresh();
    const t = fleet();
    const d = t.dispatcher();
    const launch = { ImageId: 'ami-1', MinCount: 1, MaxCount: 1 };
    await d.processBatch(
      [
        message(id('run-1'), now, { service: 'ec2', operation: 'RunInstances', input: launch }),
        message(id('run-2'), now, { service: 'ec2', operation: 'RunInstances', input: launch }),
        message(id('dry-1'), now, {
          service: 'ec2',
          operation: 'DescribeInstances',
          input: { DryRun: true },
        }),
        message(id('dry-2'), now, {
          service: 'ec2',
          operation: 'DescribeInstances',
          input: { DryRun: true },
        }),
      ],
      'd',
    );

    expect([...t.calls].sort()).toEqual([id('dry-1'), id('dry-2'), id('run-1'), id('run-2')]);
    expect(t.counted.get(METRICS.CoalescedCalls)).toBeUndefined();
  });
});
