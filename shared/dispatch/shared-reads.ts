/**
 * Shared reads in the dispatcher: before admission, every read-only call (the service registry's
 * `isReadOnly`; never a mutating call, never a DryRun, which checks its producer's permissions)
 * looks up its read in the reads table (shared/reads/) and does what ../reads/shared-read.ts
 * decides:
 *
 * - **cached** or **coalesced**: it finishes at once with the stored output (`cachedAt` /
 *   `coalesced: true`): no provider call, no token — it never reaches admission;
 * - **follow**: another request holds the read: it goes back to the scheduled queue, delayed on a
 *   widening schedule (one second, doubling, at most 16 s, never past the holder's lease), and
 *   looks again — no call, no token. Followers of a leader in the same batch wait for it here
 *   instead, and finish as soon as it has run;
 * - **lead**: it claims the read (one conditional write) and goes on to admission and its call;
 *   after the call it ends the read for everyone ({@link endSharedRead});
 * - **alone**: the call it waited for gave nothing to share: it makes its own.
 *
 * Tokens: a follower is told before admission, so it spends none. The one exception is a
 * reservation whose leader lost the read (its lease lapsed and another request took over): its
 * slot was granted already and cannot be handed back (a GCRA bucket keeps one number, the end of
 * its timeline, not a list of slots), so it is forfeited — capacity wasted, never over the limit.
 *
 * Every request was validated on its own first (allowlist, regions, reply destination): it only
 * ever gets the output of a call it is itself allowed to make, from the same target.
 */
import { cacheMsFor } from '../config/reads.js';
import { METRICS } from '../contract/metrics.js';
import { succeededResult } from '../contract/result.js';
import { isShareableOutput, type ReadEnding } from '../reads/reads-store.js';
import {
  type DoneRead,
  decideRead,
  followDelayMs,
  type ReadDecision,
  type SharedRead,
} from '../reads/shared-read.js';
import { callFingerprint } from '../requests/fingerprint.js';
import { SERVICES } from '../services/registry.js';
import { requestKey } from '../storage/tables.js';
import type { BatchContext, Work } from './context.js';
import { leaseFor } from './durable.js';
import { followsOf } from './envelope.js';
import { answerConflict, answerUnavailable, finishClaimed, finishOpen } from './outcomes.js';
import { requeue } from './requeue.js';
import type { AfterCall } from './retry-policy.js';

/** Claims tried for one read in one batch before its requests wait and look again. */
const MAX_CLAIMS = 3;

/** A read a request leads: what it ends after its call. */
export interface ReadShare {
  readonly fingerprint: string;
  /** How long the output is cached, ms; 0: not cached. */
  readonly cacheMs: number;
  /** Called with how the read ended: the batch's own followers of it finish with that. */
  readonly ended: (ending: ReadEnding) => void;
}

/** What the step left for the rest of the batch. */
export interface SharedReadsStep {
  /** Requests that go on: to admission, or to their reserved slot. */
  readonly proceed: readonly Work[];
  /** After the batch's calls: finishes the followers waiting for a leader of this batch. */
  settle(): Promise<void>;
}

/** Whether the request's call may share a read: read-only by the registry, and no DryRun. */
function isShareableRead(call: Work['request']['call']): boolean {
  return SERVICES[call.service]?.isReadOnly(call.operation) === true && call.input.DryRun !== true;
}

/**
 * What a read lease covers beyond the call's own timeout: the leader's in-process wait for its
 * slot (at most 2 s), its bookkeeping after the call (3 s), and 5 s for a re-queued leader's
 * message to come back. Past it the leader is presumed dead and the next request leads.
 */
export const READ_LEASE_MARGIN_MS = 10_000;

/**
 * How long a leader holds its read from a moment it is (or will be back) in an invocation: the
 * call's timeout and {@link READ_LEASE_MARGIN_MS}, at most the deployment's `leaseMs`. Short, so
 * that the followers of a leader that died take over soon; a leader re-queued to a later slot
 * holds it to there ({@link holdSharedRead}).
 */
export function readLeaseMs(ctx: BatchContext, work: Work): number {
  const { requestTimeoutMs } = ctx.runner.timeoutsOf(work.request.call.service);
  return Math.min(ctx.deployment.leaseMs, requestTimeoutMs + READ_LEASE_MARGIN_MS);
}

/**
 * Keeps the read `work` leads held until `atMs` plus {@link readLeaseMs}: its leader was re-queued
 * (to its slot, or to try again) and will claim it again when it is back. Best effort: if the
 * write fails the lease lapses sooner, and a follower may lead a second call — never a lost one.
 */
