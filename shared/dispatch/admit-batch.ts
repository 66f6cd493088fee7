/**
 * Admission of a batch: the requests are grouped by the buckets they draw on and each group is
 * admitted with one conditional write (shared/admission), higher priorities first. Each decision
 * then places its request: due now (run in this invocation), a reservation (re-sent to the
 * scheduled queue for its slot), not yet (re-sent for admission later) or never (fails).
 */
import type { AdmissionDecision, AdmissionOutcome } from '../admission/bucket-store.js';
import { groupByBuckets } from '../admission/groups.js';
import { METRICS } from '../contract/metrics.js';
import { effectivePriority, type Priority } from '../contract/request.js';
import { ERROR_CODES } from '../contract/result.js';
import type { BatchContext, Due, Work } from './context.js';
import { finishUnclaimed } from './outcomes.js';
import { requeue } from './requeue.js';

/**
 * A call admitted this close to its slot runs in the invocation that admitted it; a later one
 * goes to the scheduled queue (which waits out its slot), so admitting a backlog never waits
 * on slots.
 */
export const RUN_AFTER_ADMISSION_MS = 250;

/** Within a bucket group the admitted prefix goes to the higher priorities. */
const PRIORITY_RANK: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };

/**
 * Admits the requests and places each one; returns the calls due now. A group whose admission
 * write fails is left for redelivery as a whole.
 */
export async function admitBatch(ctx: BatchContext, pending: readonly Work[]): Promise<Due[]> {
  const ordered = [...pending].sort(
    (a, b) =>
      PRIORITY_RANK[effectivePriority(a.request)] - PRIORITY_RANK[effectivePriority(b.request)],
  );
  const due: Due[] = [];
  await Promise.all(
    groupByBuckets(ordered.map((w) => w.draws)).map(async (group) => {
      const members = group.members.map((i) => ordered[i] as Work);
      let outcome: AdmissionOutcome;
      try {
        outcome = await ctx.buckets.admit(group.buckets, group.costs);
      } catch (error) {
        ctx.redeliver(
          members.map((w) => w.message),
          'admission failed; messages left for redelivery',
          error,
        );
        return;
      }
      const first = group.buckets[0]?.ref;
      const dims = {
        Service: first?.service ?? '',
        Bucket: first?.bucket ?? '',
        Region: first?.region ?? '',
      };
      ctx.telemetry.count(METRICS.AdmissionWrites, outcome.requests.writes, {
        Service: dims.Service,
        Region: dims.Region,
      });
      await Promise.all(
        outcome.decisions.map((decision, i) => {
          const work = members[i] as Work;
          return ctx.safely(work.message, () => place(ctx, work, decision, dims, due));
        }),
      );
    }),
  );
  return due;
}

/** Acts on one admission decision. */
async function place(
  ctx: BatchContext,
  work: Work,
  decision: AdmissionDecision,
  dims: Readonly<Record<string, string>>,
  due: Due[],
): Promise<void> {
  if (decision.kind === 'admitted') {
    ctx.telemetry.count(METRICS.AdmittedCalls, 1, dims);
    if (decision.runAtMs <= ctx.clock() + RUN_AFTER_ADMISSION_MS)
      due.push({ work, runAtMs: decision.runAtMs });
    // A reservation: delayed to its slot, it runs on arrival without touching the buckets.
    else requeue(ctx, work, decision.runAtMs, decision.runAtMs);
  } else if (decision.kind === 'not-yet') {
    ctx.telemetry.count(METRICS.NotAdmitted, 1, dims);
    requeue(ctx, work, decision.retryAtMs);
  } else {
    await finishUnclaimed(
      ctx,
      work,
      ERROR_CODES.neverFits,
      `the call costs ${decision.cost} tokens of bucket ${decision.bucket.bucket}, which holds ${decision.burst}`,
    );
  }
}
