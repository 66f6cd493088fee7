/**
 * Admission of a batch: the requests are grouped by the buckets they draw on and each group is
 * admitted with one conditional write per bucket on the common path (shared/admission), each
 * request tagged with its priority level and its flow (the producer it came from), so that a
 * more urgent level, or a flow behind its fair share, cuts in ahead of what may wait. Each
 * decision then places its request: due now (run in this invocation), a reservation (re-sent to
 * the scheduled queue for its slot, with its place on each bucket's timeline), not yet (re-sent
 * for admission later) or never (fails).
 */
import type { AdmissionDecision, AdmissionOutcome, CallTag } from '../admission/bucket-store.js';
import { groupByBuckets } from '../admission/groups.js';
import { FIXED } from '../admission/timeline.js';
import { METRICS } from '../contract/metrics.js';
import type { Priority } from '../contract/request.js';
import { ERROR_CODES } from '../contract/result.js';
import type { BatchContext, Due, Work } from './context.js';
import { finishUnclaimed } from './outcomes.js';
import { priorityOf } from './priority.js';
import { requeue, SLOWED_HOP_MS } from './requeue.js';
import { timeLeftFor } from './run-call.js';

/**
 * A call admitted this close to its slot runs in the invocation that admitted it; a later one
 * goes to the scheduled queue (which waits out its slot), so admitting a backlog never waits
 * on slots.
 */
export const RUN_AFTER_ADMISSION_MS = 250;

/**
 * A call not admitted yet on a contended bucket, whose turn comes within this long, waits for it
 * in this invocation and asks again (at most {@link IN_PROCESS_ROUNDS} times): there nobody
 * reserves far ahead, and SQS's whole-second delays would leave the room ahead unused.
 */
export const IN_PROCESS_RETRY_MS = 1_500;
export const IN_PROCESS_ROUNDS = 4;

/** Within a bucket group the admitted prefix goes to the higher priorities. */
const PRIORITY_RANK: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };

/** What admitting a batch gives: the calls due now, and the rounds that ask again. */
export interface AdmittedBatch {
  readonly due: Due[];
  /**
   * Settles when every call not admitted yet but due again within moments has been asked
   * again in this invocation; each round hands its due calls to `onRound` as soon as it ends.
   */
  readonly later: Promise<void>;
}

/**
 * Admits the requests and places each one; returns the calls due now at once (they must not wait
 * for the ones asked again). A group whose admission write fails is left for redelivery as a
 * whole. `onRound` runs the calls a later round admitted (and sends what it re-queued).
 */
export async function admitBatch(
  ctx: BatchContext,
  pending: readonly Work[],
  onRound: (due: Due[]) => Promise<unknown> = async () => {},
  rounds = IN_PROCESS_ROUNDS,
): Promise<AdmittedBatch> {
  // Not admitted yet but due again soon: asked again below, in this invocation — if it has
  // time left for the call once admitted.
  const again: { work: Work; atMs: number }[] = [];
  const waitHere = (work: Work, atMs: number): boolean => {
    if (rounds <= 0 || atMs - ctx.clock() > IN_PROCESS_RETRY_MS) return false;
    if (!timeLeftFor(ctx, work, atMs)) return false;
    again.push({ work, atMs });
    return true;
  };
  const ordered = [...pending].sort(
    (a, b) => PRIORITY_RANK[priorityOf(ctx, a)] - PRIORITY_RANK[priorityOf(ctx, b)],
  );
  const due: Due[] = [];
  await Promise.all(
    groupByBuckets(ordered.map((w) => w.draws)).map(async (group) => {
      const members = group.members.map((i) => ordered[i] as Work);
      let outcome: AdmissionOutcome;
      try {
        outcome = await ctx.buckets.admit(
          group.buckets,
          group.costs,
          members.map((w) => tagOf(ctx, w)),
        );
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
      // The request bucket's learned rate, against its configured one (100: not slowed).
      const admitted = outcome.decisions.find((d) => d.kind === 'admitted');
      if (admitted !== undefined) {
        const fraction = admitted.fractions[0] ?? 1;
        ctx.telemetry.count(METRICS.EffectiveRatePercent, Math.round(fraction * 100), dims);
      }
      await Promise.all(
        outcome.decisions.map((decision, i) => {
          const work = members[i] as Work;
          return ctx.safely(work.message, () => place(ctx, work, decision, dims, due, waitHere));
        }),
      );
    }),
  );
  const later =
    again.length === 0
      ? Promise.resolve()
      : (async () => {
          await ctx.sleep(Math.max(0, Math.min(...again.map((a) => a.atMs)) - ctx.clock()));
          const works = again.map((a) => a.work);
          try {
            const next = await admitBatch(ctx, works, onRound, rounds - 1);
            await Promise.all([onRound(next.due), next.later]);
          } catch (error) {
            ctx.redeliver(
              works.map((w) => w.message),
              'asking again failed; messages left for redelivery',
              error,
            );
          }
        })();
  return { due, later };
}

/** Acts on one admission decision. */
async function place(
  ctx: BatchContext,
  work: Work,
  decision: AdmissionDecision,
  dims: Readonly<Record<string, string>>,
  due: Due[],
  waitHere: (work: Work, atMs: number) => boolean,
): Promise<void> {
  if (decision.kind === 'admitted') {
    ctx.telemetry.count(METRICS.AdmittedCalls, 1, dims);
    const reservation = {
      runAtMs: decision.runAtMs,
      positions: decision.positions,
      epochs: decision.epochs,
    };
    if (decision.runAtMs <= ctx.clock() + RUN_AFTER_ADMISSION_MS) {
      // Runs in this invocation: at once where admission froze its slots, otherwise after
      // checking in (a cut-in may have landed before it since).
      const fixed = decision.positions.every((p) => p.seq === FIXED);
      due.push({
        work,
        runAtMs: decision.runAtMs,
        epochs: decision.epochs,
        ...(fixed ? {} : { reservation }),
      });
    }
    // A reservation: delayed to its slot, it checks in and runs there.
    else requeue(ctx, work, decision.runAtMs, { ...reservation, slowed: decision.slowed });
  } else if (decision.kind === 'not-yet') {
    ctx.telemetry.count(METRICS.NotAdmitted, 1, dims);
    // A slowed bucket's horizon widens as it recovers: look again within a hop, not at the
    // time the slow rate gave.
    const hop = ctx.clock() + SLOWED_HOP_MS;
    const atMs = decision.slowed ? Math.min(decision.retryAtMs, hop) : decision.retryAtMs;
    if (decision.contended !== true || !waitHere(work, atMs)) requeue(ctx, work, atMs);
  } else {
    await finishUnclaimed(
      ctx,
      work,
      ERROR_CODES.neverFits,
      `the call costs ${decision.cost} tokens of bucket ${decision.bucket.bucket}, which holds ${decision.burst}`,
    );
  }
}

/**
 * Who a call is for scheduling: its priority level (as its producer may use it), and its flow —
 * the producer it came from.
 */
export function tagOf(ctx: Pick<BatchContext, 'deployment'>, work: Work): CallTag {
  return { level: priorityOf(ctx, work), flow: flowOf(work) };
}

/**
 * The flow a call belongs to for fair queuing: its producer (named by the request queue it first
 * arrived on, and carried through the scheduled queue by the envelope).
 */
export function flowOf(work: Work): string {
  return work.producer;
}
