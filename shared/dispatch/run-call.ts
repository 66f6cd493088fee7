/**
 * One admitted call: claim the request (idempotency), wait out the rest of its slot, run it,
 * classify the outcome, and act on what the retry policy decides — finish, retry through
 * admission (pushing the bucket back after a throttle) or give up.
 */
import { METRICS } from '../contract/metrics.js';
import { effectivePriority } from '../contract/request.js';
import { ERROR_CODES, failedResult, succeededResult } from '../contract/result.js';
import { callFingerprint } from '../requests/fingerprint.js';
import { requestKey } from '../storage/tables.js';
import { UnsupportedCallError } from './call-runner.js';
import { classifyCallError } from './classify.js';
import type { BatchContext, Due, Work } from './context.js';
import { answerConflict, answerUnavailable, finishClaimed } from './outcomes.js';
import { requeue } from './requeue.js';
import { afterCall, type CallOutcome, retryLimitsOf } from './retry-policy.js';
import { endSharedRead, releaseSharedRead } from './shared-reads.js';

/**
 * Claims, runs and settles one due call. `owner` names the lease holder. A reservation first
 * checks in (./check-in.ts): it runs only on a slot that did not move. When the coordinator's own
 * storage or queues fail (the message comes back from SQS), a read it leads is let go meanwhile,
 * so that identical requests need not wait out its lease.
 */
export async function runCall(ctx: BatchContext, due: Due, owner: string): Promise<void> {
  try {
    await settleCall(ctx, due, owner);
  } catch (error) {
    // Best effort: if the table is down too, the read's lease lapses instead.
    await releaseSharedRead(ctx, due.work).catch(() => undefined);
    throw error;
  }
}

async function settleCall(ctx: BatchContext, due: Due, owner: string): Promise<void> {
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
  const key = requestKey(work.producer, request.id);
  const claim = await ctx.requests.claim(
    key,
    callFingerprint(request),
    owner,
    ctx.clock(),
    ctx.deployment.leaseMs,
    work.firstSeenMs,
  );
  if (claim.kind === 'conflict') {
    // Not its call to make: let go of a read it claimed for it.
    await releaseSharedRead(ctx, work);
    await answerConflict(ctx, work);
    return;
  }
  if (claim.kind === 'unavailable') {
    // Let go of a read it claimed, so that its followers need not wait out the lease.
    if (claim.state.status === 'finished') await releaseSharedRead(ctx, work);
    answerUnavailable(ctx, work, claim.state);
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

  const outcome = await attemptCall(ctx, work);
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
  // A read it leads: the requests waiting for it finish with its output (or make their own).
  await endSharedRead(ctx, work, decision, { startedAt, finishedAt });
  switch (decision.kind) {
    case 'succeeded':
    case 'dry-run':
    case 'failed': {
      const result =
        decision.kind === 'succeeded'
          ? succeededResult(request.id, claim.attempts, decision.output, finished)
          : decision.kind === 'dry-run'
            ? succeededResult(request.id, claim.attempts, {}, finished, { dryRun: true })
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
          settled.epochs[0] ?? 0,
          Math.max(0, decision.penalizeUntilMs - finishedAt),
        );
      }
      if (decision.kind === 'give-up') {
        const result = failedResult(request.id, claim.attempts, decision.error, finished);
        await finishClaimed(ctx, work, owner, result, decision.error.code);
        return;
      }
      await ctx.requests.release(key, owner, finishedAt);
      // Not a reservation: after a throttle or an error the call goes through admission again.
      requeue(ctx, work, decision.retryAtMs);
  }
}

/** Runs the call as its producer and classifies what it threw. */
async function attemptCall(
  ctx: BatchContext,
  { producer, request }: Work,
): Promise<CallOutcome<Record<string, unknown>>> {
  try {
    return { kind: 'succeeded', output: await ctx.runner.run({ ...request, producer }) };
  } catch (error) {
    return error instanceof UnsupportedCallError
      ? { kind: 'permanent', code: 'UnsupportedCall', message: error.message }
      : classifyCallError(error, ctx.clock());
  }
}
