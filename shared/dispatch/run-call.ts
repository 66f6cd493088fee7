/**
 * One admitted call: claim the request (idempotency), wait out the rest of its slot, mark a call
 * that is not safe to repeat as sent, run it, classify the outcome, and act on what the retry
 * policy decides — finish, retry through admission (pushing the bucket back after a throttle) or
 * give up. Every write made under the claim is retried while the lease holds (./durable.ts).
 */
import { METRICS } from '../contract/metrics.js';
import { ERROR_CODES, failedResult, succeededResult } from '../contract/result.js';
import { callFingerprint } from '../requests/fingerprint.js';
import { requestKey } from '../storage/tables.js';
import { UnsupportedCallError } from './call-runner.js';
import { classifyCallError } from './classify.js';
import type { BatchContext, Due, Lease, Work } from './context.js';
import { durably, leaseFor } from './durable.js';
import { readBack, readBackOperation } from './outcome-check.js';
import { answerConflict, answerUnavailable, finishClaimed } from './outcomes.js';
import { priorityOf } from './priority.js';
import { succeededWithOutput } from './record-output.js';
import { RUN_IN_PROCESS_MS, requeue } from './requeue.js';
import { afterCall, type CallOutcome, retryLimitsOf } from './retry-policy.js';
import { endSharedRead, releaseSharedRead } from './shared-reads.js';

/**
 * Time kept after a call, within the invocation, for its bookkeeping: storing a large output,
 * recording the result (with retries), the dead letter, the batch's last sends.
 */
export const BOOKKEEPING_RESERVE_MS = 3_000;

/**
 * The shortest invocation in which a call with this timeout can run: the longest in-process wait
 * for its slot, the call, and the bookkeeping after it. A function timeout below it never claims
 * such a call (the construct refuses one).
 */
export function invocationNeedsMs(requestTimeoutMs: number): number {
  return RUN_IN_PROCESS_MS + requestTimeoutMs + BOOKKEEPING_RESERVE_MS;
}

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
  if (!timeLeftFor(ctx, work, runAtMs)) {
    // It could outlive the invocation, which would leave its outcome unknown: not claimed, it
    // is re-queued (through admission) for an invocation with time for it.
    ctx.telemetry.info('no time left in this invocation for the call; re-queued', {
      id: request.id,
    });
    requeue(ctx, work, Math.max(runAtMs, ctx.clock()));
    return;
  }
  // Claim first, then wait out the rest of the slot: the call leaves on time.
  const key = requestKey(work.producer, request.id);
  const claimedAt = ctx.clock();
  const claim = await ctx.requests.claim(
    key,
    callFingerprint(request),
    owner,
    claimedAt,
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
    // Let go of a read it claimed, so that its followers need not wait out the lease: finished
    // already (a duplicate), or held by an attempt that may be dead (a redelivery after a
    // crash). One of them leads the next call instead; a read may run once more, never be lost.
    await releaseSharedRead(ctx, work);
    answerUnavailable(ctx, work, claim.state);
    return;
  }
  // Writes under this claim are retried until shortly before the lease or the invocation ends.
  const lease = leaseFor(ctx, key, owner, claimedAt);
  const early = runAtMs - ctx.clock();
  if (early > 0) await ctx.sleep(early);
  const startedAt = ctx.clock();
  ctx.telemetry.count(METRICS.WaitTimeMs, Math.max(0, startedAt - work.firstSeenMs), {
    Service: request.call.service,
    Priority: priorityOf(ctx, work),
  });
  const timings = { receivedAt: claim.receivedAt, startedAt };
  const safeToRepeat = ctx.runner.isSafeToRepeat(request.call);
  let outcome: CallOutcome<Record<string, unknown>> | undefined;
  let confirmedBy: string | undefined;
  if (claim.previousMayHaveRun && !safeToRepeat) {
    // A previous attempt may have sent it: read back before sending it again (./outcome-check.ts).
    const read = await readBack(ctx, work);
    if (read.kind === 'unknowable') {
      const result = failedResult(
        request.id,
        claim.attempts - 1,
        { code: ERROR_CODES.outcomeUnknown, message: read.message },
        { ...timings, finishedAt: ctx.clock() },
      );
      await finishClaimed(ctx, work, lease, result, 'outcome unknown');
      return;
    }
    if (read.kind === 'applied') {
      outcome = { kind: 'succeeded', output: {} };
      confirmedBy = read.operation;
    } else if (read.kind === 'unread') {
      outcome = read.outcome;
    } else if (!timeLeftFor(ctx, work, ctx.clock())) {
      // It did not run, but the read took the time the call needed: for another invocation.
      await durably(ctx, 'lease release', lease.untilMs, () =>
        ctx.requests.release(key, owner, ctx.clock()),
      );
      requeue(ctx, work, ctx.clock());
      return;
    }
  }
  if (outcome === undefined) {
    if (!safeToRepeat && !(await markSent(ctx, work, lease))) return;
    outcome = await attemptCall(ctx, work);
  }
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
    safeToRepeat,
    checkable: readBackOperation(ctx, work) !== undefined,
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
        confirmedBy !== undefined
          ? succeededResult(request.id, claim.attempts, {}, finished, { confirmedBy })
          : decision.kind === 'succeeded'
            ? await succeededWithOutput(ctx, lease, work, claim.attempts, decision.output, finished)
            : decision.kind === 'dry-run'
              ? succeededResult(request.id, claim.attempts, {}, finished, { dryRun: true })
              : failedResult(request.id, claim.attempts, decision.error, finished);
      await finishClaimed(ctx, work, lease, result);
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
        await reportThrottle(
          ctx,
          work,
          settled.epochs[0] ?? 0,
          lease,
          Math.max(0, decision.penalizeUntilMs - finishedAt),
        );
      }
      if (decision.kind === 'give-up') {
        const result = failedResult(request.id, claim.attempts, decision.error, finished);
        await finishClaimed(ctx, work, lease, result, decision.error.code);
        return;
      }
      // Given back; its "sent" marker goes with it unless the call may have run (it is then
      // read back first on the next attempt).
      await durably(ctx, 'lease release', lease.untilMs, () =>
        ctx.requests.release(key, owner, ctx.clock(), { mayHaveRun: decision.mayHaveRun === true }),
      );
      // Not a reservation: after a throttle or an error the call goes through admission again.
      requeue(ctx, work, decision.retryAtMs);
  }
}

