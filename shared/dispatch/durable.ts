/**
 * Bookkeeping that must not be lost to a blink of DynamoDB, SQS or S3: the writes a dispatcher
 * makes while it holds a request's lease (the "sent" marker, the lease's release, a throttle
 * report, a large output, the result, the dead letter) are tried again after a failure, with
 * exponential back-off and full jitter, for as long as the lease and the invocation allow.
 *
 * Why: a write given up too soon turns into something worse. A release that fails leaves the
 * request `running`; when its lease lapses, the next dispatcher must assume the call may have run.
 * A result that fails after a non-idempotent call succeeded would lose what the provider did.
 * Each such write is safe to repeat: conditional on the lease, or of the same content.
 */
import type { BatchContext, Lease } from './context.js';

/** The first pause after a failed write; each next one's ceiling doubles. */
export const DURABLE_BASE_MS = 100;
/** The longest pause between two tries. */
export const DURABLE_CAP_MS = 2_000;
/** Most tries of one write, whatever time is left. */
export const DURABLE_MAX_TRIES = 20;
/**
 * Time kept free before the bound (the lease's end, the invocation's): the last try must have
 * time to land, and the batch to send what it must.
 */
export const DURABLE_MARGIN_MS = 1_000;

/** The pause before try `attempt + 1`: full jitter over a doubling ceiling. */
export function durablePauseMs(attempt: number, random: number): number {
  const ceiling = Math.min(DURABLE_CAP_MS, DURABLE_BASE_MS * 2 ** (attempt - 1));
  return Math.max(1, Math.round(random * ceiling));
}

/**
 * Runs `write` until it succeeds, pausing between tries, as long as a try can still land
 * {@link DURABLE_MARGIN_MS} before `untilMs` (and at most {@link DURABLE_MAX_TRIES} times); then
 * throws the last error. `write` must be safe to repeat.
 */
export async function durably<T>(
  ctx: Pick<BatchContext, 'clock' | 'random' | 'sleep' | 'telemetry'>,
  what: string,
  untilMs: number,
  write: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const pause = durablePauseMs(attempt, ctx.random());
      if (attempt >= DURABLE_MAX_TRIES || ctx.clock() + pause > untilMs - DURABLE_MARGIN_MS) {
        throw error;
      }
      ctx.telemetry.warn(`${what} failed; trying again`, {
        error: (error as Error).name,
        attempt,
        pauseMs: pause,
      });
      await ctx.sleep(pause);
    }
  }
}

/**
 * The lease of a claim made at `claimedAtMs`: writes under it are retried until shortly before
 * the lease or the invocation ends, whichever comes first.
 */
export function leaseFor(
  ctx: Pick<BatchContext, 'deployment' | 'deadlineMs'>,
  key: string,
  owner: string,
  claimedAtMs: number,
): Lease {
  return { key, owner, untilMs: Math.min(claimedAtMs + ctx.deployment.leaseMs, ctx.deadlineMs) };
}
