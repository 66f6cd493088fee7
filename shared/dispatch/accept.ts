/**
 * The first step of every message: validate it against the contract and the deployment, resolve
 * the buckets its call draws on, and read its envelope. A message that cannot go on is answered
 * here: rejected (broke the contract, never retried), failed (its deadline passed), or re-sent
 * (a chained wait that is not over).
 */
import { disallowedReason, replyToAllowed } from '../config/deployment.js';
import { type Problem, problem } from '../contract/problems.js';
import { parseRequest, type SluiceRequest } from '../contract/request.js';
import { ERROR_CODES } from '../contract/result.js';
import { InvalidCostError, LimitsError } from '../limits/index.js';
import type { BucketDraw } from '../limits/types.js';
import { UnsupportedCallError } from './call-runner.js';
import type { BatchContext, Work } from './context.js';
import {
  claimsReservation,
  firstSeenOf,
  type IncomingMessage,
  notBeforeOf,
  type ReservationEnvelope,
  reservationOf,
} from './envelope.js';
import { finishUnclaimed, reject } from './outcomes.js';
import { RUN_IN_PROCESS_MS, requeue } from './requeue.js';
import { lastStartMs, retryLimitsOf } from './retry-policy.js';

/**
 * Validates a message and resolves its buckets; answers the ones that cannot go on and returns
 * the rest as {@link Work}. Throws only when the coordinator's own storage or queues fail.
 */
export async function accept(
  ctx: BatchContext,
  message: IncomingMessage,
): Promise<Work | undefined> {
  const now = ctx.clock();
  const firstSeenMs = firstSeenOf(message, now);
  const parsed = parseRequest(message.body);
  if (!parsed.ok) {
    await reject(ctx, message, parsed.problems);
    return undefined;
  }
  const { request } = parsed;
  const checked = await checkCall(ctx, request);
  if (!checked.ok) {
    await reject(ctx, message, checked.problems, request);
    return undefined;
  }

  const reservation = trustedReservation(ctx, message, checked.draws.length);
  const work: Work = {
    message,
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
  const notBefore = notBeforeOf(message);
  if (notBefore !== undefined && notBefore > now + RUN_IN_PROCESS_MS) {
    requeue(ctx, work, notBefore, work.reservation);
    return undefined;
  }
  return work;
}

type CallCheck =
  | { readonly ok: true; readonly draws: BucketDraw[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/**
 * Whether the deployment allows the call and the coordinator can run it: target, operation and
 * reply queue allowed, the SDK knows the operation, the limits catalog prices it.
 */
async function checkCall(ctx: BatchContext, request: SluiceRequest): Promise<CallCheck> {
  const problems: Problem[] = [];
  const disallowed = disallowedReason(ctx.deployment, request.target, request.call);
  if (disallowed) problems.push(disallowed);
  if (request.replyTo !== undefined && !replyToAllowed(ctx.deployment, request.replyTo)) {
    problems.push(
      problem(['replyTo'], 'not-allowed', 'is not one of the reply queues this deployment allows'),
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

/** The reservation a message carries, if it is one from the scheduled queue. */
function trustedReservation(
  ctx: BatchContext,
  message: IncomingMessage,
  buckets: number,
): ReservationEnvelope | undefined {
  if (!claimsReservation(message)) return undefined;
  if (message.queueName !== ctx.scheduledQueueName) {
    // Only the dispatcher sends to the scheduled queue: elsewhere this skips admission.
    ctx.telemetry.warn('reservation ignored: not from the scheduled queue; admitting', {
      messageId: message.messageId,
      queue: message.queueName,
    });
    return undefined;
  }
  return reservationOf(message, buckets);
}
