/**
 * How a request ends: its result recorded in the requests table, the dead-letter queue told when
 * it failed for good, the result counted and sent to the request's reply queue. Also the answer to
 * a message that broke the contract (rejected, never retried).
 */
import { replyToAllowed } from '../config/deployment.js';
import { METRICS } from '../contract/metrics.js';
import type { Problem } from '../contract/problems.js';
import { idSchema, type SluiceRequest } from '../contract/request.js';
import { failedResult, rejectedResult, type SluiceResult } from '../contract/result.js';
import type { RequestState } from '../requests/record.js';
import type { BatchContext, Work } from './context.js';
import { deadLetterAttributes, type IncomingMessage } from './envelope.js';
import { producerOf } from './producer.js';
import { replyMessage } from './replies.js';
import { requeue } from './requeue.js';

/** A dead letter could not be sent: the message is left for SQS to deliver again. */
export class DeadLetterSendError extends Error {
  constructor(reason: string) {
    super(`dead-letter send failed: ${reason}`);
    this.name = 'DeadLetterSendError';
  }
}

/**
 * Records a claimed request's result, dead-letters it (with `deadLetterReason`) when it failed for
 * good, and replies.
 */
export async function finishClaimed(
  ctx: BatchContext,
  work: Work,
  owner: string,
  result: SluiceResult,
  deadLetterReason?: string,
): Promise<void> {
  // The dead letter goes first: if the record were written first and the send then failed,
  // the redelivered message would find the request finished and the dead letter would be lost.
  if (deadLetterReason !== undefined) await deadLetter(ctx, work.message, deadLetterReason);
  const recorded = await ctx.requests.finishClaimed(work.request.id, owner, result, ctx.clock());
  if (!recorded) {
    ctx.telemetry.warn('lease lost before the result was recorded', { id: work.request.id });
    return;
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
  const result = failedResult(
    work.request.id,
    0,
    { code, message },
    { receivedAt: work.firstSeenMs, finishedAt: now },
  );
  await deadLetter(ctx, work.message, code);
  await finishOpen(ctx, work, result);
}

/**
 * Records the result of a request nobody holds (it made no call of its own: failed unrun, or
 * answered with a shared read's output) and replies. False, recording nothing, when it is
 * already finished or running under a live lease.
 */
export async function finishOpen(
  ctx: BatchContext,
  work: Work,
  result: SluiceResult,
): Promise<boolean> {
  const now = ctx.clock();
  const recorded = await ctx.requests.finishOpen(work.request.id, result, now, work.firstSeenMs);
  if (recorded) announce(ctx, work, result);
  return recorded;
}

/** Answers a message that broke the contract; it is acknowledged and never retried. */
export async function reject(
  ctx: BatchContext,
  message: IncomingMessage,
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
    id,
    problems: problems.slice(0, 10).map((p) => `${p.field}:${p.rule}`),
  });
  if (id === undefined) {
    // Nowhere to record it by id: the dead-letter queue keeps it, with the reason.
    await deadLetter(ctx, message, result.error.message);
    return;
  }
  if (await ctx.requests.finishOpen(id, result, now, now)) {
    replyTo(ctx, message, request, result);
  }
}

/** Sends a stored result to the request's `replyTo` (a duplicate of a finished request). */
export function reply(ctx: BatchContext, work: Work, result: SluiceResult): void {
  replyTo(ctx, work.message, work.request, result);
}

/** A request ended: count it by status and send the result to its reply queue. */
function announce(ctx: BatchContext, work: Work, result: SluiceResult): void {
  ctx.telemetry.count(METRICS.Results, 1, {
    Service: work.request.call.service,
    Status: result.status,
  });
  reply(ctx, work, result);
}

/** Sends `result` to the request's `replyTo` (queue or topic), if the deployment allows it. */
function replyTo(
  ctx: BatchContext,
  message: IncomingMessage,
  request: SluiceRequest | undefined,
  result: SluiceResult,
): void {
  const destination = request?.replyTo;
  if (request === undefined || destination === undefined) return;
  if (replyToAllowed(ctx.deployment, destination)) {
    ctx.reply(message, replyMessage(destination, request, result, producerOf(message)));
  }
}

/** Sends the message to the dead-letter queue now, with the reason; throws if SQS refuses. */
async function deadLetter(
  ctx: BatchContext,
  message: IncomingMessage,
  reason: string,
): Promise<void> {
  const failed = await ctx.queue.sendAll([
    {
      key: 'dlq',
      queueUrl: ctx.dlqUrl,
      body: message.body,
      attributes: deadLetterAttributes(message, reason),
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
