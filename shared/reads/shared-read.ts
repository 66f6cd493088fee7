/**
 * Shared reads, the pure part: what the reads table holds for one read (one fingerprint,
 * ./fingerprint.ts) and what a request for that read does about it. Single-flight across every
 * dispatcher: one request claims the read (a lease) and makes the provider call; identical
 * requests that arrive meanwhile wait, without a call and without a token, and finish with its
 * output; a cached output serves later requests while it is fresh.
 *
 * The rule that makes sharing safe: a request takes another's output only from a provider call
 * that **started after the request was sent** (`startedAt ≥ firstSeenMs`). That answer is one the
 * request's own call could have had, so coalescing never hands out state older than the request
 * (a read after a write still sees the write). A request that arrives while the shared call is
 * already under way waits for it and then leads the next one. Only the cache (configured per
 * operation) serves older outputs, and says so (`cachedAt`).
 *
 * When the leader dies its lease lapses and the next request takes the read over (`lead`): a read
 * runs again, which is safe; nothing waits forever. When the leader's call fails, or its output is
 * too large to share, the read ends `unshared` and those that waited for it make their own calls.
 */

/** The reads-table item of one read, by state. `version` counts its writes (conditions use it). */
export type SharedRead =
  /** A request holds the read until `leaseUntil` and will make the call. */
  | {
      readonly state: 'running';
      readonly version: number;
      /** The leader: the request that claimed it (its key in the requests table). */
      readonly owner: string;
      readonly leaseUntil: number;
    }
  /** The call returned `output`; it started at `startedAt` and is cached until `cacheUntil`. */
  | DoneRead
  /** The call ended without a shareable output (it failed, or the output is too large). */
  | {
      readonly state: 'unshared';
      readonly version: number;
      readonly startedAt: number;
      readonly finishedAt: number;
    }
  /** The leader gave the read up without calling (its request was already finished). */
  | { readonly state: 'released'; readonly version: number };

/** A read whose call returned: its output, when the call started and ended, its cache expiry. */
export interface DoneRead {
  readonly state: 'done';
  readonly version: number;
  readonly output: Record<string, unknown>;
  /** When the provider call left, epoch ms: it serves requests sent before then. */
  readonly startedAt: number;
  /** When the provider answered, epoch ms: a cached result's `cachedAt`. */
  readonly finishedAt: number;
  /** Epoch ms until which it serves anyone (the operation's `cacheSeconds`); 0: not cached. */
  readonly cacheUntil: number;
}

/** Who asks: the request (its key, which a re-delivery shares) and when it was first sent. */
export interface ReadRequester {
  readonly owner: string;
  readonly firstSeenMs: number;
}

/** What a request does about its read. */
export type ReadDecision =
  /** Claim the read (free, lapsed, its own, or stale) and make the call for everyone. */
  | { readonly kind: 'lead' }
  /** Another request holds it: wait (no call, no token) and look again, at most until `leaseUntil`. */
  | { readonly kind: 'follow'; readonly leaseUntil: number }
  /** Finish with the output of a call that started after this request was sent. */
  | { readonly kind: 'coalesced'; readonly read: DoneRead }
  /** Finish with a cached output that is still fresh. */
  | { readonly kind: 'cached'; readonly read: DoneRead }
  /** The call it waited for gave nothing to share: make its own call, unshared. */
  | { readonly kind: 'alone' };

/** What `who` does about `read` (undefined: nobody has it) at `nowMs`. */
export function decideRead(
  read: SharedRead | undefined,
  who: ReadRequester,
  nowMs: number,
): ReadDecision {
  if (read === undefined) return { kind: 'lead' };
  switch (read.state) {
    case 'running':
      return read.owner === who.owner || read.leaseUntil <= nowMs
        ? { kind: 'lead' }
        : { kind: 'follow', leaseUntil: read.leaseUntil };
    case 'done':
      if (read.startedAt >= who.firstSeenMs) return { kind: 'coalesced', read };
      if (nowMs < read.cacheUntil) return { kind: 'cached', read };
      return { kind: 'lead' };
    case 'unshared':
      return read.startedAt >= who.firstSeenMs ? { kind: 'alone' } : { kind: 'lead' };
    case 'released':
      return { kind: 'lead' };
  }
}

/** A follower's first wait: SQS's delays are whole seconds, and a read call takes less. */
export const FOLLOW_BASE_MS = 1_000;
/** A follower's longest wait between two looks. */
export const FOLLOW_MAX_MS = 16_000;

/**
 * How long a follower waits before it looks again, ms: one second doubling with each look, at
 * most {@link FOLLOW_MAX_MS}, and never past the leader's lease (then it may take over). The
 * followers of a read come back on a widening schedule, not in a poll loop.
 */
export function followDelayMs(looks: number, leaseUntil: number, nowMs: number): number {
  const backoff = Math.min(FOLLOW_MAX_MS, FOLLOW_BASE_MS * 2 ** Math.max(0, looks));
  return Math.max(FOLLOW_BASE_MS, Math.min(backoff, leaseUntil - nowMs));
}
