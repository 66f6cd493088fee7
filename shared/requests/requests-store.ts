/**
 * The requests table: one item per request (its producer's `id`, keyed by
 * {@link requestKey}), the record that makes execution at most once across duplicate deliveries,
 * producer re-sends and crashes.
 *
 * States: (no item) → `waiting` ⇄ `running` (claimed under a lease) → `succeeded` | `failed` |
 * `rejected`. A claim is a conditional write that only succeeds on a waiting request or on a
 * running one whose lease has expired (its dispatcher died), and only for the call the id was
 * first used for (its fingerprint): a different call under the same id is a conflict, never run.
 * The claim returns the state it replaced, so the dispatcher knows when a previous attempt may
 * have reached the provider: the "sent" marker (`sentAt`), written under the lease just before a
 * call that is not safe to repeat and removed when the attempt ends knowing its outcome, says it
 * may have. Finishing is conditional on still holding the lease; a rejection is recorded only
 * where no request is. TTL only cleans up: expiry is also compared in conditions,
 * since DynamoDB deletes expired items lazily.
 */

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoSender } from '../admission/bucket-store.js';
import type { SluiceResult } from '../contract/result.js';
import { updateIf } from '../storage/conditional-update.js';
import { REQUEST_ATTRIBUTES as A, requestKey } from '../storage/tables.js';
import { decodeRequestItem, fingerprintOf, type RequestItem, type RequestState } from './record.js';

export { requestKey };

/** The answer to a claim. */
export type ClaimOutcome =
  | {
      readonly kind: 'claimed';
      /** Attempts including the one now starting. */
      readonly attempts: number;
      readonly receivedAt: number;
      /** A previous claim lapsed: its dispatcher died or lost touch mid-attempt. */
      readonly tookOverLapsedLease: boolean;
      /**
       * A previous attempt had marked a call not safe to repeat as sent ({@link markSent}) and
       * never learned its outcome (its lease lapsed, or it gave the request back with the mark:
       * {@link release}): the call may have reached the provider. Without the mark, it never left.
       */
      readonly previousMayHaveRun: boolean;
    }
  /** The same call is finished, or held under a live lease. */
  | { readonly kind: 'unavailable'; readonly state: RequestState }
  /** The id was first used for another call: this one must not run. */
  | { readonly kind: 'conflict' };

/** Settings of a {@link RequestsStore}. */
export interface RequestsStoreOptions {
  readonly client: DynamoSender;
  readonly tableName: string;
  /** How long finished requests are kept (DynamoDB TTL). @default 7 */
  readonly resultTtlDays?: number;
}

const STATUS_WAITING = 'waiting';
const STATUS_RUNNING = 'running';
/** A request is open (may still be claimed or finished) in these states. */
const OPEN_CONDITION = `(attribute_not_exists(#status) OR #status = :waiting OR (#status = :running AND #leaseUntil < :now))`;
/** The id is free, or was first used for this call (records from before fingerprints have none). */
const SAME_CALL_CONDITION = '(attribute_not_exists(#fingerprint) OR #fingerprint = :fingerprint)';

/** Reads and writes the requests table. */
export class RequestsStore {
  readonly #client: DynamoSender;
  readonly #tableName: string;
  readonly #ttlSeconds: number;

  constructor(options: RequestsStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#ttlSeconds = (options.resultTtlDays ?? 7) * 86_400;
  }

  /**
   * Claims a request for one attempt: counts the attempt and takes a lease until
   * `nowMs + leaseMs`, and binds the id to the call's `fingerprint` if it is not yet. Fails,
   * returning the current state, when the request is finished or another dispatcher holds a live
   * lease; or `conflict` when the id belongs to another call.
   */
  async claim(
    key: string,
    fingerprint: string,
    owner: string,
    nowMs: number,
    leaseMs: number,
    firstSeenMs: number,
  ): Promise<ClaimOutcome> {
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { [A.id]: { S: key } },
          ConditionExpression: `${OPEN_CONDITION} AND ${SAME_CALL_CONDITION}`,
          UpdateExpression:
            'SET #status = :running, #leaseOwner = :owner, #leaseUntil = :until, #updatedAt = :now, ' +
            '#receivedAt = if_not_exists(#receivedAt, :firstSeen), #expiresAt = :exp, ' +
            '#fingerprint = if_not_exists(#fingerprint, :fingerprint) ' +
            'ADD #attempts :one',
          ExpressionAttributeNames: names(
            'fingerprint',
            'status',
            'leaseOwner',
            'leaseUntil',
            'updatedAt',
            'receivedAt',
            'expiresAt',
            'attempts',
          ),
          ExpressionAttributeValues: {
            ':waiting': { S: STATUS_WAITING },
            ':running': { S: STATUS_RUNNING },
            ':owner': { S: owner },
            ':until': num(nowMs + leaseMs),
            ':now': num(nowMs),
            ':firstSeen': num(firstSeenMs),
            ':exp': num(this.#expiry(nowMs)),
            ':one': num(1),
            ':fingerprint': { S: fingerprint },
          },
          // ALL_OLD tells whether we replaced a lapsed lease; the new values we know already.
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const old = out.Attributes;
      const tookOverLapsedLease = old?.[A.status]?.S === STATUS_RUNNING;
      return {
        kind: 'claimed',
        attempts: numberOf(old?.[A.attempts]) + 1,
        receivedAt: numberOf(old?.[A.receivedAt]) || firstSeenMs,
        tookOverLapsedLease,
        // The mark stays until an attempt knows the outcome: a takeover that dies too leaves it.
        previousMayHaveRun: old?.[A.sentAt] !== undefined,
      };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item =
        error.Item && Object.keys(error.Item).length > 0 ? error.Item : await this.#item(key);
      if (item === undefined) return { kind: 'unavailable', state: { status: 'absent' } };
      const stored = fingerprintOf(item);
      if (stored !== undefined && stored !== fingerprint) return { kind: 'conflict' };
      return { kind: 'unavailable', state: decodeRequestItem(item) };
    }
  }

