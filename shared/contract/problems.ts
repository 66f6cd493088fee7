/**
 * Validation problems: how a schema failure is reported to the producer that sent the message.
 *
 * A message that fails validation is rejected and never retried (see DESIGN.md, "The request"),
 * so the rejection is the producer's only feedback. It therefore names every problem at once,
 * each with the field it concerns and a stable rule name a program can branch on, instead of
 * passing zod's issue objects through: those are an implementation detail that changes between
 * zod versions.
 */
import type { z } from 'zod';
import { isPlainObject } from '../util/objects.js';

/**
 * One reason a message is invalid.
 *
 * `rule` is one of a small stable vocabulary:
 * - `max-size`: the body is larger than an SQS message can be;
 * - `json`: the body is not JSON, or a value is not representable in JSON;
 * - `required`: the field is missing;
 * - `type`: the field has the wrong JSON type;
 * - `integer`: a number must be an integer;
 * - `literal`: the field must have one exact value (e.g. `v`, the contract version);
 * - `enum`: the field must be one of a few values;
 * - `pattern`: a string does not have the required form (e.g. a 12-digit account);
 * - `format`: a string is not a valid date-time or URL;
 * - `length`: a string is too short or too long;
 * - `range`: a number is too small or too large;
 * - `max-entries`: an object has too many entries;
 * - `max-depth`: a JSON value nests too deeply;
 * - `reserved-key`: a key that cannot be used (`__proto__`);
 * - `unknown-field`: the field is not part of the contract (objects are strict, so a typo in an
 *   optional field is reported instead of being silently ignored).
 *
 * Later stages may add their own rules (e.g. an operation the deployment does not allow).
 */
export interface Problem {
  /**
   * Where: a dotted path such as `target.account`, `call.operation` or `tags.owner`; array
   * indices as `[0]`; keys that are empty or contain `.`, brackets, quotes, spaces or control
   * characters JSON-quoted in brackets (`tags["a.b"]`); `(body)` for the message as a whole.
   */
  readonly field: string;
  /** Which rule failed; see {@link Problem}. */
  readonly rule: string;
  /** One human-readable line naming the field and the rule, e.g. `id: is required (required)`. */
  readonly message: string;
}

/** The `field` of a problem about the message as a whole (size, JSON syntax, top-level type). */
export const BODY_FIELD = '(body)';

/** Outcome of checking the raw body before any schema runs. */
export type DecodedBody =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problems: readonly Problem[] };

// Keys come from the sender: a 1 MiB key must not become a 1 MiB field name in a rejection record.
const MAX_SEGMENT_CHARS = 64;
// A segment that reads unambiguously after a dot; anything else is JSON-quoted, which also keeps
// newlines and terminal escapes sent as keys out of log lines.
const PLAIN_SEGMENT = /^[^.[\]"'\s\p{Cc}\p{Cf}]+$/u;

/** Shortens `text` to at most `max` characters, marking the cut with `…`. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Renders a path as a problem `field`; see {@link Problem.field}. */
export function formatField(path: readonly PropertyKey[]): string {
  if (path.length === 0) return BODY_FIELD;
  let field = '';
  for (const segment of path) {
    if (typeof segment === 'number') {
      field += `[${segment}]`;
      continue;
    }
    const name = truncate(String(segment), MAX_SEGMENT_CHARS);
    if (PLAIN_SEGMENT.test(name)) field += field === '' ? name : `.${name}`;
    else field += `[${JSON.stringify(name)}]`;
  }
  return field;
}

/** Builds a problem whose message names the field and the rule. */
export function problem(path: readonly PropertyKey[], rule: string, text: string): Problem {
  const field = formatField(path);
  return { field, rule, message: `${field}: ${text} (${rule})` };
}

/** Names a value's JSON type for messages: `a string`, `an array`, `null` … */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    return isPlainObject(value)
      ? 'an object'
      : `a ${value.constructor?.name ?? 'non-plain object'}`;
  }
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

/** Shows a small value in a message (e.g. a wrong version) without echoing a large one. */
function preview(value: unknown): string {
  let shown: string | undefined;
  try {
    shown = JSON.stringify(value);
  } catch {
    shown = undefined;
  }
  return shown === undefined ? describeType(value) : truncate(shown, 32);
}

/**
 * Checks the raw body: its size, then that it is JSON. The size comes first so that an oversized
 * body is never parsed, and is counted in UTF-8 bytes because that is what SQS limits.
 */
