/**
 * The requests table's item codec: a stored item ↔ the request's state. The dispatcher's store
 * and the producer client both read items through {@link decodeRequestItem}, so they agree on
 * what a record means and on what makes one unreadable.
 *
 * Decoding is strict. The dispatcher writes every item (see requests-store.ts), so an item that
 * does not hold what its status promises is a bug or a version mismatch, and reading on with
 * defaults would hide it: a missing lease reads as "expired", a missing result as "not finished".
 * Every problem is reported at once, each naming the attribute and the rule.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describeProblems, nestProblem, type Problem, problem } from '../contract/problems.js';
import { parseResult, RESULT_STATUSES, type SluiceResult } from '../contract/result.js';
import { REQUEST_ATTRIBUTES as A, idOfRequestKey } from '../storage/tables.js';

/** A requests-table item as the SDK's low-level client reads and writes it. */
export type RequestItem = Readonly<Record<string, AttributeValue>>;

/** Where a request stands in the table. */
export type RequestState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'waiting';
      readonly attempts: number;
      /** A previous attempt's call may have run: the next reads back first (REQUEST_ATTRIBUTES). */
      readonly sentAt?: number;
    }
  | {
      readonly status: 'running';
      readonly attempts: number;
      /** The dispatcher holding the claim. */
      readonly leaseOwner: string;
      /** Epoch ms until which the claim holds. */
      readonly leaseUntil: number;
      /** When the attempt was about to send a call not safe to repeat (see REQUEST_ATTRIBUTES). */
      readonly sentAt?: number;
    }
  | { readonly status: 'finished'; readonly attempts: number; readonly result: SluiceResult };

/** The state of a request that has an item: every state but `absent`. */
export type StoredRequestState = Exclude<RequestState, { readonly status: 'absent' }>;

/** Values of the `status` attribute: `waiting`, `running`, or the result's status once finished. */
export const STORED_STATUSES = ['waiting', 'running', ...RESULT_STATUSES] as const;

/** An item cannot be read as a request record; `problems` names each attribute and rule. */
export class MalformedRecordError extends Error {
  /** The item's key (`<producer>#<id>`), when it has a readable one. */
  readonly id: string | undefined;
  readonly problems: readonly Problem[];
  constructor(id: string | undefined, problems: readonly Problem[]) {
    super(
      `requests table: the record of request ${id ?? '(no id)'} is malformed: ${describeProblems(problems)}`,
    );
    this.name = 'MalformedRecordError';
    this.id = id;
    this.problems = problems;
  }
}

/**
 * Reads an item into the request's state.
 * @throws {MalformedRecordError} the item breaks the record's rules; every problem is listed.
 */
export function decodeRequestItem(item: RequestItem): StoredRequestState {
  const problems: Problem[] = [];
  const id = readString(item, A.id, problems);
  const status = readString(item, A.status, problems);
  const attempts = readCount(item, A.attempts, problems);
  if (status !== undefined && !(STORED_STATUSES as readonly string[]).includes(status)) {
    const text = `is ${JSON.stringify(status)}, not one of ${STORED_STATUSES.join(', ')}`;
    problems.push(problem([A.status], 'enum', text));
  }

  let state: StoredRequestState | undefined;
  const sentAt = item[A.sentAt] === undefined ? undefined : readCount(item, A.sentAt, problems);
  if (status === 'waiting' && attempts !== undefined) {
    state = { status, attempts, ...(sentAt === undefined ? {} : { sentAt }) };
  } else if (status === 'running') {
    const leaseOwner = readString(item, A.leaseOwner, problems);
    const leaseUntil = readCount(item, A.leaseUntil, problems);
    if (attempts !== undefined && leaseOwner !== undefined && leaseUntil !== undefined) {
      state = {
        status,
        attempts,
        leaseOwner,
        leaseUntil,
        ...(sentAt === undefined ? {} : { sentAt }),
      };
    }
  } else if (status !== undefined && (RESULT_STATUSES as readonly string[]).includes(status)) {
    const result = readResult(item, id, status, problems);
    if (attempts !== undefined && result !== undefined) {
      state = { status: 'finished', attempts, result };
    }
  }
  if (state === undefined || problems.length > 0) {
    throw new MalformedRecordError(id, problems);
  }
  return state;
}

/**
 * The fingerprint of the call the item's id was first used for (shared/requests/fingerprint.ts);
 * `undefined` for a rejection, or a record written before fingerprints.
 */
