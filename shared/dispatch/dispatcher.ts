/**
 * The whole life of a batch of request messages: validate → admit (one conditional write per
 * bucket group) → claim → run → classify → record, and re-queue with an SQS delay whatever has
 * to wait. Clients and the clock are passed in; the Lambda handler and the local runtime only
 * wire them (DESIGN.md, "The flow").
 *
 * A message ends in exactly one of three ways: acknowledged with its request finished or handed
 * on (re-sent with a delay, dead-lettered); or reported as failed, so SQS delivers it again after
 * the visibility timeout — only when the coordinator's own storage or queues failed. Poison
 * messages are answered (`rejected`) and acknowledged: they never block the batch, never retry.
 */
import pLimit from 'p-limit';
import type { AdmissionDecision, BucketStore } from '../admission/bucket-store.js';
import { groupByBuckets } from '../admission/groups.js';
import { queueNameOf } from '../aws/sqs-url.js';
import { type DeploymentConfig, disallowedReason, replyToAllowed } from '../config/deployment.js';
import { METRICS } from '../contract/metrics.js';
import type { Problem } from '../contract/problems.js';
import {
  deadlineMs,
  effectiveMaxAttempts,
  effectivePriority,
  type Priority,
  parseRequest,
  type SluiceRequest,
} from '../contract/request.js';
import {
  ERROR_CODES,
  failedResult,
  rejectedResult,
  type SluiceResult,
  succeededResult,
} from '../contract/result.js';
import { InvalidCostError, type LimitsCatalog, LimitsError } from '../limits/index.js';
import type { BucketDraw } from '../limits/types.js';
import type { RequestsStore } from '../requests/requests-store.js';
import { sleep } from '../util/sleep.js';
import { type CallRunner, UnsupportedCallError } from './call-runner.js';
import { type CallFailure, classifyCallError } from './classify.js';
import type { OutgoingMessage, QueueSender } from './queue-sender.js';

/** A message as received from a request queue (Lambda's SQS record, or the local poller's). */
export interface IncomingMessage {
  readonly messageId: string;
  readonly body: string;
  /** String message attributes (Sluice's envelope on re-sent messages). */
  readonly attributes: Readonly<Record<string, string>>;
  /** When the message was first sent (SQS `SentTimestamp`), epoch ms. */
  readonly sentAtMs: number;
  /** Name of the queue it came from (the event source ARN's last part), if known. */
  readonly queueName?: string;
}

/** Message attributes Sluice puts on the messages it re-sends. */
export const ENVELOPE = {
  /**
   * A reservation: the slot (epoch ms) this message was admitted for; it runs on arrival.
   * Honoured only on the scheduled queue, which producers cannot send to.
   */
  runAt: 'sluice-run-at',
  /** A wait longer than SQS's 900 s delay: re-send again until this time (epoch ms). */
  notBefore: 'sluice-not-before',
  /** When the request was first received (epoch ms): the start of its longest wait. */
  firstSeen: 'sluice-first-seen',
  /** On dead letters and replies: why. */
  reason: 'sluice-reason',
} as const;

/** Counters and log lines the dispatcher emits; the handler maps them to Powertools. */
export interface Telemetry {
  count(metric: string, value: number, dimensions: Readonly<Record<string, string>>): void;
  info(message: string, fields: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields: Readonly<Record<string, unknown>>): void;
}

