/**
 * The first step of every message: name its producer by the queue it came from, validate it
 * against the contract and that producer's allowlist, resolve the buckets its call draws on, and
 * read its envelope (trusted on the scheduled queue only). A message that cannot go on is
 * answered here: refused (from a queue of no producer), rejected (broke the contract, never
 * retried), failed (its deadline passed), or re-sent (a chained wait that is not over).
 */
import { disallowedReason, producerNamed, replyToAllowed } from '../config/deployment.js';
import { type Problem, problem } from '../contract/problems.js';
import { parseRequest, type SluiceRequest } from '../contract/request.js';
import { ERROR_CODES } from '../contract/result.js';
import { InvalidCostError, LimitsError } from '../limits/index.js';
import type { BucketDraw } from '../limits/types.js';
import { UnsupportedCallError } from './call-runner.js';
import type { BatchContext, Work } from './context.js';
import {
  envelopeAttributeNames,
  type IncomingMessage,
  reservationOf,
  trustedEnvelope,
} from './envelope.js';
import { deadLetter, finishUnclaimed, reject } from './outcomes.js';
import { RUN_IN_PROCESS_MS, requeue } from './requeue.js';
import { lastStartMs, retryLimitsOf } from './retry-policy.js';

/** Why a message that names no producer is dead-lettered (its `sluice-reason`). */
export const NO_PRODUCER_REASON = 'NoProducer: the message came from a queue of no producer';

/**
 * Validates a message and resolves its buckets; answers the ones that cannot go on and returns
 * the rest as {@link Work}. Throws only when the coordinator's own storage or queues fail.
 */
export async function accept(
  ctx: BatchContext,
  message: IncomingMessage,
): Promise<Work | undefined> {
  const now = ctx.clock();
  const envelope = trustedEnvelope(message, ctx, now);
  if (envelope === undefined || producerNamed(ctx.deployment, envelope.producer) === undefined) {
    // Nobody to answer and no namespace to record in: the dead-letter queue keeps it.
    ctx.telemetry.warn('message refused: no producer', {
      messageId: message.messageId,
      queue: message.queueName,
    });
    await deadLetter(ctx, message, NO_PRODUCER_REASON);
    return undefined;
  }
  const { producer, firstSeenMs } = envelope;
  if (!envelope.scheduled) {
    const ignored = envelopeAttributeNames(message);
    // Only the dispatcher writes the envelope; on a request queue it is a producer's attempt to
    // skip admission, wait forever or pass for another producer.
    if (ignored.length > 0) {
      ctx.telemetry.warn('envelope attributes ignored on a request queue', {
        messageId: message.messageId,
        producer,
        attributes: ignored,
      });
    }
  }
  const parsed = parseRequest(message.body);
  if (!parsed.ok) {
    await reject(ctx, message, producer, parsed.problems);
    return undefined;
  }
  const { request } = parsed;
  const checked = await checkCall(ctx, producer, request);
  if (!checked.ok) {
    await reject(ctx, message, producer, checked.problems, request);
    return undefined;
  }

  // A reservation is believed only where only the dispatcher writes: the scheduled queue.
  const reservation = envelope.scheduled ? reservationOf(message, checked.draws.length) : undefined;
  const work: Work = {
    message,
    producer,
    request,
    draws: checked.draws,
    firstSeenMs,
    ...(reservation === undefined ? {} : { reservation }),
  };
  if (now > lastStartMs(retryLimitsOf(request, firstSeenMs, ctx.deployment.maxWaitMs))) {
    await finishUnclaimed(
      ctx,
      work,
      ERROR_CODES.deadlineExceeded,
      'the request deadline passed before the call could run',
    );
    return undefined;
  }
  const { notBeforeMs } = envelope;
  if (notBeforeMs !== undefined && notBeforeMs > now + RUN_IN_PROCESS_MS) {
    requeue(ctx, work, notBeforeMs, work.reservation);
    return undefined;
  }
  return work;
}

type CallCheck =
  | { readonly ok: true; readonly draws: BucketDraw[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/**
 * Whether the deployment allows the producer's call and the coordinator can run it: target,
 * region, operation and reply queue allowed to this producer, the SDK knows the operation, the
 * limits catalog prices it.
 */
async function checkCall(
  ctx: BatchContext,
  producer: string,
  request: SluiceRequest,
): Promise<CallCheck> {
  const problems: Problem[] = [];
  const disallowed = disallowedReason(ctx.deployment, producer, request.target, request.call);
  if (disallowed) problems.push(disallowed);
  if (request.replyTo !== undefined && !replyToAllowed(ctx.deployment, producer, request.replyTo)) {
    problems.push(
      problem(['replyTo'], 'not-allowed', 'is not one of the reply queues this producer may use'),
    );
  }
  if (problems.length > 0) return { ok: false, problems };
  try {
    await ctx.runner.check(request.call);
    return { ok: true, draws: ctx.catalog.drawsFor(request.target, request.call) };
  } catch (error) {
    const found = callProblem(error);
    if (found === undefined) throw error;
    return { ok: false, problems: [found] };
  }
}

/** The problem an error from the runner's check or the catalog stands for, if it is one. */
function callProblem(error: unknown): Problem | undefined {
  if (error instanceof UnsupportedCallError) {
    return problem(error.field.split('.'), 'unsupported', error.message);
  }
  if (error instanceof InvalidCostError) {
    return problem(
      ['call', 'input', error.field],
      'cost',
      `must be ${error.rule}: it sets the call's cost for ${error.service} ${error.operation}`,
    );
  }
  if (error instanceof LimitsError) return problem(['call', 'service'], 'no-limits', error.message);
  return undefined;
}
