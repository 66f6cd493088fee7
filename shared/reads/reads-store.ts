/**
 * The reads table (storage/tables.ts, READS_TABLE): one item per shared read, changed only by the
 * conditional writes below, read with a consistent read. The model of what the item means and
 * what a request does about it is ./shared-read.ts.
 *
 * - {@link ReadsStore.claim}: one write that succeeds only on the item as the claimant read it
 *   (`version` unchanged, or no item): two dispatchers that both saw a free read cannot both take
 *   it. The loser learns what the winner wrote (`ALL_OLD`, or a read on engines without it).
 * - {@link ReadsStore.finish} and {@link ReadsStore.release}: only by the leader, only while it
 *   still holds the read (`owner` and `running`): a leader whose lease lapsed and was taken over
 *   never overwrites its successor.
 *
 * Times are compared in conditions and decisions, never left to TTL (DynamoDB deletes expired
 * items lazily): TTL only clears items an hour after they stopped mattering.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoSender } from '../admission/bucket-store.js';
import { describeProblems, type Problem, problem } from '../contract/problems.js';
import { MAX_INLINE_OUTPUT_BYTES } from '../contract/sizes.js';
import { type UpdateParts, updateIf } from '../storage/conditional-update.js';
import { READ_ATTRIBUTES as A } from '../storage/tables.js';
import { isRecord } from '../util/objects.js';
import type { SharedRead } from './shared-read.js';

/**
 * Largest output shared, in UTF-8 bytes of its JSON: each request it answers carries it in its
 * result, so no more than a result holds inline (a larger one is in S3 under its leader's
 * producer, which no other producer may read); a reads item (400 KB) holds that with room to
 * spare. A larger output ends the read `unshared`: each request that waited makes its own call.
 */
export const MAX_SHARED_OUTPUT_BYTES = MAX_INLINE_OUTPUT_BYTES;

/** Whether an output (as JSON) is small enough to share: {@link MAX_SHARED_OUTPUT_BYTES}. */
export function isShareableOutput(json: string): boolean {
  return Buffer.byteLength(json, 'utf8') <= MAX_SHARED_OUTPUT_BYTES;
}

/** Items are deleted (DynamoDB TTL) this long after the last time they mattered. */
const RETENTION_MS = 3_600_000;

/** How a leader's call ended, as far as the read goes. */
export type ReadEnding =
  | {
      readonly kind: 'done';
      readonly output: Record<string, unknown>;
      readonly startedAt: number;
      readonly finishedAt: number;
      /** Epoch ms until which the output serves anyone; 0: not cached. */
      readonly cacheUntil: number;
    }
  | { readonly kind: 'unshared'; readonly startedAt: number; readonly finishedAt: number };

/** The answer to a claim: the read is now the claimant's, or what it is instead. */
export type ReadClaim =
  | { readonly won: true; readonly read: Extract<SharedRead, { state: 'running' }> }
  | { readonly won: false; readonly read: SharedRead | undefined };

/** A stored item cannot be read as a shared read; only the dispatcher writes them. */
export class MalformedSharedReadError extends Error {
  readonly problems: readonly Problem[];
  constructor(fingerprint: string, problems: readonly Problem[]) {
    super(
      `reads table: the item of read ${fingerprint} is malformed: ${describeProblems(problems)}`,
    );
    this.name = 'MalformedSharedReadError';
    this.problems = problems;
  }
}

/** Settings of a {@link ReadsStore}. */
export interface ReadsStoreOptions {
  readonly client: DynamoSender;
  readonly tableName: string;
}

/** Reads and writes the reads table. */
export class ReadsStore {
  readonly #client: DynamoSender;
  readonly #tableName: string;

