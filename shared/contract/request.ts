/**
 * The request message, contract version 1: what a producer puts on the queue to have one API
 * call made under the shared limits (DESIGN.md, "The request").
 *
 * The schema is strict everywhere the contract defines the shape: an unknown field is reported,
 * not dropped, because a silently ignored typo (`maxAttempt`, `prority`) changes behaviour
 * without anyone noticing. Only `call.input` (the SDK input, whose shape is the SDK's business)
 * and `tags` are open.
 *
 * Which (service, operation) pairs may run and which `replyTo` queues may be used is deployment
 * configuration, checked later; this module only checks that the message is well formed.
 */
import { z } from 'zod';
import { isPlainObject } from '../util/objects.js';
import {
  ACCOUNT_PATTERN,
  ACCOUNT_RULE,
  OPERATION_PATTERN,
  OPERATION_RULE,
  REGION_PATTERN,
  REGION_RULE,
  SERVICE_PATTERN,
  SERVICE_RULE,
  SNS_TOPIC_ARN_PATTERN,
  SNS_TOPIC_ARN_RULE,
} from './patterns.js';
import {
  decodeBody,
  describeType,
  type Problem,
  problemsFromIssues,
  versionProblem,
} from './problems.js';
import { MAX_REQUEST_BYTES } from './sizes.js';

/** The contract version this code reads and writes; the request's and the result's `v`. */
export const CONTRACT_VERSION = 1;

export { MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES } from './sizes.js';

/** Why a request body has the size limit it has, as a rejection says it. */
export const REQUEST_SIZE_RULE = "SQS's 1 MiB less 8 KiB kept for Sluice's envelope";

/** Request priorities, most urgent first. */
export const PRIORITIES = ['high', 'normal', 'low'] as const;

/** A request's priority. */
export type Priority = (typeof PRIORITIES)[number];

/**
 * Priority of a request that gives none. Applied by {@link effectivePriority}, not by the schema,
 * so a parsed request still says what the producer actually sent.
 */
export const DEFAULT_PRIORITY: Priority = 'normal';

/** Attempts allowed to a request that gives no `maxAttempts`; see {@link effectiveMaxAttempts}. */
export const DEFAULT_MAX_ATTEMPTS = 10;

/** Largest `maxAttempts` a request may ask for. */
export const MAX_ATTEMPTS_LIMIT = 100;

/** Most entries `tags` may have. */
export const MAX_TAGS = 20;

/** Longest `replyTo`, in characters. */
export const MAX_REPLY_TO_CHARS = 2048;

/**
 * Deepest nesting allowed in a JSON object carried by the contract (`call.input`, a result's
 * `output`), counting the object itself as level 1. DynamoDB documents 32 levels as its limit
 * for nested attributes, and no SDK input comes near it; the bound also keeps validation of a
 * hostile, deeply nested body from running out of stack.
 */
export const MAX_JSON_DEPTH = 32;

// `#` separates the parts of table keys (see shared/storage/tables.ts), so no part may contain it.
const ID_PATTERN = /^[A-Za-z0-9_.:-]*$/;

type Report = (path: readonly PropertyKey[], rule: string, text: string) => void;

/**
 * Reports every place where `value` would not survive `JSON.stringify` unchanged: the request
 * travels as JSON, so what the producer validates must be what the dispatcher receives. Object
 * properties that are `undefined` are allowed (they are dropped, as an absent optional field
 * would be); `undefined` array items (sent as `null`), non-finite numbers, Dates, Maps, class
 * instances, functions, bigints and cycles are not. Values reached twice without a cycle are
 * checked once.
 */
function checkJson(
  value: unknown,
  path: PropertyKey[],
  depth: number,
  ancestors: Set<object>,
  checked: Set<object>,
  report: Report,
): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) report(path, 'json', `${value} is not a JSON number`);
      return;
    case 'object':
      break;
    default:
      report(path, 'json', `${describeType(value)} is not a JSON value`);
      return;
  }
  if (value === null) return;
  const isArray = Array.isArray(value);
  if (!isArray && !isPlainObject(value)) {
    report(
      path,
      'json',
      `${describeType(value)} is not a JSON value; send plain data (dates as ISO 8601 strings)`,
    );
    return;
  }
  if (ancestors.has(value)) {
    report(path, 'json', 'is circular: it contains itself');
    return;
  }
  if (checked.has(value)) return;
  if (depth > MAX_JSON_DEPTH) {
    report(path, 'max-depth', `nests deeper than ${MAX_JSON_DEPTH} levels`);
    return;
  }
  ancestors.add(value);
  if (isArray) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const itemPath = [...path, index];
      if (item === undefined)
        report(itemPath, 'json', 'undefined is not a JSON value (it would be sent as null)');
      else checkJson(item, itemPath, depth + 1, ancestors, checked, report);
    }
  } else {
    for (const [key, item] of Object.entries(value)) {
      const itemPath = [...path, key];
      // JSON.parse makes `__proto__` an ordinary key, but any later Object.assign or merge of the
      // value would treat it as the prototype: refuse it rather than carry it to the SDK.
      if (key === '__proto__') report(itemPath, 'reserved-key', 'is not allowed as a key');
      else if (item !== undefined) checkJson(item, itemPath, depth + 1, ancestors, checked, report);
    }
  }
  ancestors.delete(value);
  checked.add(value);
}