  /**
   * Marks the call of the claimed request as about to be sent: from now on, a takeover of a
   * lapsed lease must assume it may have run. Written before a call that is not safe to repeat.
   * False if the lease was lost (the call must then not be sent).
   */
  async markSent(key: string, owner: string, nowMs: number): Promise<boolean> {
    return this.#conditional(key, {
      ConditionExpression: '#leaseOwner = :owner AND #status = :running',
      UpdateExpression: 'SET #sentAt = :now',
      ExpressionAttributeNames: names('leaseOwner', 'status', 'sentAt'),
      ExpressionAttributeValues: {
        ':owner': { S: owner },
        ':running': { S: STATUS_RUNNING },
        ':now': num(nowMs),
      },
    });
  }

  /**
   * Gives a claimed request back (it will be tried again later). Its "sent" marker goes too when
   * the outcome is known (the call did not run: throttled, failed before the provider took it);
   * with `mayHaveRun` it stays, so that the next attempt knows the call may have run and reads
   * back before it sends again. False if the lease was lost.
   */
  async release(
    key: string,
    owner: string,
    nowMs: number,
    { mayHaveRun = false }: { readonly mayHaveRun?: boolean } = {},
  ): Promise<boolean> {
    const forget = mayHaveRun ? '#leaseOwner, #leaseUntil' : '#leaseOwner, #leaseUntil, #sentAt';
    return this.#conditional(key, {
      ConditionExpression: '#leaseOwner = :owner AND #status = :running',
      UpdateExpression: `SET #status = :waiting, #updatedAt = :now REMOVE ${forget}`,
      ExpressionAttributeNames: names(
        'leaseOwner',
        'status',
        'updatedAt',
        'leaseUntil',
        ...(mayHaveRun ? [] : (['sentAt'] as const)),
      ),
      ExpressionAttributeValues: {
        ':owner': { S: owner },
        ':running': { S: STATUS_RUNNING },
        ':waiting': { S: STATUS_WAITING },
        ':now': num(nowMs),
      },
    });
  }

  /**
   * Records the result of a claimed request. False if the lease was lost (another dispatcher
   * took over), in which case that dispatcher's result stands. Safe to repeat: when a write
   * whose answer was lost is tried again, finding this very result recorded is success.
   */
  async finishClaimed(
    key: string,
    owner: string,
    result: SluiceResult,
    nowMs: number,
  ): Promise<boolean> {
    const finished = this.#finished(result, nowMs);
    const recorded = await this.#conditional(key, {
      ConditionExpression: '#leaseOwner = :owner AND #status = :running',
      UpdateExpression: `SET ${finished.set} REMOVE #leaseOwner, #leaseUntil, #sentAt`,
      ExpressionAttributeNames: {
        ...finished.names,
        ...names('leaseOwner', 'leaseUntil', 'sentAt'),
      },
      ExpressionAttributeValues: {
        ...finished.values,
        ':owner': { S: owner },
        ':running': { S: STATUS_RUNNING },
      },
    });
    if (recorded) return true;
    // An earlier try may have been applied with its answer lost: then the record is ours.
    const item = await this.#item(key);
    return item?.[A.result]?.S === finished.values[':result'].S;
  }

  /**
   * Records the result of a valid request nobody holds (deadline passed, can never fit). Not
   * where a previous attempt's call may have run (its "sent" marker is there): that request
   * gets `ifMayHaveRun` instead (without it, nothing is recorded). Returns the result recorded;
   * `undefined` if it is already finished, running under a live lease, or the id belongs to
   * another call.
   */
  async finishOpen(
    key: string,
    fingerprint: string,
    result: SluiceResult,
    nowMs: number,
    firstSeenMs: number,
    ifMayHaveRun?: SluiceResult,
  ): Promise<SluiceResult | undefined> {
    if (await this.#finishOpen(key, fingerprint, result, nowMs, firstSeenMs, false)) return result;
    if (ifMayHaveRun === undefined) return undefined;
    const recorded = await this.#finishOpen(
      key,
      fingerprint,
      ifMayHaveRun,
      nowMs,
      firstSeenMs,
      true,
    );
    return recorded ? ifMayHaveRun : undefined;
  }

  #finishOpen(
    key: string,
    fingerprint: string,
    result: SluiceResult,
    nowMs: number,
    firstSeenMs: number,
    marked: boolean,
  ): Promise<boolean> {
    const finished = this.#finished(result, nowMs);
    const marker = marked ? 'attribute_exists(#sentAt)' : 'attribute_not_exists(#sentAt)';
    return this.#conditional(key, {
      ConditionExpression: `${OPEN_CONDITION} AND ${SAME_CALL_CONDITION} AND ${marker}`,
      UpdateExpression:
        `SET ${finished.set}, #receivedAt = if_not_exists(#receivedAt, :firstSeen), ` +
        '#attempts = if_not_exists(#attempts, :zero), ' +
        '#fingerprint = if_not_exists(#fingerprint, :fingerprint) ' +
        'REMOVE #leaseOwner, #leaseUntil, #sentAt',
      ExpressionAttributeNames: {
        ...finished.names,
        ...names('fingerprint', 'receivedAt', 'attempts', 'leaseOwner', 'leaseUntil', 'sentAt'),
      },
      ExpressionAttributeValues: {
        ...finished.values,
        ':waiting': { S: STATUS_WAITING },
        ':running': { S: STATUS_RUNNING },
        ':firstSeen': num(firstSeenMs),
        ':zero': num(0),
        ':fingerprint': { S: fingerprint },
      },
    });
  }

  /**
   * Records the rejection of a message that broke the contract or was not allowed. Only where no
   * request is (or another rejection): a rejection never replaces a request's record, whatever
   * its state. False when the id holds a request.
   */
  async recordRejection(key: string, result: SluiceResult, nowMs: number): Promise<boolean> {
    const finished = this.#finished(result, nowMs);
    return this.#conditional(key, {
      ConditionExpression: 'attribute_not_exists(#id) OR #status = :rejected',
      UpdateExpression: `SET ${finished.set}, #receivedAt = :now, #attempts = :zero`,
      ExpressionAttributeNames: { ...finished.names, ...names('id', 'receivedAt', 'attempts') },
      ExpressionAttributeValues: {
        ...finished.values,
        ':rejected': { S: 'rejected' },
        ':zero': num(0),
      },
    });
  }

  /** What every way of finishing sets: the status, the result, the update time and the expiry. */
  #finished(result: SluiceResult, nowMs: number) {
    return {
      set: '#status = :status, #result = :result, #updatedAt = :now, #expiresAt = :exp',
      names: names('status', 'result', 'updatedAt', 'expiresAt'),
      values: {
        ':status': { S: result.status },
        ':result': { S: JSON.stringify(result) },
        ':now': num(nowMs),
        ':exp': num(this.#expiry(nowMs)),
      } satisfies Record<string, AttributeValue>,
    };
  }

  /**
   * The state of the request under `key` ({@link requestKey}), strongly consistent.
   * @throws {MalformedRecordError} the stored item cannot be read (see record.ts).
   */
  async get(key: string): Promise<RequestState> {
    const item = await this.#item(key);
    return item === undefined ? { status: 'absent' } : decodeRequestItem(item);
  }

  /** The stored item (strongly consistent), if any. */
  async #item(key: string): Promise<RequestItem | undefined> {
    const out = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [A.id]: { S: key } },
        ConsistentRead: true,
      }),
    );
    return out.Item;
  }

  async #conditional(
    key: string,
    input: {
      ConditionExpression: string;
      UpdateExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
  ): Promise<boolean> {
    return updateIf(this.#client, {
      TableName: this.#tableName,
      Key: { [A.id]: { S: key } },
      ...input,
    });
  }

  #expiry(nowMs: number): number {
    return Math.ceil(nowMs / 1_000) + this.#ttlSeconds;
  }
}

function names(...keys: (keyof typeof A)[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [`#${k}`, A[k]]));
}

function num(value: number): AttributeValue {
  return { N: String(value) };
}

function numberOf(value: AttributeValue | undefined): number {
  return value?.N === undefined ? 0 : Number(value.N);
}