export async function holdSharedRead(ctx: BatchContext, work: Work, atMs: number): Promise<void> {
  if (work.share === undefined || ctx.reads === undefined) return;
  try {
    await ctx.reads.extend(work.share.fingerprint, ownerOf(work), atMs + readLeaseMs(ctx, work));
  } catch (error) {
    ctx.telemetry.warn('shared read not held; it may be led again', {
      id: work.request.id,
      error: (error as Error).name,
    });
  }
}

/** The requests table key a read's leader is known by: a re-delivery of it is the same leader. */
function ownerOf(work: Work): string {
  return requestKey(work.producer, work.request.id);
}

/**
 * Looks up the reads of a batch; answers, parks or claims; returns who goes on. `owner` names the
 * batch's lease holder, for the requests it answers.
 */
export async function shareReads(
  ctx: BatchContext,
  works: readonly Work[],
  owner: string,
): Promise<SharedReadsStep> {
  const proceed: Work[] = [];
  const groups = new Map<string, ReadGroup>();
  for (const work of works) {
    const fingerprint = sharedFingerprint(ctx, work);
    if (fingerprint === undefined) {
      proceed.push(work);
      continue;
    }
    const group = groups.get(fingerprint) ?? {
      fingerprint,
      cacheMs: cacheMsFor(ctx.deployment.reads, work.request.call),
      members: [],
      waiting: [],
    };
    groups.set(fingerprint, group);
    group.members.push(work);
  }
  await Promise.all(
    [...groups.values()].map(async (group) => {
      try {
        proceed.push(...(await decideGroup(ctx, group, owner)));
      } catch (error) {
        ctx.redeliver(
          group.members.map((w) => w.message),
          'shared read lookup failed; messages left for redelivery',
          error,
        );
      }
    }),
  );
  return {
    proceed,
    settle: async () => {
      await Promise.all(
        [...groups.values()].flatMap((group) =>
          group.waiting.map((work) =>
            ctx.safely(work.message, () => settleWaiting(ctx, group, work, owner)),
          ),
        ),
      );
    },
  };
}

/** The requests of one batch for one read, and how its leader here ended it. */
interface ReadGroup {
  readonly fingerprint: string;
  readonly cacheMs: number;
  readonly members: Work[];
  /** Members waiting for a leader of this batch. */
  readonly waiting: Work[];
  ending?: ReadEnding;
}

/** The fingerprint of the request's read, if it shares one under this deployment. */
function sharedFingerprint(ctx: BatchContext, work: Work): string | undefined {
  if (ctx.reads === undefined || !isShareableRead(work.request.call)) return undefined;
  const { reads } = ctx.deployment;
  if (!reads.coalesce && cacheMsFor(reads, work.request.call) === 0) return undefined;
  return callFingerprint(work.request);
}

/** One read: one consistent read of its item, then each member's decision; returns who goes on. */
async function decideGroup(
  ctx: BatchContext,
  group: ReadGroup,
  leaseHolder: string,
): Promise<Work[]> {
  const store = ctx.reads;
  if (store === undefined) return group.members;
  const proceed: Work[] = [];
  let read: SharedRead | undefined = await store.get(group.fingerprint);
  let leader: string | undefined;
  // Reservations first: they hold a slot already, so they are the ones to lead.
  const members = [...group.members].sort(
    (a, b) => Number(b.reservation !== undefined) - Number(a.reservation !== undefined),
  );
  for (const work of members) {
    const owner = ownerOf(work);
    const who = { owner, firstSeenMs: work.firstSeenMs };
    let decision: ReadDecision = decideRead(read, who, ctx.clock());
    if (decision.kind === 'lead' && leader !== undefined && leader !== owner) {
      // Another member of this batch just claimed it: wait for that one here.
      decision = { kind: 'follow', leaseUntil: ctx.clock() };
    }
    for (let tries = 0; decision.kind === 'lead' && leader === undefined; tries++) {
      if (tries === MAX_CLAIMS) {
        // Contended beyond reason: look again shortly, like a follower.
        decision = { kind: 'follow', leaseUntil: ctx.clock() };
        break;
      }
      const claim = await store.claim(
        group.fingerprint,
        owner,
        read,
        ctx.clock(),
        readLeaseMs(ctx, work),
      );
      read = claim.read;
      if (claim.won) leader = owner;
      else decision = decideRead(read, who, ctx.clock());
    }
    switch (decision.kind) {
      case 'lead':
        proceed.push(
          leader === owner
            ? {
                ...work,
                share: {
                  fingerprint: group.fingerprint,
                  cacheMs: group.cacheMs,
                  ended: (ending) => {
                    group.ending = ending;
                  },
                },
              }
            : work,
        );
        break;
      case 'alone':
        proceed.push(work);
        break;
      case 'coalesced':
      case 'cached':
        await ctx.safely(work.message, () =>
          answer(ctx, work, decision.read, decision.kind, leaseHolder),
        );
        break;
      case 'follow':
        if (leader !== undefined && read?.state === 'running' && read.owner === leader) {
          group.waiting.push(work);
        } else {
          follow(ctx, work, decision.leaseUntil);
        }
    }
  }
  return proceed;
}