/** Adapts a {@link Report} to zod's check context so custom checks speak the problem vocabulary. */
function reporter(payload: z.core.ParsePayload<unknown>): Report {
  return (path, rule, text) => {
    payload.issues.push({
      code: 'custom',
      input: payload.value,
      path: [...path],
      message: text,
      params: { rule },
      continue: true,
    });
  };
}

/**
 * A JSON object: `call.input` of a request, `output` of a result. Checked by hand rather than
 * with `z.record(z.string(), z.json())` so that the checks are bounded in depth (zod's recursion
 * on a 1 MiB `[[[[…]]]]` body would overflow the stack), `__proto__` keys are reported instead of
 * silently dropped, and the parsed object is the one received, not a copy of up to 1 MiB.
 */
export const jsonObjectSchema = z
  .custom<Record<string, unknown>>(() => true)
  .check((payload) => {
    const report = reporter(payload);
    const value = payload.value;
    if (value === undefined) report([], 'required', 'is required (an empty object {} is fine)');
    else if (!isPlainObject(value))
      report([], 'type', `must be an object, not ${describeType(value)}`);
    else checkJson(value, [], 1, new Set(), new Set(), report);
  })
  // JSON Schema (schema/*.json) says what it can; the depth bound and `__proto__` it cannot.
  .meta({
    type: 'object',
    description: `A JSON object. Also checked by Sluice, beyond this schema: at most ${MAX_JSON_DEPTH} levels of nesting, no "__proto__" keys (rules max-depth, reserved-key).`,
  });

/**
 * `tags`: string labels for logs and results. Checked by hand so that the entry count is reported
 * together with the problems of individual entries (a zod refinement would be skipped once any
 * entry failed, and would count only the valid entries).
 */
const tagsSchema = z
  .custom<Record<string, string>>(() => true)
  .check((payload) => {
    const report = reporter(payload);
    const tags = payload.value;
    if (!isPlainObject(tags)) {
      report([], 'type', `must be an object of strings, not ${describeType(tags)}`);
      return;
    }
    const keys = Object.keys(tags);
    if (keys.length > MAX_TAGS) {
      report([], 'max-entries', `has ${keys.length} entries; at most ${MAX_TAGS} are allowed`);
    }
    for (const key of keys) {
      if (key === '__proto__') report([key], 'reserved-key', 'is not allowed as a tag key');
      else if (key.length < 1 || key.length > 128)
        report([key], 'length', 'tag keys must be 1 to 128 characters long');
      const value: unknown = tags[key];
      if (typeof value !== 'string')
        report([key], 'type', `must be a string, not ${describeType(value)}`);
      else if (value.length > 256) report([key], 'length', 'must be at most 256 characters long');
    }
  })
  // The same rules as JSON Schema, for producers that validate before sending.
  .meta({
    type: 'object',
    maxProperties: MAX_TAGS,
    propertyNames: { minLength: 1, maxLength: 128, not: { const: '__proto__' } },
    additionalProperties: { type: 'string', maxLength: 256 },
  });

// zod's own URL check, reused so that `replyTo` accepts exactly what it did before topics.
const httpUrl = z.url({ protocol: /^https?$/ });

/**
 * A result's destination: an SQS queue URL (http or https: emulators speak http) or an SNS
 * topic ARN. Which destinations a request may name is deployment configuration, checked by the
 * dispatcher; this checks the form only. Shared with the deployment configuration.
 */
export const replyDestinationSchema = z
  .string()
  .max(MAX_REPLY_TO_CHARS)
  .check((payload) => {
    const report = reporter(payload);
    const value = payload.value;
    if (value.startsWith('arn:')) {
      if (!SNS_TOPIC_ARN_PATTERN.test(value)) report([], 'pattern', SNS_TOPIC_ARN_RULE);
    } else if (!httpUrl.safeParse(value).success) {
      report(
        [],
        'format',
        'must be an http or https URL (an SQS queue URL) or an SNS topic ARN (arn:aws:sns:…)',
      );
    }
  })
  .meta({
    description:
      'Where the result is sent: an SQS queue URL or an SNS topic ARN that the deployment allows.',
    anyOf: [
      { type: 'string', format: 'uri', pattern: '^https?://' },
      { type: 'string', pattern: SNS_TOPIC_ARN_PATTERN.source },
    ],
  });

