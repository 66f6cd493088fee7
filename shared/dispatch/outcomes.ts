/**
 * How a request ends: its result recorded in the requests table under its producer's key, the
 * dead-letter queue told when it failed for good, the result counted and sent to the request's
 * reply queue. Also the answer to a message that broke the contract (rejected, never retried) and
 * to a re-used id (a conflict, never run): neither ever replaces a request's record.
 */
import { replyToAllowed } from '../config/deployment.js';
import { METRICS } from '../contract/metrics.js';
import { type Problem, problem } from '../contract/problems.js';
import { idSchema, type SluiceRequest } from '../contract/request.js';
import {
  ERROR_CODES,
  failedResult,
  rejectedResult,
  type SluiceResult,
} from '../contract/result.js';
import { callFingerprint } from '../requests/fingerprint.js';
import type { RequestState } from '../requests/record.js';
import { requestKey } from '../storage/tables.js';
import type { BatchContext, Lease, Work } from './context.js';
import { durably } from './durable.js';
import { deadLetterAttributes, type IncomingMessage } from './envelope.js';
import { replyMessage } from './replies.js';
import { requeue } from './requeue.js';

/**
 * A dead letter could not be sent. Where it is the only record (a message with no usable id), the
 * message is left for SQS to deliver again; where the result is recorded, that stands.
 */
export class DeadLetterSendError extends Error {
  constructor(reason: string) {
    super(`dead-letter send failed: ${reason}`);
    this.name = 'DeadLetterSendError';
  }
}

/**
 * Records a claimed request's result (retried while the lease holds: a non-idempotent call's
 * output must not be lost to a blink of DynamoDB), dead-letters it (with `deadLetterReason`) when
 * it failed for good, and replies.
 */
export async function finishClaimed(
  ctx: BatchContext,
  work: Work,
  lease: Lease,
  result: SluiceResult,
  deadLetterReason?: string,
): Promise<void> {
  const recorded = await durably(ctx, 'result write', lease.untilMs, () =>
    ctx.requests.finishClaimed(lease.key, lease.owner, result, ctx.clock()),
  );
  if (!recorded) {
    ctx.telemetry.warn('lease lost before the result was recorded', { id: work.request.id });
    return;
  }
  if (deadLetterReason !== undefined) {
    await copyToDeadLetters(ctx, work, deadLetterReason, lease.untilMs);
  }
  announce(ctx, work, result);
}

/** How long a request held by someone else waits before it is looked at again. */
const BUSY_RETRY_MS = 1_000;

/**
 * The request could not be taken: someone else holds or finished it. A duplicate of a finished
 * request is answered with the stored result (nothing runs); one held elsewhere is looked at
 * again once the holder's lease ends.
 */
export function answerUnavailable(ctx: BatchContext, work: Work, state: RequestState): void {
  if (state.status === 'finished') {
    reply(ctx, work, state.result);
    return;
  }
  // Looked at again through admission: a run after a lapsed lease takes a token of its own.
  const again = state.status === 'running' ? state.leaseUntil : ctx.clock();
  requeue(ctx, work, again + BUSY_RETRY_MS);
}

/** Fails a request nobody holds (deadline passed, never fits): record, dead-letter, reply. */
export async function finishUnclaimed(
  ctx: BatchContext,
  work: Work,
  code: string,
  message: string,
): Promise<void> {
  const now = ctx.clock();
  const timings = { receivedAt: work.firstSeenMs, finishedAt: now };
  const result = failedResult(work.request.id, 0, { code, message }, timings);
  // A previous attempt's call may have run (given back to be read back first): not "never ran".
  const unknown = failedResult(
    work.request.id,
    0,
    {
      code: ERROR_CODES.outcomeUnknown,
      message: `${message}, and a previous attempt's call, which may have run, was not read back`,
    },
    timings,
  );
  // The result first: it is what the producer reads; the dead-letter copy follows it.
  const recorded = await finishOpen(ctx, work, result, unknown);
  if (recorded !== undefined) {
    const reason = recorded.status === 'failed' ? recorded.error.code : code;
    await copyToDeadLetters(ctx, work, reason, ctx.deadlineMs);
  }
}

/**
 * Records the result of a request nobody holds (it made no call of its own: failed unrun, or
 * answered with a shared read's output) and replies; `ifMayHaveRun` instead where a previous
 * attempt's call may have run (see RequestsStore.finishOpen). Returns the result recorded;
 * `undefined`, recording nothing, when it is already finished, running under a live lease, the
 * id belongs to another call, or the call may have run and no `ifMayHaveRun` was given.
 */
export async function finishOpen(
  ctx: BatchContext,
  work: Work,
  result: SluiceResult,
  ifMayHaveRun?: SluiceResult,
): Promise<SluiceResult | undefined> {
  const key = requestKey(work.producer, work.request.id);
  const fingerprint = callFingerprint(work.request);
  const now = ctx.clock();
  const recorded = await ctx.requests.finishOpen(
    key,
    fingerprint,
    result,
    now,
    work.firstSeenMs,
    ifMayHaveRun,
  );
  if (recorded !== undefined) announce(ctx, work, recorded);
  return recorded;
}