/** Everything the dispatcher works with. */
export interface DispatcherDeps {
  readonly deployment: DeploymentConfig;
  /** Request queues by priority: fresh requests and re-queued ones that need admission. */
  readonly queueUrls: Readonly<Record<Priority, string>>;
  /**
   * Admitted calls waiting for their slot. Only the dispatcher sends here, so a reservation on a
   * request queue (a producer's forgery) is ignored; and reservations never wait behind a
   * backlog of requests that are still to be admitted.
   */
  readonly scheduledQueueUrl: string;
  readonly dlqUrl: string;
  readonly catalog: LimitsCatalog;
  readonly buckets: Pick<BucketStore, 'admit' | 'penalize'>;
  readonly requests: Pick<RequestsStore, 'claim' | 'release' | 'finishClaimed' | 'finishOpen'>;
  readonly runner: Pick<CallRunner, 'check' | 'run' | 'isSafeToRepeat'>;
  readonly queue: Pick<QueueSender, 'sendAll'>;
  readonly telemetry?: Telemetry;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
  /** [0, 1). @default Math.random */
  readonly random?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What became of a batch: the messages SQS must deliver again. */
export interface BatchOutcome {
  readonly failedMessageIds: readonly string[];
}

/**
 * Admitted calls this close to their slot wait in-process instead of a 1 s-granular SQS delay.
 * It covers the early arrival below plus SQS's one-second delay granularity.
 */
const RUN_IN_PROCESS_MS = 2_000;
/**
 * A call admitted this close to its slot runs in the invocation that admitted it; a later one
 * goes to the scheduled queue (which waits out its slot), so admitting a backlog never waits
 * on slots.
 */
const RUN_AFTER_ADMISSION_MS = 250;
/**
 * A reservation's message is delayed to arrive this much (up to a second more) before its slot
 * and waits out the rest in-process: a call that runs late lets the provider's bucket sit full
 * and lose refill, and the calls after it then meet an empty one.
 */
const RESERVATION_LEAD_MS = 500;
const MAX_DELAY_SECONDS = 900;
const TRANSIENT_BASE_MS = 1_000;
const TRANSIENT_CAP_MS = 300_000;
const THROTTLE_MIN_PENALTY_MS = 1_000;

interface Work {
  readonly message: IncomingMessage;
  readonly request: SluiceRequest;
  readonly draws: readonly BucketDraw[];
  readonly firstSeenMs: number;
  /** The slot of a reservation from the scheduled queue. */
  readonly runAtMs?: number;
}

const silent: Telemetry = { count: () => {}, info: () => {}, warn: () => {} };

/**
 * Processes batches of request messages.
 *
 * @example
 * const dispatcher = new Dispatcher({ deployment, queueUrls, scheduledQueueUrl, dlqUrl, catalog, buckets, requests, runner, queue });
 * const { failedMessageIds } = await dispatcher.processBatch(messages);
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #telemetry: Telemetry;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #scheduledQueueName: string;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#scheduledQueueName = queueNameOf(deps.scheduledQueueUrl);
    this.#telemetry = deps.telemetry ?? silent;
    this.#clock = deps.clock ?? Date.now;
    this.#random = deps.random ?? Math.random;
    this.#sleep = deps.sleep ?? sleep;
  }

  /** Processes one batch. `owner` names the lease holder (e.g. the Lambda request id). */
  async processBatch(messages: readonly IncomingMessage[], owner: string): Promise<BatchOutcome> {
    const failed = new Set<string>();
    const outgoing: OutgoingMessage[] = [];
    let sequence = 0;
    /** Messages acknowledged only if their outgoing messages are sent. */
    const guard = (message: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => {
      outgoing.push({ ...out, key: `${message.messageId}#${sequence++}` });
    };
    const safely = async (message: IncomingMessage, step: () => Promise<void>) => {
      try {
        await step();
      } catch (error) {
        // Our own storage or queue failed: let SQS deliver the message again.
        failed.add(message.messageId);
        this.#telemetry.warn('message left for redelivery', {
          messageId: message.messageId,
          error: (error as Error).name,
          detail: (error as Error).message,
        });
      }
    };

    const toAdmit: Work[] = [];
    const toRun: { work: Work; runAtMs: number }[] = [];
    await Promise.all(
      messages.map((message) =>
        safely(message, async () => {
          const work = await this.#accept(message, guard);
          if (work === undefined) return;
          if (work.runAtMs !== undefined) toRun.push({ work, runAtMs: work.runAtMs });
          else toAdmit.push(work);
        }),
      ),
    );