/** The producer's idempotency key: 1–128 of `A–Z a–z 0–9 _ . : -`. Shared with the result. */
export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(ID_PATTERN, 'may contain only letters, digits and _ . : - (no #, spaces or slashes)');

/** `target`: whose limits the call spends and where it runs. */
export const targetSchema = z.strictObject({
  account: z.string().regex(ACCOUNT_PATTERN, ACCOUNT_RULE),
  region: z.string().regex(REGION_PATTERN, REGION_RULE),
});

/** `call`: an AWS SDK call, named by the SDK's service id and the operation's name. */
export const callSpecSchema = z.strictObject({
  service: z.string().regex(SERVICE_PATTERN, SERVICE_RULE),
  operation: z.string().regex(OPERATION_PATTERN, OPERATION_RULE),
  input: jsonObjectSchema,
});

/**
 * The request, contract version 1. Defaults (`priority`, `maxAttempts`) are not filled in here;
 * use {@link effectivePriority} and {@link effectiveMaxAttempts}.
 */
export const requestSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  id: idSchema,
  target: targetSchema,
  call: callSpecSchema,
  priority: z.enum(PRIORITIES).optional(),
  // Offset or Z required: a local time would mean different instants to producer and dispatcher.
  deadline: z.iso
    .datetime({
      offset: true,
      error: 'must be an ISO 8601 date-time with Z or an offset, e.g. 2025-01-31T12:00:00Z',
    })
    .optional(),
  maxAttempts: z.int().min(1).max(MAX_ATTEMPTS_LIMIT).optional(),
  replyTo: replyDestinationSchema.optional(),
  tags: tagsSchema.optional(),
});

/** A valid request message. */
export type SluiceRequest = z.infer<typeof requestSchema>;
/** A request's `target`. */
export type Target = z.infer<typeof targetSchema>;
/** A request's `call`. */
export type CallSpec = z.infer<typeof callSpecSchema>;

/** Outcome of validating a request: the request, or every problem found. */
export type ParseResult =
  | { readonly ok: true; readonly request: SluiceRequest }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/**
 * Validates an already-parsed value, e.g. in the producer client before sending. A value whose
 * `v` is present but not 1 gets the single problem "unsupported contract version"; otherwise
 * every problem is reported. On success the request's `call.input` and `tags` are the very
 * objects passed in, not copies.
 */
export function validateRequest(value: unknown): ParseResult {
  const wrongVersion = versionProblem(value, CONTRACT_VERSION);
  if (wrongVersion) return { ok: false, problems: [wrongVersion] };
  // reportInput lets a missing field (`required`) be told apart from a wrong-typed one (`type`).
  const parsed = requestSchema.safeParse(value, { reportInput: true });
  if (parsed.success) return { ok: true, request: parsed.data };
  return { ok: false, problems: problemsFromIssues(parsed.error.issues) };
}

/**
 * Parses and validates a message body as received from SQS. Rejects a body over
 * {@link MAX_REQUEST_BYTES} UTF-8 bytes (`(body)`, `max-size`) without parsing it, and a body
 * that is not JSON (`(body)`, `json`); then behaves as {@link validateRequest}. Never throws.
 */
export function parseRequest(body: string): ParseResult {
  const decoded = decodeBody(body, MAX_REQUEST_BYTES, REQUEST_SIZE_RULE);
  return decoded.ok ? validateRequest(decoded.value) : decoded;
}

/** The request's priority, {@link DEFAULT_PRIORITY} if it gives none. */
export function effectivePriority(request: SluiceRequest): Priority {
  return request.priority ?? DEFAULT_PRIORITY;
}

/** The attempts the request allows, {@link DEFAULT_MAX_ATTEMPTS} if it gives none. */
export function effectiveMaxAttempts(request: SluiceRequest): number {
  return request.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
}

/**
 * The request's deadline in epoch milliseconds, or undefined if it has none. Whether the deadline
 * has passed is the dispatcher's decision (a past deadline is valid contract, and ends the
 * request as failed), so it is not checked by the schema.
 */
export function deadlineMs(request: SluiceRequest): number | undefined {
  return request.deadline === undefined ? undefined : Date.parse(request.deadline);
}