/**
 * The dead-letter copy of a request whose result is recorded: the result is what the producer
 * reads, so it is written first, and a copy that SQS refuses (tried again until `untilMs`) does
 * not undo it — the refusal is logged (and the message acknowledged: delivered again, it would
 * only find its result).
 */
async function copyToDeadLetters(
  ctx: BatchContext,
  work: Work,
  reason: string,
  untilMs: number,
): Promise<void> {
  const known = { producer: work.producer, firstSeenMs: work.firstSeenMs };
  try {
    await durably(ctx, 'dead letter', untilMs, () => deadLetter(ctx, work.message, reason, known));
  } catch (error) {
    if (!(error instanceof DeadLetterSendError)) throw error;
    ctx.telemetry.warn('dead letter not sent; the result is recorded', {
      id: work.request.id,
      error: error.message,
    });
  }
}

/**
 * Answers a message that broke the contract or the producer's allowlist; it is acknowledged and
 * never retried. The rejection is recorded under the producer's id unless a request is recorded
 * there: then (and for a message with no usable id) the dead-letter queue keeps it, with the
 * reason.
 */
export async function reject(
  ctx: BatchContext,
  message: IncomingMessage,
  producer: string,
  problems: readonly Problem[],
  request?: SluiceRequest,
): Promise<void> {
  const now = ctx.clock();
  const id = request?.id ?? usableId(message.body);
  const result = rejectedResult(id, problems, now);
  ctx.telemetry.count(METRICS.Rejected, 1, {});
  // Fields and rules only: never the body, which may hold secrets.
  ctx.telemetry.info('message rejected', {
    messageId: message.messageId,
    producer,
    id,
    problems: problems.slice(0, 10).map((p) => `${p.field}:${p.rule}`),
  });
  if (id === undefined) {
    // Nowhere to record it by id: the dead-letter queue keeps it, with the reason.
    await deadLetter(ctx, message, result.error.message, { producer });
    return;
  }
  if (!(await ctx.requests.recordRejection(requestKey(producer, id), result, now))) {
    // The id holds a request, which a rejection never replaces.
    await deadLetter(
      ctx,
      message,
      `${result.error.message}; not recorded: the id holds a request`,
      { producer },
    );
  }
  replyTo(ctx, message, producer, request, result);
}

/**
 * Answers a re-sent id whose call differs from the one the id was first used for: never run,
 * never recorded (the id's record stays the first call's); the dead-letter queue keeps it and the
 * reply queue, if any, hears `IdConflict`.
 */
export async function answerConflict(ctx: BatchContext, work: Work): Promise<void> {
  const { request, producer, message } = work;
  const result = rejectedResult(
    request.id,
    [
      problem(
        ['id'],
        'conflict',
        'was used before by this producer for another call (target, operation or input)',
      ),
    ],
    ctx.clock(),
    ERROR_CODES.idConflict,
  );
  ctx.telemetry.count(METRICS.Rejected, 1, {});
  ctx.telemetry.info('message rejected: id conflict', {
    messageId: message.messageId,
    producer,
    id: request.id,
  });
  await deadLetter(ctx, message, ERROR_CODES.idConflict, {
    producer,
    firstSeenMs: work.firstSeenMs,
  });
  replyTo(ctx, message, producer, request, result);
}

/** Sends a stored result to the request's `replyTo` (a duplicate of a finished request). */
export function reply(ctx: BatchContext, work: Work, result: SluiceResult): void {
  replyTo(ctx, work.message, work.producer, work.request, result);
}

/** A request ended: count it by status and send the result to its reply queue. */
function announce(ctx: BatchContext, work: Work, result: SluiceResult): void {
  ctx.telemetry.count(METRICS.Results, 1, {
    Service: work.request.call.service,
    Status: result.status,
  });
  reply(ctx, work, result);
}

/** Sends `result` to the request's `replyTo` (queue or topic), if its producer may use it. */
function replyTo(
  ctx: BatchContext,
  message: IncomingMessage,
  producer: string,
  request: SluiceRequest | undefined,
  result: SluiceResult,
): void {
  const destination = request?.replyTo;
  if (request === undefined || destination === undefined) return;
  if (replyToAllowed(ctx.deployment, producer, destination)) {
    ctx.reply(message, replyMessage(destination, request, result, producer));
  }
}

/**
 * Sends the message to the dead-letter queue now, with the reason (and its producer and first
 * receipt, when known); throws if SQS refuses.
 */
export async function deadLetter(
  ctx: BatchContext,
  message: IncomingMessage,
  reason: string,
  known: Parameters<typeof deadLetterAttributes>[1] = {},
): Promise<void> {
  const failed = await ctx.queue.sendAll([
    {
      key: 'dlq',
      queueUrl: ctx.dlqUrl,
      body: message.body,
      attributes: deadLetterAttributes(reason, known),
    },
  ]);
  const why = failed.get('dlq');
  if (why !== undefined) throw new DeadLetterSendError(why);
}

/** The `id` of a body that failed validation, if it has a usable one (to record the rejection). */
function usableId(body: string): string | undefined {
  try {
    const value = JSON.parse(body) as { id?: unknown } | null;
    const id = idSchema.safeParse(value?.id);
    return id.success ? id.data : undefined;
  } catch {
    return undefined;
  }
}
