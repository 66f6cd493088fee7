/**
 * The result record a request ends with: stored under the request's `id` (so a duplicate delivery
 * can be answered with it) and sent to `replyTo` when the request names a queue. It is part of the
 * versioned wire contract, so it carries `v` like the request does.
 *
 * Builders are pure and make records that satisfy {@link resultSchema}: they truncate what could
 * be long (provider error messages, problem lists) so that a record always fits in a DynamoDB
 * item and an SQS message. An output too large for that (over `MAX_INLINE_OUTPUT_BYTES`,
 * ./sizes.ts) is not in the record: it is stored in S3 and the record carries `outputRef`.
 */
import { z } from 'zod';
import { OPERATION_PATTERN, OPERATION_RULE } from './patterns.js';
import {
  decodeBody,
  describeProblems,
  type Problem,
  problemsFromIssues,
  truncate,
  versionProblem,
} from './problems.js';
import { CONTRACT_VERSION, idSchema, jsonObjectSchema } from './request.js';
import { MAX_MESSAGE_BYTES } from './sizes.js';

/** How a request ended. */
export const RESULT_STATUSES = ['succeeded', 'failed', 'rejected'] as const;

/** How a request ended: the call ran and returned, ended in error, or the message was invalid. */
export type ResultStatus = (typeof RESULT_STATUSES)[number];

/**
 * Error codes Sluice itself sets; a failed call otherwise carries the provider's own code
 * (e.g. `InvalidParameterValue`).
 */
export const ERROR_CODES = {
  /** The message broke the contract; the result lists the problems. Never retried. */
  validationFailed: 'ValidationFailed',
  /**
   * The producer used this `id` before for another call (target, operation or input): the new
   * message is refused, never run, and the id's record is left as it was.
   */
  idConflict: 'IdConflict',
  /** The request used all its attempts (`maxAttempts`) without the call completing. */
  attemptsExhausted: 'AttemptsExhausted',
  /** The request's `deadline` (or the deployment's longest wait) passed before the call completed. */
  deadlineExceeded: 'DeadlineExceeded',
  /** The call costs more tokens than a bucket holds (e.g. `MaxCount` above the instances bucket). */
  neverFits: 'NeverFits',
  /**
   * The call may have reached the provider (an earlier attempt's dispatcher died mid-call, or the
   * connection failed after the request was sent) and the operation is not safe to repeat.
   */
  outcomeUnknown: 'OutcomeUnknown',
  /** The call succeeded but its output is larger than the deployment's `maxOutputBytes`. */
  outputTooLarge: 'OutputTooLarge',
} as const;

/** Longest `error.message` kept; provider messages beyond this are cut. */
export const MAX_ERROR_MESSAGE_CHARS = 2048;

/**
 * Most problems a rejected result lists (the message gives the total count). A 1 MiB body can
 * hold tens of thousands of unknown keys; the record must still fit in a 400 KB DynamoDB item.
 */
export const MAX_RESULT_PROBLEMS = 50;

// Bounds each listed problem; with MAX_RESULT_PROBLEMS this keeps the list under ~50 KB.
const MAX_PROBLEM_TEXT_CHARS = 512;

const epochMs = z.int().min(0);

/** When the request was received, started running (absent if it never ran) and finished. */
export const timingsSchema = z.strictObject({
  receivedAt: epochMs,
  startedAt: epochMs.optional(),
  finishedAt: epochMs,
});

/** A validation problem as listed in a rejected result. */
export const problemSchema = z.strictObject({
  field: z.string().max(MAX_PROBLEM_TEXT_CHARS),
  rule: z.string().min(1).max(64),
  message: z.string().max(MAX_PROBLEM_TEXT_CHARS),
});

const errorSchema = z.strictObject({
  code: z.string().min(1).max(256),
  message: z.string().max(MAX_ERROR_MESSAGE_CHARS),
});

const attempts = z.int().min(0);

