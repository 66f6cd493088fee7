/**
 * Reading back a call whose answer was lost. A call that is not safe to repeat may have run when
 * its attempt ended without an answer (a hung connection timed out, a dispatcher died after the
 * "sent" marker): running it again could do it twice, so without more it ends `OutcomeUnknown`.
 * When the registry knows how to read its effect (`OutcomeCheck`, shared/services/definition.ts)
 * and the producer may make that read (an allowlist entry without resource conditions allows the
 * call; infra/target-role.ts grants the read for such entries only), the next attempt reads first: applied → the request succeeded (`confirmedBy`, no output of its
 * own); absent (no trace of it) → the call is sent again; unclear (another writer may have
 * changed the same state since) → `OutcomeUnknown` as before; the read failed → still unknown,
 * read again later.
 *
 * "Absent" is read after the lost attempt's connection is closed (timed out, or its process gone),
 * so the lost request can no longer arrive; a provider that still runs a request after its
 * connection closed would defeat this, which is why only calls whose effect is a state (tags
 * present or gone) have checks, and why "absent" needs no trace at all of the call's keys.
 */

import { allowedWithoutConditions } from '../config/deployment.js';
import type { CheckedEffect } from '../services/registry.js';
import { classifyCallError } from './classify.js';
import type { BatchContext, Work } from './context.js';
import type { CallOutcome } from './retry-policy.js';

/** What reading back the effect of a call that may have run found. */
export type ReadBack =
  /** The effect is there: the call (or an identical one) ran. */
  | { readonly kind: 'applied'; readonly operation: string }
  /** The effect is not there: the call did not run, and may be sent again. */
  | { readonly kind: 'absent'; readonly operation: string }
  /** The read failed for now (throttled, timed out, 5xx): whether it ran is still unknown. */
  | { readonly kind: 'unread'; readonly outcome: CallOutcome<never> }
  /** It cannot be learned: no check for this call, or the read itself is refused. */
  | { readonly kind: 'unknowable'; readonly message: string };

/**
 * The read that shows this request's call's effect: the registry's check for it, where the
 * producer's session may make it (an allowlist entry without resource conditions allows the
 * call); else `undefined`.
 */
export function readBackOperation(
  ctx: BatchContext,
  { producer, request }: Work,
): string | undefined {
  const operation = ctx.runner.outcomeCheckOf(request.call);
  if (operation === undefined) return undefined;
  return allowedWithoutConditions(ctx.deployment, producer, request.target, request.call)
    ? operation
    : undefined;
}

/** Reads back whether the request's call, which may have run, took effect. */
export async function readBack(ctx: BatchContext, work: Work): Promise<ReadBack> {
  const { producer, request } = work;
  const operation = readBackOperation(ctx, work);
  if (operation === undefined) {
    const conditioned = ctx.runner.outcomeCheckOf(request.call) !== undefined;
    return {
      kind: 'unknowable',
      message: conditioned
        ? "a previous attempt was interrupted after sending the call, the operation is not safe to repeat, and the producer's allowlist entry for it has resource conditions, so its effect is not read back"
        : 'a previous attempt was interrupted after sending the call, and the operation is not safe to repeat',
    };
  }
  let effect: CheckedEffect;
  try {
    effect = await ctx.runner.readBack({ ...request, producer });
  } catch (error) {
    const classified = classifyCallError(error, ctx.clock());
    const code = classified.kind === 'dry-run' ? 'DryRunOperation' : classified.code;
    const why = `reading back with ${operation} failed (${code}: ${classified.message})`;
    if (classified.kind === 'permanent' || classified.kind === 'dry-run') {
      return {
        kind: 'unknowable',
        message: `a previous attempt was interrupted after sending the call, and ${why}`,
      };
    }
    // Throttled, 5xx, timed out: the previous call may still have run; read again later.
    return {
      kind: 'unread',
      outcome: { kind: 'transient', code, message: why, mayHaveRun: true },
    };
  }
  ctx.telemetry.info('read back a call whose answer was lost', {
    id: request.id,
    operation,
    effect,
  });
  if (effect === 'unclear') {
    return {
      kind: 'unknowable',
      message: `a previous attempt sent the call without an answer, and ${operation} shows its keys with other values: it may not have run, or another writer changed them since; the operation is not safe to repeat`,
    };
  }
  return { kind: effect, operation };
}