export function fingerprintOf(item: RequestItem): string | undefined {
  return item[A.fingerprint]?.S;
}

/**
 * The item that holds `state` under `key` (`<producer>#<id>`): the attributes
 * {@link decodeRequestItem} reads, and the call's `fingerprint` when given. The dispatcher's store
 * writes the same attributes with conditional updates; this whole-item form is for seeding a
 * table (tests, fixtures).
 */
export function encodeRequestItem(
  key: string,
  state: StoredRequestState,
  fingerprint?: string,
): RequestItem {
  const base = {
    [A.id]: { S: key },
    [A.attempts]: { N: String(state.attempts) },
    ...(fingerprint === undefined ? {} : { [A.fingerprint]: { S: fingerprint } }),
  };
  switch (state.status) {
    case 'waiting':
      return {
        ...base,
        [A.status]: { S: state.status },
        ...(state.sentAt === undefined ? {} : { [A.sentAt]: { N: String(state.sentAt) } }),
      };
    case 'running':
      return {
        ...base,
        [A.status]: { S: state.status },
        [A.leaseOwner]: { S: state.leaseOwner },
        [A.leaseUntil]: { N: String(state.leaseUntil) },
        ...(state.sentAt === undefined ? {} : { [A.sentAt]: { N: String(state.sentAt) } }),
      };
    case 'finished':
      return {
        ...base,
        [A.status]: { S: state.result.status },
        [A.result]: { S: JSON.stringify(state.result) },
      };
  }
}

/**
 * The text of a required attribute of DynamoDB type `S` (string) or `N` (number, which DynamoDB
 * carries as text); a problem when it is missing or of another type.
 */
function readAttribute(
  item: RequestItem,
  name: string,
  type: 'S' | 'N',
  problems: Problem[],
  requiredText = 'is required',
): string | undefined {
  const value = item[name];
  if (value === undefined) {
    problems.push(problem([name], 'required', requiredText));
    return undefined;
  }
  const text = value[type];
  if (text === undefined) {
    const expected = type === 'S' ? 'a string (S)' : 'a number (N)';
    problems.push(problem([name], 'type', `must be ${expected}, not ${typeOf(value)}`));
  }
  return text;
}

/** A required non-empty string attribute. */
function readString(item: RequestItem, name: string, problems: Problem[]): string | undefined {
  const text = readAttribute(item, name, 'S', problems);
  if (text === '') problems.push(problem([name], 'length', 'must not be empty'));
  return text === '' ? undefined : text;
}

/** A required integer ≥ 0: a count or an epoch-ms time. */
function readCount(item: RequestItem, name: string, problems: Problem[]): number | undefined {
  const text = readAttribute(item, name, 'N', problems);
  if (text === undefined) return undefined;
  const number = Number(text);
  if (!Number.isSafeInteger(number)) {
    problems.push(problem([name], 'integer', `must be an integer, not ${text}`));
    return undefined;
  }
  if (number < 0) {
    problems.push(problem([name], 'range', `must be at least 0, not ${text}`));
    return undefined;
  }
  return number;
}

/** The `result` of a finished record: a valid result document of the same status and request. */
function readResult(
  item: RequestItem,
  id: string | undefined,
  status: string,
  problems: Problem[],
): SluiceResult | undefined {
  const stored = readAttribute(
    item,
    A.result,
    'S',
    problems,
    `is required once the request is ${status}`,
  );
  if (stored === undefined) return undefined;
  const parsed = parseResult(stored);
  if (!parsed.ok) {
    problems.push(...parsed.problems.map((p) => nestProblem([A.result], p)));
    return undefined;
  }
  const { result } = parsed;
  if (result.status !== status) {
    const text = `says ${result.status} but the record says ${status}`;
    problems.push(problem([A.result, 'status'], 'mismatch', text));
  }
  if (result.id !== undefined && id !== undefined && result.id !== idOfRequestKey(id)) {
    const text = `is ${JSON.stringify(result.id)}, the result of another request`;
    problems.push(problem([A.result, 'id'], 'mismatch', text));
  }
  return result;
}

/** The DynamoDB type of an attribute value: `S`, `N`, `M` … */
function typeOf(value: AttributeValue): string {
  return Object.keys(value).find((key) => key !== '$unknown') ?? 'nothing';
}