  constructor(options: ReadsStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /**
   * The read's item (strongly consistent), or undefined when there is none.
   * @throws {MalformedSharedReadError} the stored item cannot be read.
   */
  async get(fingerprint: string): Promise<SharedRead | undefined> {
    const out = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [A.pk]: { S: fingerprint } },
        ConsistentRead: true,
      }),
    );
    return out.Item === undefined ? undefined : decodeSharedRead(fingerprint, out.Item);
  }

  /**
   * Claims the read for `owner` until `nowMs + leaseMs`, provided it is still as `seen` (the item
   * the claimant decided on; undefined: no item). Losing, it returns the item as it is now.
   */
  async claim(
    fingerprint: string,
    owner: string,
    seen: SharedRead | undefined,
    nowMs: number,
    leaseMs: number,
  ): Promise<ReadClaim> {
    const version = (seen?.version ?? 0) + 1;
    const leaseUntil = nowMs + leaseMs;
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { [A.pk]: { S: fingerprint } },
          ConditionExpression:
            seen === undefined ? 'attribute_not_exists(#pk)' : '#version = :seen',
          UpdateExpression:
            'SET #state = :running, #owner = :owner, #leaseUntil = :until, #version = :version, ' +
            '#expiresAt = :exp REMOVE #output, #startedAt, #finishedAt, #cacheUntil',
          ExpressionAttributeNames: names(
            ...(seen === undefined ? (['pk'] as const) : []),
            'state',
            'owner',
            'leaseUntil',
            'version',
            'expiresAt',
            'output',
            'startedAt',
            'finishedAt',
            'cacheUntil',
          ),
          ExpressionAttributeValues: {
            ...(seen === undefined ? {} : { ':seen': num(seen.version) }),
            ':running': { S: 'running' },
            ':owner': { S: owner },
            ':until': num(leaseUntil),
            ':version': num(version),
            ':exp': num(expiry(leaseUntil)),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { won: true, read: { state: 'running', version, owner, leaseUntil } };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The item the condition found (DynamoDB); engines that omit it (dynalite) are read.
      const found =
        error.Item && Object.keys(error.Item).length > 0
          ? decodeSharedRead(fingerprint, error.Item)
          : await this.get(fingerprint);
      return { won: false, read: found };
    }
  }

  /**
   * Ends the read: its output shared (and cached until `cacheUntil`), or `unshared`. An output
   * larger than {@link MAX_SHARED_OUTPUT_BYTES} ends it unshared. False when `owner` no longer
   * holds the read (its lease lapsed and another took it over): the successor's result stands.
   */
  async finish(fingerprint: string, owner: string, ending: ReadEnding): Promise<boolean> {
    const output = ending.kind === 'done' ? JSON.stringify(ending.output) : undefined;
    const shared = output !== undefined && isShareableOutput(output);
    const cacheUntil = ending.kind === 'done' && shared ? ending.cacheUntil : 0;
    const times = {
      ':started': num(ending.startedAt),
      ':finished': num(ending.finishedAt),
      ':exp': num(expiry(Math.max(ending.finishedAt, cacheUntil))),
    };
    return this.#asOwner(fingerprint, owner, {
      UpdateExpression: shared
        ? 'SET #state = :done, #output = :output, #startedAt = :started, #finishedAt = :finished, ' +
          '#cacheUntil = :cacheUntil, #expiresAt = :exp ADD #version :one REMOVE #owner, #leaseUntil'
        : 'SET #state = :unshared, #startedAt = :started, #finishedAt = :finished, ' +
          '#expiresAt = :exp ADD #version :one REMOVE #owner, #leaseUntil',
      ExpressionAttributeNames: names(
        'state',
        'startedAt',
        'finishedAt',
        'expiresAt',
        'version',
        'owner',
        'leaseUntil',
        ...(shared ? (['output', 'cacheUntil'] as const) : []),
      ),
      ExpressionAttributeValues: shared
        ? {
            ...times,
            ':done': { S: 'done' },
            ':output': { S: output ?? '{}' },
            ':cacheUntil': num(cacheUntil),
          }
        : { ...times, ':unshared': { S: 'unshared' } },
    });
  }

  /**
   * Holds the read for `owner` until `leaseUntil` (its leader was re-queued: to its slot, or to
   * try again later). False when `owner` no longer holds it.
   */
  async extend(fingerprint: string, owner: string, leaseUntil: number): Promise<boolean> {
    return this.#asOwner(fingerprint, owner, {
      UpdateExpression: 'SET #leaseUntil = :until ADD #version :one',
      ExpressionAttributeNames: names('leaseUntil', 'version'),
      ExpressionAttributeValues: { ':until': num(leaseUntil) },
    });
  }

  /**
   * Gives the read up without a call (the leader's request turned out to be finished already):
   * whoever asks next leads. False when `owner` no longer holds it.
   */
  async release(fingerprint: string, owner: string, nowMs: number): Promise<boolean> {
    return this.#asOwner(fingerprint, owner, {
      UpdateExpression:
        'SET #state = :released, #expiresAt = :exp ADD #version :one REMOVE #owner, #leaseUntil',
      ExpressionAttributeNames: names('state', 'expiresAt', 'version', 'owner', 'leaseUntil'),
      ExpressionAttributeValues: { ':released': { S: 'released' }, ':exp': num(expiry(nowMs)) },
    });
  }

  /** A write that holds only while `owner` holds the read. */
  async #asOwner(fingerprint: string, owner: string, input: UpdateParts): Promise<boolean> {
    return updateIf(this.#client, {
      TableName: this.#tableName,
      Key: { [A.pk]: { S: fingerprint } },
      ConditionExpression: '#owner = :owner AND #state = :running',
      UpdateExpression: input.UpdateExpression,
      ExpressionAttributeNames: { ...input.ExpressionAttributeNames, ...names('owner', 'state') },
      ExpressionAttributeValues: {
        ...input.ExpressionAttributeValues,
        ':owner': { S: owner },
        ':running': { S: 'running' },
        ':one': num(1),
      },
    });
  }
}