/** S3 bucket names: 3–63 of lowercase letters, digits, dots and hyphens. */
const S3_BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Where a large output is: an S3 object holding the output's JSON, its size in bytes and its
 * SHA-256 (hex), which a reader checks. The object expires with the result.
 */
export const outputRefSchema = z.strictObject({
  bucket: z.string().regex(S3_BUCKET_PATTERN, 'must be an S3 bucket name'),
  key: z.string().min(1).max(1024),
  bytes: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
});

/** A pointer to a large output in S3. */
export type OutputRef = z.infer<typeof outputRefSchema>;

/** The result record, discriminated by `status`. */
export const resultSchema = z.discriminatedUnion('status', [
  z
    .strictObject({
      v: z.literal(CONTRACT_VERSION),
      status: z.literal('succeeded'),
      id: idSchema,
      attempts,
      /** The call's output as JSON (dates as ISO strings, no SDK `$metadata`) … */
      output: jsonObjectSchema.optional(),
      /** … or, when it is large, where it is stored: exactly one of the two. */
      outputRef: outputRefSchema.optional(),
      timings: timingsSchema,
      dryRun: z
        .literal(true)
        .optional()
        .describe(
          'A DryRun call that the provider would have run (EC2 answered DryRunOperation, its ' +
            'success signal); output is empty. Absent for every other call.',
        ),
      coalesced: z
        .literal(true)
        .optional()
        .describe(
          "The output of another request's identical read (same target, operation and input), " +
            'whose provider call started after this request was sent: this request made no call ' +
            'of its own (attempts 0) and spent no tokens.',
        ),
      confirmedBy: z
        .string()
        .regex(OPERATION_PATTERN, OPERATION_RULE)
        .optional()
        .describe(
          "The call's answer was lost (a connection that hung, a dispatcher that died) and the " +
            'operation is not safe to repeat; reading its effect back with this operation ' +
            "(e.g. DescribeTags) showed it applied. output is empty: the call's own answer " +
            'never arrived.',
        ),
      cachedAt: epochMs
        .optional()
        .describe(
          'The output of an identical read that the provider answered at this time (epoch ms), ' +
            "served from the deployment's result cache for the operation: no call, no tokens.",
        ),
    })
    .check((payload) => {
      const { output, outputRef } = payload.value;
      if ((output === undefined) === (outputRef === undefined)) {
        payload.issues.push({
          code: 'custom',
          input: payload.value,
          path: ['output'],
          message: 'exactly one of output and outputRef is required',
          params: { rule: 'one-of' },
          continue: true,
        });
      }
    })
    // Each branch names its property again: strict validators (ajv) want `required` beside it.
    .meta({
      oneOf: [
        { properties: { output: { type: 'object' } }, required: ['output'] },
        { properties: { outputRef: { type: 'object' } }, required: ['outputRef'] },
      ],
    }),
  z.strictObject({
    v: z.literal(CONTRACT_VERSION),
    status: z.literal('failed'),
    id: idSchema,
    attempts,
    error: errorSchema,
    timings: timingsSchema,
  }),
  z.strictObject({
    v: z.literal(CONTRACT_VERSION),
    status: z.literal('rejected'),
    // Absent when the message had no usable id (not JSON, or the id itself was invalid).
    id: idSchema.optional(),
    attempts,
    error: z.strictObject({
      code: z.enum([ERROR_CODES.validationFailed, ERROR_CODES.idConflict]),
      message: z.string().max(MAX_ERROR_MESSAGE_CHARS),
      problems: z.array(problemSchema).max(MAX_RESULT_PROBLEMS),
    }),
    timings: timingsSchema,
  }),
]);

/** A result record. */
export type SluiceResult = z.infer<typeof resultSchema>;
/** A result of a call that ran and returned. */
export type SucceededResult = Extract<SluiceResult, { status: 'succeeded' }>;
/** A result of a call that ended in an error, or ran out of attempts or time. */
export type FailedResult = Extract<SluiceResult, { status: 'failed' }>;
/** A result of a message that broke the contract. */
export type RejectedResult = Extract<SluiceResult, { status: 'rejected' }>;
/** A result's `timings`, epoch milliseconds. */
export type Timings = z.infer<typeof timingsSchema>;
/** A failed result's `error`. */
export type ResultError = z.infer<typeof errorSchema>;

