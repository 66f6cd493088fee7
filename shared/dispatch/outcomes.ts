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
import type { BatchContext, Lease, Work } from './context.js';
import { durably } from './durable.js';
import { deadLetterAttributes, firstSeenOf, type IncomingMessage } from './envelope.js';
import { producerOf } from './producer.js';
import { replyMessage } from './replies.js';

/** A dead letter could not be sent: the message is left for SQS to deliver again. */
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
    ctx.requests.finishClaimed(work.request.id, lease.owner, result, ctx.clock()),
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
  if (await ctx.requests.finishOpen(work.request.id, result, now, work.firstSeenMs)) {
    await copyToDeadLetters(ctx, work, code, ctx.deadlineMs);
    announce(ctx, work, result);
  }
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
  try {
    await durably(ctx, 'dead letter', untilMs, () =>
      deadLetter(ctx, work.message, work.firstSeenMs, reason),
    );
  } catch (error) {
    if (!(error instanceof DeadLetterSendError)) throw error;
    ctx.telemetry.warn('dead letter not sent; the result is recorded', {
      id: work.request.id,
      error: error.message,
    });
  }
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
    await deadLetter(ctx, message, firstSeenOf(message, now), result.error.message);
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
  firstSeenMs: number,
  reason: string,
): Promise<void> {
  const failed = await ctx.queue.sendAll([
    {
      key: 'dlq',
      queueUrl: ctx.dlqUrl,
      body: message.body,
      attributes: deadLetterAttributes(firstSeenMs, reason),
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