/**
 * Reads an item into a {@link SharedRead}.
 * @throws {MalformedSharedReadError} listing every attribute that breaks the item's rules.
 */
export function decodeSharedRead(
  fingerprint: string,
  item: Readonly<Record<string, AttributeValue>>,
): SharedRead {
  const problems: Problem[] = [];
  const count = (name: string): number => {
    const value = Number(item[name]?.N);
    if (item[name]?.N === undefined || !Number.isSafeInteger(value) || value < 0) {
      problems.push(problem([name], 'integer', 'must be an integer of at least 0 (N)'));
      return 0;
    }
    return value;
  };
  const text = (name: string): string => {
    const value = item[name]?.S;
    if (value === undefined) problems.push(problem([name], 'required', 'must be a string (S)'));
    return value ?? '';
  };
  const version = count(A.version);
  const state = text(A.state);
  let read: SharedRead | undefined;
  if (state === 'running') {
    read = { state, version, owner: text(A.owner), leaseUntil: count(A.leaseUntil) };
  } else if (state === 'done') {
    read = {
      state,
      version,
      output: outputOf(item[A.output]?.S, problems),
      startedAt: count(A.startedAt),
      finishedAt: count(A.finishedAt),
      cacheUntil: count(A.cacheUntil),
    };
  } else if (state === 'unshared') {
    read = { state, version, startedAt: count(A.startedAt), finishedAt: count(A.finishedAt) };
  } else if (state === 'released') {
    read = { state, version };
  } else if (problems.length === 0) {
    problems.push(problem([A.state], 'enum', `is ${JSON.stringify(state)}`));
  }
  if (read === undefined || problems.length > 0) {
    throw new MalformedSharedReadError(fingerprint, problems);
  }
  return read;
}

/** The stored output: a JSON object as a string. */
function outputOf(json: string | undefined, problems: Problem[]): Record<string, unknown> {
  if (json === undefined) {
    problems.push(problem([A.output], 'required', 'must be a string (S)'));
    return {};
  }
  try {
    const value: unknown = JSON.parse(json);
    if (isRecord(value)) return value;
  } catch {
    // reported below
  }
  problems.push(problem([A.output], 'json', 'must be a JSON object'));
  return {};
}

function expiry(lastMattersMs: number): number {
  return Math.ceil((lastMattersMs + RETENTION_MS) / 1_000);
}

function names(...keys: (keyof typeof A)[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [`#${k}`, A[k]]));
}

function num(value: number): AttributeValue {
  return { N: String(value) };
}