/** Outcome of validating a result record. */
export type ResultParseResult =
  | { readonly ok: true; readonly result: SluiceResult }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/** How a succeeded result came about, when not by a call of its own that returned. */
export type SucceededHow = Partial<
  Pick<SucceededResult, 'dryRun' | 'coalesced' | 'cachedAt' | 'confirmedBy'>
>;

/**
 * The result of a call that returned `output` (already converted to plain JSON); `how` marks a
 * DryRun that would have succeeded, or an output shared from another request's call.
 */
export function succeededResult(
  id: string,
  attempts: number,
  output: Record<string, unknown>,
  timings: Timings,
  how: SucceededHow = {},
): SucceededResult {
  return { v: CONTRACT_VERSION, status: 'succeeded', id, attempts, output, timings, ...how };
}

/** The result of a call whose output is too large to carry: it is in S3, at `outputRef`. */
export function succeededWithOutputRef(
  id: string,
  attempts: number,
  outputRef: OutputRef,
  timings: Timings,
): SucceededResult {
  return { v: CONTRACT_VERSION, status: 'succeeded', id, attempts, outputRef, timings };
}

/** The result of a request that failed; a long `error.message` is truncated. */
export function failedResult(
  id: string,
  attempts: number,
  error: ResultError,
  timings: Timings,
): FailedResult {
  const message = truncate(error.message, MAX_ERROR_MESSAGE_CHARS);
  return {
    v: CONTRACT_VERSION,
    status: 'failed',
    id,
    attempts,
    error: { code: error.code, message },
    timings,
  };
}

/**
 * The result of a message rejected on receipt: no attempts, received and finished at `nowMs`.
 * Lists at most {@link MAX_RESULT_PROBLEMS} problems; the message counts them all. `code` is
 * `ValidationFailed` (the message broke the contract or the allowlist) or `IdConflict`.
 */
export function rejectedResult(
  id: string | undefined,
  problems: readonly Problem[],
  nowMs: number,
  code: RejectedResult['error']['code'] = ERROR_CODES.validationFailed,
): RejectedResult {
  const listed = problems.slice(0, MAX_RESULT_PROBLEMS).map((p) => ({
    field: truncate(p.field, MAX_PROBLEM_TEXT_CHARS),
    rule: truncate(p.rule, 64),
    message: truncate(p.message, MAX_PROBLEM_TEXT_CHARS),
  }));
  const result: RejectedResult = {
    v: CONTRACT_VERSION,
    status: 'rejected',
    attempts: 0,
    error: {
      code,
      message: truncate(describeProblems(problems), MAX_ERROR_MESSAGE_CHARS),
      problems: listed,
    },
    timings: { receivedAt: nowMs, finishedAt: nowMs },
  };
  // Leave `id` out rather than undefined, so the record's JSON and DynamoDB forms agree.
  return id === undefined ? result : { ...result, id };
}

/** Validates an already-parsed result record; reports every problem, as for requests. */
export function validateResult(value: unknown): ResultParseResult {
  const wrongVersion = versionProblem(value, CONTRACT_VERSION);
  if (wrongVersion) return { ok: false, problems: [wrongVersion] };
  const parsed = resultSchema.safeParse(value, { reportInput: true });
  if (parsed.success) return { ok: true, result: parsed.data };
  return { ok: false, problems: problemsFromIssues(parsed.error.issues) };
}

/** Parses and validates a result message body (e.g. one read from a `replyTo` queue). Never throws. */
export function parseResult(body: string): ResultParseResult {
  const decoded = decodeBody(body, MAX_MESSAGE_BYTES);
  return decoded.ok ? validateResult(decoded.value) : decoded;
}