/** A follower of a leader of this batch, once the batch's calls are done. */
async function settleWaiting(
  ctx: BatchContext,
  group: ReadGroup,
  work: Work,
  leaseHolder: string,
): Promise<void> {
  const { ending } = group;
  if (ending?.kind === 'done' && ending.startedAt >= work.firstSeenMs) {
    const { output, startedAt, finishedAt, cacheUntil } = ending;
    const read: DoneRead = { state: 'done', version: 0, output, startedAt, finishedAt, cacheUntil };
    await answer(ctx, work, read, 'coalesced', leaseHolder);
    return;
  }
  // The leader did not run here (a later slot), or ended without an output to share.
  follow(ctx, work, ctx.clock());
}

/**
 * Finishes a request with a shared output: no call, no token. One write when the request is open
 * (the common case); otherwise the request's claim says why — finished already (a duplicate,
 * answered with its stored result), held elsewhere (looked at again later), or its id belongs to
 * another call (a conflict) — exactly as for a request about to make its own call.
 */
async function answer(
  ctx: BatchContext,
  work: Work,
  read: DoneRead,
  how: 'coalesced' | 'cached',
  leaseHolder: string,
): Promise<void> {
  const result = succeededResult(
    work.request.id,
    0,
    read.output,
    { receivedAt: work.firstSeenMs, finishedAt: Math.max(work.firstSeenMs, ctx.clock()) },
    how === 'coalesced' ? { coalesced: true } : { cachedAt: read.finishedAt },
  );
  const metric = how === 'coalesced' ? METRICS.CoalescedCalls : METRICS.CachedCalls;
  ctx.telemetry.count(metric, 1, { Service: work.request.call.service });
  if ((await finishOpen(ctx, work, result)) !== undefined) return;
  const key = ownerOf(work);
  const claimedAt = ctx.clock();
  const claim = await ctx.requests.claim(
    key,
    callFingerprint(work.request),
    leaseHolder,
    claimedAt,
    ctx.deployment.leaseMs,
    work.firstSeenMs,
  );
  if (claim.kind === 'conflict') await answerConflict(ctx, work);
  else if (claim.kind === 'unavailable') answerUnavailable(ctx, work, claim.state);
  else await finishClaimed(ctx, work, leaseFor(ctx, key, leaseHolder, claimedAt), result);
}

/** Back to the scheduled queue to look again later, one more wait counted. */
function follow(ctx: BatchContext, work: Work, leaseUntil: number): void {
  // Its count of waits is trusted where only the dispatcher writes: the scheduled queue.
  const follows = work.message.queueName === ctx.scheduledQueueName ? followsOf(work.message) : 0;
  const now = ctx.clock();
  requeue(ctx, work, now + followDelayMs(follows, leaseUntil, now), undefined, follows + 1);
}

/**
 * After a leader's call: ends its read for everyone — the output shared (and cached for the
 * operation's `cacheSeconds`) when the call succeeded, `unshared` when it failed for good or its
 * output is larger than a shared read carries; nothing yet when it will be retried (the leader
 * keeps its lease and claims again when it is back).
 */
export async function endSharedRead(
  ctx: BatchContext,
  work: Work,
  decision: AfterCall<Record<string, unknown>>,
  times: { readonly startedAt: number; readonly finishedAt: number },
): Promise<void> {
  const { share } = work;
  if (share === undefined || ctx.reads === undefined) return;
  let ending: ReadEnding;
  if (decision.kind === 'succeeded' && isShareableOutput(JSON.stringify(decision.output))) {
    const cacheUntil = share.cacheMs > 0 ? times.finishedAt + share.cacheMs : 0;
    ending = { kind: 'done', output: decision.output, ...times, cacheUntil };
  } else if (
    decision.kind === 'succeeded' ||
    decision.kind === 'failed' ||
    decision.kind === 'give-up'
  ) {
    // Failed, or an output too large to carry in the followers' results: each calls alone.
    ending = { kind: 'unshared', ...times };
  } else {
    return;
  }
  share.ended(ending);
  await ctx.reads.finish(share.fingerprint, ownerOf(work), ending);
}

/** A leader that will not call (its request was finished already) gives its read up. */
export async function releaseSharedRead(ctx: BatchContext, work: Work): Promise<void> {
  if (work.share === undefined || ctx.reads === undefined) return;
  await ctx.reads.release(work.share.fingerprint, ownerOf(work), ctx.clock());
}
