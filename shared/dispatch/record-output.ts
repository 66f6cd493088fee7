/**
 * A succeeded call's result, by the size of its output: kept in the result when it is small
 * (at most `MAX_INLINE_OUTPUT_BYTES`, so the record fits a DynamoDB item and every reply fits an
 * SNS notification), stored in S3 with a pointer in the result when it is larger, and refused
 * (`failed`, `OutputTooLarge`) beyond the deployment's `maxOutputBytes`.
 */
import {
  ERROR_CODES,
  failedResult,
  type SluiceResult,
  succeededResult,
  succeededWithOutputRef,
  type Timings,
} from '../contract/result.js';
import { MAX_INLINE_OUTPUT_BYTES } from '../contract/sizes.js';
import type { BatchContext, Lease, Work } from './context.js';
import { durably } from './durable.js';

/** Where an output goes, by its size in bytes (its JSON, UTF-8). */
export type OutputPlace = 'inline' | 's3' | 'too-large';

/** Where an output of `bytes` goes, given the deployment's `maxOutputBytes`. */
export function outputPlace(bytes: number, maxOutputBytes: number): OutputPlace {
  if (bytes > maxOutputBytes) return 'too-large';
  return bytes <= MAX_INLINE_OUTPUT_BYTES ? 'inline' : 's3';
}

/**
 * The result of attempt `attempt` of the request, whose call returned `output`; a large output is
 * written to S3 first (under its producer's prefix), tried again while `lease` holds (then throws
 * what S3 threw).
 */
export async function succeededWithOutput(
  ctx: BatchContext,
  lease: Lease,
  { producer, request }: Work,
  attempt: number,
  output: Record<string, unknown>,
  timings: Timings,
): Promise<SluiceResult> {
  const body = JSON.stringify(output);
  const bytes = Buffer.byteLength(body, 'utf8');
  const { maxOutputBytes } = ctx.deployment;
  switch (outputPlace(bytes, maxOutputBytes)) {
    case 'inline':
      return succeededResult(request.id, attempt, output, timings);
    case 's3': {
      const ref = await durably(ctx, 'output upload', lease.untilMs, () =>
        ctx.outputs.put(producer, request.id, attempt, body),
      );
      return succeededWithOutputRef(request.id, attempt, ref, timings);
    }
    case 'too-large':
      return failedResult(
        request.id,
        attempt,
        {
          code: ERROR_CODES.outputTooLarge,
          message: `the call succeeded, but its output is ${bytes} bytes, more than maxOutputBytes (${maxOutputBytes}); it was not kept`,
        },
        timings,
      );
  }
}