    // Higher priorities first: within a bucket group, the admitted prefix goes to them.
    const rank: Record<Priority, number> = { high: 0, normal: 1, low: 2 };
    toAdmit.sort((a, b) => rank[effectivePriority(a.request)] - rank[effectivePriority(b.request)]);
    await Promise.all(
      groupByBuckets(toAdmit.map((w) => w.draws)).map(async (group) => {
        const members = group.members.map((i) => toAdmit[i] as Work);
        try {
          const outcome = await this.#deps.buckets.admit(group.buckets, group.costs);
          const first = group.buckets[0];
          const dims = {
            Service: first?.ref.service ?? '',
            Bucket: first?.ref.bucket ?? '',
            Region: first?.ref.region ?? '',
          };
          this.#telemetry.count(METRICS.AdmissionWrites, outcome.requests.writes, {
            Service: dims.Service,
            Region: dims.Region,
          });
          await Promise.all(
            outcome.decisions.map((decision, i) =>
              safely((members[i] as Work).message, () =>
                this.#afterAdmission(members[i] as Work, decision, dims, guard, toRun),
              ),
            ),
          );
        } catch (error) {
          for (const w of members) failed.add(w.message.messageId);
          this.#telemetry.warn('admission failed; messages left for redelivery', {
            error: (error as Error).name,
          });
        }
      }),
    );

    // Re-queued messages leave now, alongside the due calls, not after them: their delays
    // count from now.
    const requeued = this.#flush(outgoing, failed);
    const limit = pLimit(this.#deps.deployment.maxConcurrentCalls);
    await Promise.all([
      requeued,
      ...toRun.map(({ work, runAtMs }) =>
        limit(() => safely(work.message, () => this.#runOne(work, runAtMs, owner, guard))),
      ),
    ]);
    await this.#flush(outgoing, failed);
    return { failedMessageIds: [...failed] };
  }

  /** Sends what is pending; a message whose outgoing messages did not all go is failed. */
  async #flush(outgoing: OutgoingMessage[], failed: Set<string>): Promise<void> {
    const pending = outgoing.splice(0, outgoing.length);
    if (pending.length === 0) return;
    const unsent = await this.#deps.queue.sendAll(pending);
    for (const key of unsent.keys()) failed.add(key.slice(0, key.lastIndexOf('#')));
  }

  /** Validates a message and resolves its buckets; answers the ones that cannot go on. */
  async #accept(
    message: IncomingMessage,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
  ): Promise<Work | undefined> {
    const now = this.#clock();
    const firstSeenMs = Number(message.attributes[ENVELOPE.firstSeen]) || message.sentAtMs || now;
    const parsed = parseRequest(message.body);
    if (!parsed.ok) {
      await this.#reject(message, parsed.problems, send);
      return undefined;
    }
    const request = parsed.request;
    const { deployment } = this.#deps;
    const problems: Problem[] = [];
    const disallowed = disallowedReason(deployment, request.target, request.call);
    if (disallowed) problems.push(disallowed);
    if (request.replyTo !== undefined && !replyToAllowed(deployment, request.replyTo)) {
      problems.push({
        field: 'replyTo',
        rule: 'not-allowed',
        message: 'replyTo: is not one of the reply queues this deployment allows (not-allowed)',
      });
    }
    let draws: BucketDraw[] = [];
    if (problems.length === 0) {
      try {
        await this.#deps.runner.check(request.call);
        draws = this.#deps.catalog.drawsFor(request.target, request.call);
      } catch (error) {
        if (error instanceof UnsupportedCallError) {
          problems.push({
            field: error.field,
            rule: 'unsupported',
            message: `${error.field}: ${error.message} (unsupported)`,
          });
        } else if (error instanceof InvalidCostError) {
          problems.push({
            field: `call.input.${error.field}`,
            rule: 'cost',
            message: error.message,
          });
        } else if (error instanceof LimitsError) {
          problems.push({
            field: 'call.service',
            rule: 'no-limits',
            message: `call.service: ${error.message} (no-limits)`,
          });
        } else {
          throw error;
        }
      }
    }
    if (problems.length > 0) {
      await this.#reject(message, problems, send, request);
      return undefined;
    }

    const runAtMs = this.#reservationOf(message);
    const work: Work = {
      message,
      request,
      draws,
      firstSeenMs,
      ...(runAtMs === undefined ? {} : { runAtMs }),
    };
    const deadline = Math.min(
      deadlineMs(request) ?? Number.POSITIVE_INFINITY,
      firstSeenMs + deployment.maxWaitMs,
    );
    if (now > deadline) {
      await this.#finishUnclaimed(
        work,
        ERROR_CODES.deadlineExceeded,
        'the request deadline passed before the call could run',
        send,
      );
      return undefined;
    }
    const notBefore = Number(message.attributes[ENVELOPE.notBefore]);
    if (Number.isFinite(notBefore) && notBefore > now + RUN_IN_PROCESS_MS) {
      this.#requeue(work, notBefore, send, work.runAtMs);
      return undefined;
    }
    return work;
  }

  /** The slot a message was admitted for, if it is a reservation from the scheduled queue. */
  #reservationOf(message: IncomingMessage): number | undefined {
    const raw = message.attributes[ENVELOPE.runAt];
    if (raw === undefined) return undefined;
    if (message.queueName !== this.#scheduledQueueName) {
      // Only the dispatcher sends to the scheduled queue: elsewhere this skips admission.
      this.#telemetry.warn('reservation ignored: not from the scheduled queue; admitting', {
        messageId: message.messageId,
        queue: message.queueName,
      });
      return undefined;
    }
    const runAtMs = Number(raw);
    return Number.isFinite(runAtMs) && runAtMs > 0 ? runAtMs : undefined;
  }

  async #afterAdmission(
    work: Work,
    decision: AdmissionDecision,
    dims: Readonly<Record<string, string>>,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
    toRun: { work: Work; runAtMs: number }[],
  ): Promise<void> {
    const now = this.#clock();
    if (decision.kind === 'admitted') {
      this.#telemetry.count(METRICS.AdmittedCalls, 1, dims);
      if (decision.runAtMs <= now + RUN_AFTER_ADMISSION_MS)
        toRun.push({ work, runAtMs: decision.runAtMs });
      // A reservation: delayed to its slot, it runs on arrival without touching the buckets.
      else this.#requeue(work, decision.runAtMs, send, decision.runAtMs);
    } else if (decision.kind === 'not-yet') {
      this.#telemetry.count(METRICS.NotAdmitted, 1, dims);
      this.#requeue(work, decision.retryAtMs, send);
    } else {
      await this.#finishUnclaimed(
        work,
        ERROR_CODES.neverFits,
        `the call costs ${decision.cost} tokens of bucket ${decision.bucket.bucket}, which holds ${decision.burst}`,
        send,
      );
    }
  }

  async #runOne(
    work: Work,
    runAtMs: number,
    owner: string,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
  ): Promise<void> {
    const { request } = work;
    const { deployment } = this.#deps;
    if (runAtMs - this.#clock() > RUN_IN_PROCESS_MS) {
      this.#requeue(work, runAtMs, send, runAtMs);
      return;
    }
    // Claim first, then wait out the rest of the slot: the call leaves on time.
    const claim = await this.#deps.requests.claim(
      request.id,
      owner,
      this.#clock(),
      deployment.leaseMs,
      work.firstSeenMs,
    );
    if (claim.claimed) {
      const early = runAtMs - this.#clock();
      if (early > 0) await this.#sleep(early);
    }
    const startedAt = this.#clock();
    if (!claim.claimed) {
      const { state } = claim;
      if (state.status === 'finished') {
        // A duplicate of a finished request: answer with the stored result, run nothing.
        this.#reply(work, state.result, send);
      } else if (state.status === 'running') {
        this.#requeue(work, state.leaseUntil + 1_000, send, state.leaseUntil + 1_000);
      } else {
        this.#requeue(work, startedAt + 1_000, send, startedAt + 1_000);
      }
      return;
    }
    const timings = { receivedAt: claim.receivedAt, startedAt };
    if (claim.tookOverLapsedLease && !this.#deps.runner.isSafeToRepeat(request.call)) {
      const result = failedResult(
        request.id,
        claim.attempts - 1,
        {
          code: ERROR_CODES.outcomeUnknown,
          message:
            'a previous attempt was interrupted mid-call and the operation is not safe to repeat',
        },
        { ...timings, finishedAt: startedAt },
      );
      await this.#finish(work, owner, result, send, 'outcome unknown');
      return;
    }

    let output: Record<string, unknown> | undefined;
    let failure: CallFailure | undefined;
    try {
      output = await this.#deps.runner.run(request);
    } catch (error) {
      failure =
        error instanceof UnsupportedCallError
          ? { kind: 'permanent', code: 'UnsupportedCall', message: error.message }
          : classifyCallError(error, this.#clock());
    }
    const finishedAt = this.#clock();
    const service = request.call.service;
    this.#telemetry.count(METRICS.CallDurationMs, finishedAt - startedAt, {
      Service: service,
      Region: request.target.region,
    });

    if (output !== undefined) {
      await this.#finish(
        work,
        owner,
        succeededResult(request.id, claim.attempts, output, { ...timings, finishedAt }),
        send,
      );
      return;
    }
    if (failure === undefined || failure.kind === 'permanent') {
      const error = failure ?? {
        code: 'UnknownError',
        message: 'the call failed without an error',
      };
      await this.#finish(
        work,
        owner,
        failedResult(
          request.id,
          claim.attempts,
          { code: error.code, message: error.message },
          { ...timings, finishedAt },
        ),
        send,
      );
      return;
    }

    let retryAtMs: number;
    if (failure.kind === 'throttled') {
      const bucket = work.draws[0];
      const penaltyMs =
        failure.retryAfterMs ??
        Math.max(THROTTLE_MIN_PENALTY_MS, bucket ? 1_000 / bucket.limit.rate : 0);
      retryAtMs = finishedAt + penaltyMs;
      if (bucket !== undefined) {
        this.#telemetry.count(METRICS.ProviderThrottles, 1, {
          Service: service,
          Bucket: bucket.ref.bucket,
          Region: bucket.ref.region,
        });
        await this.#deps.buckets.penalize({ ref: bucket.ref, limit: bucket.limit }, retryAtMs);
      }
    } else {
      // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
      const ceiling = Math.min(TRANSIENT_CAP_MS, TRANSIENT_BASE_MS * 2 ** (claim.attempts - 1));
      retryAtMs = finishedAt + Math.max(TRANSIENT_BASE_MS, Math.round(this.#random() * ceiling));
    }
    const deadline = Math.min(
      deadlineMs(request) ?? Number.POSITIVE_INFINITY,
      work.firstSeenMs + deployment.maxWaitMs,
    );
    if (claim.attempts >= effectiveMaxAttempts(request) || retryAtMs > deadline) {
      const exhausted = claim.attempts >= effectiveMaxAttempts(request);
      const result = failedResult(
        request.id,
        claim.attempts,
        {
          code: exhausted ? ERROR_CODES.attemptsExhausted : ERROR_CODES.deadlineExceeded,
          message: `${exhausted ? `all ${claim.attempts} attempts used` : 'the deadline passes before the next attempt'}; last error ${failure.code}: ${failure.message}`,
        },
        { ...timings, finishedAt },
      );
      await this.#finish(work, owner, result, send, result.error.code);
      return;
    }
    await this.#deps.requests.release(request.id, owner, finishedAt);
    // Not a reservation: after a throttle or an error the call goes through admission again.
    this.#requeue(work, retryAtMs, send);
  }

  /** Records a claimed request's result, dead-letters it when it failed for good, replies. */
  async #finish(
    work: Work,
    owner: string,
    result: SluiceResult,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
    deadLetterReason?: string,
  ): Promise<void> {
    // The dead letter goes first: if the record were written first and the send then failed,
    // the redelivered message would find the request finished and the dead letter would be lost.
    if (deadLetterReason !== undefined) await this.#deadLetter(work.message, deadLetterReason);
    const recorded = await this.#deps.requests.finishClaimed(
      work.request.id,
      owner,
      result,
      this.#clock(),
    );
    if (!recorded) {
      this.#telemetry.warn('lease lost before the result was recorded', { id: work.request.id });
      return;
    }
    this.#announce(work, result, send);
  }

  /** Fails a request nobody holds (deadline passed, never fits): record, dead-letter, reply. */
  async #finishUnclaimed(
    work: Work,
    code: string,
    message: string,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
  ): Promise<void> {
    const now = this.#clock();
    const result = failedResult(
      work.request.id,
      0,
      { code, message },
      { receivedAt: work.firstSeenMs, finishedAt: now },
    );
    await this.#deadLetter(work.message, code);
    if (await this.#deps.requests.finishOpen(work.request.id, result, now, work.firstSeenMs)) {
      this.#announce(work, result, send);
    }
  }

  /** A request ended: count it by status and send the result to its reply queue. */
  #announce(
    work: Work,
    result: SluiceResult,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
  ): void {
    this.#telemetry.count(METRICS.Results, 1, {
      Service: work.request.call.service,
      Status: result.status,
    });
    this.#reply(work, result, send);
  }

  /** Answers a message that broke the contract; it is acknowledged and never retried. */
  async #reject(
    message: IncomingMessage,
    problems: readonly Problem[],
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
    request?: SluiceRequest,
  ): Promise<void> {
    const now = this.#clock();
    const id = request?.id ?? usableId(message.body);
    const result = rejectedResult(id, problems, now);
    this.#telemetry.count(METRICS.Rejected, 1, {});
    // Fields and rules only: never the body, which may hold secrets.
    this.#telemetry.info('message rejected', {
      messageId: message.messageId,
      id,
      problems: problems.slice(0, 10).map((p) => `${p.field}:${p.rule}`),
    });
    if (id === undefined) {
      // Nowhere to record it by id: the dead-letter queue keeps it, with the reason.
      await this.#deadLetter(message, result.error.message);
      return;
    }
    if (await this.#deps.requests.finishOpen(id, result, now, now)) {
      const replyTo = request?.replyTo;
      if (replyTo !== undefined && replyToAllowed(this.#deps.deployment, replyTo)) {
        send(message, { queueUrl: replyTo, body: JSON.stringify(result) });
      }
    }
  }

  #reply(
    work: Work,
    result: SluiceResult,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
  ) {
    const replyTo = work.request.replyTo;
    if (replyTo !== undefined && replyToAllowed(this.#deps.deployment, replyTo)) {
      send(work.message, { queueUrl: replyTo, body: JSON.stringify(result) });
    }
  }

  /**
   * Re-sends the request, delayed until `atMs` (waits past 900 s are chained): a reservation for
   * slot `runAt` to the scheduled queue, anything else to its priority's queue for admission.
   */
  #requeue(
    work: Work,
    atMs: number,
    send: (m: IncomingMessage, out: Omit<OutgoingMessage, 'key'>) => void,
    runAt?: number,
  ): void {
    const waitMs = Math.max(0, atMs - this.#clock());
    // A reservation arrives early and waits in-process; anything else arrives at or after atMs.
    const delaySeconds = Math.min(
      MAX_DELAY_SECONDS,
      runAt === undefined
        ? Math.ceil(waitMs / 1_000)
        : Math.max(0, Math.floor((waitMs - RESERVATION_LEAD_MS) / 1_000)),
    );
    const attributes: Record<string, string> = { [ENVELOPE.firstSeen]: String(work.firstSeenMs) };
    if (runAt !== undefined) attributes[ENVELOPE.runAt] = String(runAt);
    if (waitMs > MAX_DELAY_SECONDS * 1_000)
      attributes[ENVELOPE.notBefore] = String(Math.ceil(atMs));
    this.#telemetry.count(METRICS.Requeued, 1, { Service: work.request.call.service });
    this.#telemetry.count(METRICS.RequeueDelaySeconds, delaySeconds, {
      Service: work.request.call.service,
    });
    send(work.message, {
      queueUrl:
        runAt === undefined
          ? this.#deps.queueUrls[effectivePriority(work.request)]
          : this.#deps.scheduledQueueUrl,
      body: work.message.body,
      delaySeconds,
      attributes,
    });
  }

  async #deadLetter(message: IncomingMessage, reason: string): Promise<void> {
    const failed = await this.#deps.queue.sendAll([
      {
        key: 'dlq',
        queueUrl: this.#deps.dlqUrl,
        body: message.body,
        attributes: { ...message.attributes, [ENVELOPE.reason]: reason.slice(0, 1_000) },
      },
    ]);
    const why = failed.get('dlq');
    if (why !== undefined) throw new Error(`dead-letter send failed: ${why}`);
  }
}

/** The `id` of a body that failed validation, if it has a usable one (to record the rejection). */
function usableId(body: string): string | undefined {
  try {
    const value = JSON.parse(body) as { id?: unknown };
    const id = value?.id;
    return typeof id === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