export function decodeBody(body: unknown, maxBytes: number, why = 'the SQS limit'): DecodedBody {
  if (typeof body !== 'string') {
    return {
      ok: false,
      problems: [problem([], 'type', `must be a string, not ${describeType(body)}`)],
    };
  }
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > maxBytes) {
    const text = `is ${bytes} bytes; a message may be at most ${maxBytes} bytes (${why})`;
    return { ok: false, problems: [problem([], 'max-size', text)] };
  }
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    // V8's message says where parsing stopped, which helps; keep it to one short line.
    const reason = error instanceof Error ? error.message.replace(/\s+/g, ' ') : String(error);
    return {
      ok: false,
      problems: [problem([], 'json', `is not valid JSON: ${truncate(reason, 160)}`)],
    };
  }
}

/**
 * The problem for a message whose `v` is present but not `supported`, or undefined if there is
 * none. A message of another version has another schema, so checking its fields against this
 * one would only produce noise: callers report this problem alone. A missing `v` is not handled
 * here; the schema reports it as `required` along with everything else.
 */
export function versionProblem(value: unknown, supported: number): Problem | undefined {
  if (!isPlainObject(value) || value.v === undefined || value.v === supported) return undefined;
  const text = `unsupported contract version ${preview(value.v)}; this version of Sluice accepts v ${supported}`;
  return problem(['v'], 'literal', text);
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean',
  object: 'an object',
  record: 'an object',
  array: 'an array',
};

function required(path: readonly PropertyKey[]): readonly [rule: string, text: string] {
  const isVersion = path.length === 1 && path[0] === 'v';
  return ['required', isVersion ? 'is required: the contract version' : 'is required'];
}

/** The rule name and message text for one zod issue (other than unknown keys). */
function ruleAndText(issue: z.core.$ZodIssue): readonly [rule: string, text: string] {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return required(issue.path);
      if (issue.expected === 'int') return ['integer', 'must be an integer'];
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return ['type', `must be ${expected}, not ${describeType(issue.input)}`];
    }
    case 'invalid_value':
      if (issue.input === undefined) return required(issue.path);
      if (issue.values.length === 1) return ['literal', `must be ${preview(issue.values[0])}`];
      return ['enum', `must be one of ${issue.values.map(String).join(', ')}`];
    case 'invalid_union':
      // Only discriminated unions (the result's `status`) are used; report the discriminator.
      if (issue.inclusive !== false && issue.discriminator !== undefined && issue.options) {
        // The issue's input is the object holding the discriminator.
        const input: unknown = issue.input;
        if (isPlainObject(input) && input[issue.discriminator] === undefined)
          return required(issue.path);
        return ['enum', `must be one of ${issue.options.map(String).join(', ')}`];
      }
      return ['type', issue.message];
    case 'invalid_format':
      // Schemas give every pattern and format a message saying what is expected.
      return [issue.format === 'regex' ? 'pattern' : 'format', issue.message];
    case 'too_small':
    case 'too_big': {
      const bound =
        issue.code === 'too_small' ? `at least ${issue.minimum}` : `at most ${issue.maximum}`;
      if (issue.origin === 'string') return ['length', `must be ${bound} characters long`];
      if (issue.origin === 'array' || issue.origin === 'set') {
        return ['max-entries', `must have ${bound} entries`];
      }
      return ['range', `must be ${bound}`];
    }
    case 'custom': {
      const rule: unknown = issue.params?.rule;
      return [typeof rule === 'string' ? rule : 'invalid', issue.message];
    }
    default:
      return ['invalid', issue.message];
  }
}

/**
 * Turns zod issues into problems, one per issue and one per unknown key. Issues must come from a
 * parse with `reportInput: true`, which is how a missing field is told from a wrong-typed one.
 */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push(
          problem([...issue.path, key], 'unknown-field', 'is not a field of the contract'),
        );
      }
      continue;
    }
    const [rule, text] = ruleAndText(issue);
    problems.push(problem(issue.path, rule, text));
  }
  return problems;
}

/**
 * One readable line for logs and rejection messages: the count, then the first `limit` messages.
 * The rest are counted, not listed, so a message with thousands of unknown keys stays one line.
 */
export function describeProblems(problems: readonly Problem[], limit = 5): string {
  if (problems.length === 0) return 'no problems';
  const shown = problems.slice(0, Math.max(1, limit)).map((p) => p.message);
  const more = problems.length - shown.length;
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `${count}: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * The same problem seen from an enclosing value: a problem of a document stored in the attribute
 * `result` is reported as `result.status`, and one about the document as a whole (`(body)`) as
 * `result`. The message keeps its text and rule, under the new field.
 */
export function nestProblem(parent: readonly PropertyKey[], inner: Problem): Problem {
  const prefix = formatField(parent);
  const field =
    inner.field === BODY_FIELD
      ? prefix
      : inner.field.startsWith('[')
        ? `${prefix}${inner.field}`
        : `${prefix}.${inner.field}`;
  return { ...inner, field, message: `${field}${inner.message.slice(inner.field.length)}` };
}
