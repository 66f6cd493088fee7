/**
 * One admitted call: claim the request (idempotency), wait out the rest of its slot, run it,
 * classify the outcome, and act on what the retry policy decides — finish, retry through
 * admission (pushing the bucket back after a throttle) or give up.
 */
import { METRICS } from '../contract/metrics.js';
import { effectivePriority, type SluiceRequest } from '../contract/request.js';
import { ERROR_CODES, failedResult } from '../contract/result.js';
import type { RequestState } from '../requests/record.js';
import { UnsupportedCallError } from './call-runner.js';
import { classifyCallError } from './classify.js';
import type { BatchContext, Due, Work } from './context.js';
import { finishClaimed, reply } from './outcomes.js';
import { succeededWithOutput } from './record-output.js';
import { requeue } from './requeue.js';
import { afterCall, type CallOutcome, retryLimitsOf } from './retry-policy.js';

/** How long a request held by someone else waits before it is looked at again. */
const BUSY_RETRY_MS = 1_000;

/**
 * Claims, runs and settles one due call. `owner` names the lease holder. A reservation first
 * checks in (./check-in.ts): it runs only on a slot that did not move.
 */
export async function runCall(ctx: BatchContext, due: Due, owner: string): Promise<void> {
  const { work } = due;
  const { request } = work;
  const settled = await ctx.checkIns.settle(due);
  if (settled.kind === 'readmit') {
    // Its place on the timeline can no longer be known: it goes through admission again.
    requeue(ctx, work, ctx.clock());
    return;
  }
  if (settled.kind === 'wait') {
    requeue(ctx, work, settled.reservation.runAtMs, {
      ...settled.reservation,
      slowed: settled.slowed,
    });
    return;
  }
  const runAtMs = settled.runAtMs;
  // Claim first, then wait out the rest of the slot: the call leaves on time.
  const claim = await ctx.requests.claim(
    request.id,
    owner,
    ctx.clock(),
    ctx.deployment.leaseMs,
    work.firstSeenMs,
  );
  if (!claim.claimed) {
    answerUnclaimed(ctx, work, claim.state);
    return;
  }
  const early = runAtMs - ctx.clock();
  if (early > 0) await ctx.sleep(early);
  const startedAt = ctx.clock();
  ctx.telemetry.count(METRICS.WaitTimeMs, Math.max(0, startedAt - work.firstSeenMs), {
    Service: request.call.service,
    Priority: effectivePriority(request),
  });
  const timings = { receivedAt: claim.receivedAt, startedAt };
  if (claim.tookOverLapsedLease && !ctx.runner.isSafeToRepeat(request.call)) {
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
    await finishClaimed(ctx, work, owner, result, 'outcome unknown');
    return;
  }

  const outcome = await attemptCall(ctx, request);
  const finishedAt = ctx.clock();
  ctx.telemetry.count(METRICS.CallDurationMs, finishedAt - startedAt, {
    Service: request.call.service,
    Region: request.target.region,
  });
  const bucket = work.draws[0];
  const decision = afterCall({
    outcome,
    attempt: claim.attempts,
    limits: retryLimitsOf(request, work.firstSeenMs, ctx.deployment.maxWaitMs),
    ...(bucket === undefined ? {} : { bucketRate: bucket.limit.rate }),
    nowMs: finishedAt,
    random: ctx.random(),
  });
  const finished = { ...timings, finishedAt };
  switch (decision.kind) {
    case 'succeeded':
    case 'failed': {
      const result =
        decision.kind === 'succeeded'
          ? await succeededWithOutput(ctx, request, claim.attempts, decision.output, finished)
          : failedResult(request.id, claim.attempts, decision.error, finished);
      await finishClaimed(ctx, work, owner, result);
      return;
    }
    case 'retry':
    case 'give-up':
      if (decision.penalizeUntilMs !== undefined && bucket !== undefined) {
        ctx.telemetry.count(METRICS.ProviderThrottles, 1, {
          Service: request.call.service,
          Bucket: bucket.ref.bucket,
          Region: bucket.ref.region,
        });
        // The bucket slows down for every dispatcher (once per epoch) and pauses.
        await ctx.buckets.reportThrottle(
          { ref: bucket.ref, limit: bucket.limit },
          due.epochs[0] ?? 0,
          Math.max(0, decision.penalizeUntilMs - finishedAt),
        );
      }
      if (decision.kind === 'give-up') {
        const result = failedResult(request.id, claim.attempts, decision.error, finished);
        await finishClaimed(ctx, work, owner, result, decision.error.code);
        return;
      }
      await ctx.requests.release(request.id, owner, finishedAt);
      // Not a reservation: after a throttle or an error the call goes through admission again.
      requeue(ctx, work, decision.retryAtMs);
  }
}

/** Runs the call and classifies what it threw. */
async function attemptCall(
  ctx: BatchContext,
  request: SluiceRequest,
): Promise<CallOutcome<Record<string, unknown>>> {
  try {
    return { kind: 'succeeded', output: await ctx.runner.run(request) };
  } catch (error) {
    return error instanceof UnsupportedCallError
      ? { kind: 'permanent', code: 'UnsupportedCall', message: error.message }
      : classifyCallError(error, ctx.clock());
  }
}

/** Someone else holds or finished the request: answer a duplicate, or look again later. */
function answerUnclaimed(ctx: BatchContext, work: Work, state: RequestState): void {
  if (state.status === 'finished') {
    // A duplicate of a finished request: answer with the stored result, run nothing.
    reply(ctx, work, state.result);
    return;
  }
  // Looked at again through admission: a run after a lapsed lease takes a token of its own.
  const again = state.status === 'running' ? state.leaseUntil : ctx.clock();
  requeue(ctx, work, again + BUSY_RETRY_MS);
}