/**
 * Whether the invocation has time for the call at its slot: the wait, the call's whole timeout,
 * and {@link BOOKKEEPING_RESERVE_MS} after it.
 */
export function timeLeftFor(ctx: BatchContext, work: Work, runAtMs: number): boolean {
  const now = ctx.clock();
  const { requestTimeoutMs } = ctx.runner.timeoutsOf(work.request.call.service);
  return Math.max(now, runAtMs) + requestTimeoutMs + BOOKKEEPING_RESERVE_MS <= ctx.deadlineMs;
}

/**
 * Writes the "sent" marker before a call that is not safe to repeat; retried only while the call
 * would still fit. False (and the call is not sent) when the lease was lost meanwhile; throws
 * (the message is delivered again, the call never sent) when the marker cannot be written.
 */
async function markSent(ctx: BatchContext, work: Work, lease: Lease): Promise<boolean> {
  const { requestTimeoutMs } = ctx.runner.timeoutsOf(work.request.call.service);
  const untilMs = lease.untilMs - requestTimeoutMs - BOOKKEEPING_RESERVE_MS;
  const marked = await durably(ctx, 'sent marker', untilMs, () =>
    ctx.requests.markSent(lease.key, lease.owner, ctx.clock()),
  );
  if (!marked) ctx.telemetry.warn('lease lost before the call was sent', { id: work.request.id });
  return marked;
}

/**
 * Pushes the bucket back after a provider throttle, for every dispatcher. Retried while the lease
 * holds; if it still fails the request goes on (the report only slows others down), since
 * leaving the lease unreleased would make a call that never ran look as if it may have.
 */
async function reportThrottle(
  ctx: BatchContext,
  work: Work,
  epoch: number,
  lease: Lease,
  retryAfterMs: number,
): Promise<void> {
  const bucket = work.draws[0];
  if (bucket === undefined) return;
  try {
    // The bucket slows down for every dispatcher (once per epoch) and pauses.
    await durably(ctx, 'throttle report', lease.untilMs, () =>
      ctx.buckets.reportThrottle({ ref: bucket.ref, limit: bucket.limit }, epoch, retryAfterMs),
    );
  } catch (error) {
    ctx.telemetry.warn('throttle report not written', {
      id: work.request.id,
      error: (error as Error).name,
    });
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
