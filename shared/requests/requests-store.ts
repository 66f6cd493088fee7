/**
 * The requests table: one item per request `id`, the record that makes execution at most once
 * across duplicate deliveries, producer re-sends and crashes.
 *
 * States: (no item) → `waiting` ⇄ `running` (claimed under a lease) → `succeeded` | `failed` |
 * `rejected`. A claim is a conditional write that only succeeds on a waiting request or on a
 * running one whose lease has expired (its dispatcher died); the claim returns the state it
 * replaced, so the dispatcher knows when a previous attempt may have reached the provider: the
 * "sent" marker (`sentAt`), written under the lease just before a call that is not safe to repeat
 * and removed when the attempt ends knowing its outcome, says it may have. Finishing is
 * conditional on still holding the lease. TTL only cleans up: expiry is also compared in
 * conditions, since DynamoDB deletes expired items lazily.
 */

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoSender } from '../admission/bucket-store.js';
import type { SluiceResult } from '../contract/result.js';
import { REQUEST_ATTRIBUTES as A } from '../storage/tables.js';
import { decodeRequestItem, type RequestItem, type RequestState } from './record.js';

/** The answer to a claim. */
export type ClaimOutcome =
  | {
      readonly claimed: true;
      /** Attempts including the one now starting. */
      readonly attempts: number;
      readonly receivedAt: number;
      /** A previous claim lapsed: its dispatcher died or lost touch mid-attempt. */
      readonly tookOverLapsedLease: boolean;
      /**
       * The lapsed attempt had marked a call not safe to repeat as sent ({@link markSent}): it may
       * have reached the provider. Without the mark, it never left.
       */
      readonly previousMayHaveRun: boolean;
    }
  | { readonly claimed: false; readonly state: RequestState };

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
const OPEN_CONDITION = `attribute_not_exists(#status) OR #status = :waiting OR (#status = :running AND #leaseUntil < :now)`;

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
   * `nowMs + leaseMs`. Fails, returning the current state, when the request is finished or
   * another dispatcher holds a live lease.
   */
  async claim(
    id: string,
    owner: string,
    nowMs: number,
    leaseMs: number,
    firstSeenMs: number,
  ): Promise<ClaimOutcome> {
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { [A.id]: { S: id } },
          ConditionExpression: OPEN_CONDITION,
          UpdateExpression:
            'SET #status = :running, #leaseOwner = :owner, #leaseUntil = :until, #updatedAt = :now, ' +
            '#receivedAt = if_not_exists(#receivedAt, :firstSeen), #expiresAt = :exp ' +
            'ADD #attempts :one',
          ExpressionAttributeNames: names(
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
          },
          // ALL_OLD tells whether we replaced a lapsed lease; the new values we know already.
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const old = out.Attributes;
      const tookOverLapsedLease = old?.[A.status]?.S === STATUS_RUNNING;
      return {
        claimed: true,
        attempts: numberOf(old?.[A.attempts]) + 1,
        receivedAt: numberOf(old?.[A.receivedAt]) || firstSeenMs,
        tookOverLapsedLease,
        // The mark stays until an attempt knows the outcome: a takeover that dies too leaves it.
        previousMayHaveRun: tookOverLapsedLease && old?.[A.sentAt] !== undefined,
      };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const state =
        error.Item && Object.keys(error.Item).length > 0
          ? decodeRequestItem(error.Item)
          : await this.get(id);
      return { claimed: false, state };
    }
  }

  /**
   * Marks the call of the claimed request as about to be sent: from now on, a takeover of a
   * lapsed lease must assume it may have run. Written before a call that is not safe to repeat.
   * False if the lease was lost (the call must then not be sent).
   */
  async markSent(id: string, owner: string, nowMs: number): Promise<boolean> {
    return this.#conditional(id, {
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
   * Gives a claimed request back (it will be tried again later), its outcome known: the call
   * did not run (throttled, failed before the provider took it), so the "sent" marker goes too.
   * False if the lease was lost.
   */
  async release(id: string, owner: string, nowMs: number): Promise<boolean> {
    return this.#conditional(id, {
      ConditionExpression: '#leaseOwner = :owner AND #status = :running',
      UpdateExpression:
        'SET #status = :waiting, #updatedAt = :now REMOVE #leaseOwner, #leaseUntil, #sentAt',
      ExpressionAttributeNames: names('leaseOwner', 'status', 'updatedAt', 'leaseUntil', 'sentAt'),
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
    id: string,
    owner: string,
    result: SluiceResult,
    nowMs: number,
  ): Promise<boolean> {
    const stored = JSON.stringify(result);
    const recorded = await this.#conditional(id, {
      ConditionExpression: '#leaseOwner = :owner AND #status = :running',
      UpdateExpression:
        'SET #status = :status, #result = :result, #updatedAt = :now, #expiresAt = :exp ' +
        'REMOVE #leaseOwner, #leaseUntil, #sentAt',
      ExpressionAttributeNames: names(
        'leaseOwner',
        'status',
        'result',
        'updatedAt',
        'expiresAt',
        'leaseUntil',
        'sentAt',
      ),
      ExpressionAttributeValues: {
        ':owner': { S: owner },
        ':running': { S: STATUS_RUNNING },
        ':status': { S: result.status },
        ':result': { S: stored },
        ':now': num(nowMs),
        ':exp': num(this.#expiry(nowMs)),
      },
    });
    if (recorded) return true;
    // An earlier try may have been applied with its answer lost: then the record is ours.
    const item = await this.#item(id);
    return item?.[A.result]?.S === stored;
  }

  /**
   * Records the result of a request nobody holds (rejected, deadline passed, can never fit).
   * False if it is already finished or running under a live lease.
   */
  async finishOpen(
    id: string,
    result: SluiceResult,
    nowMs: number,
    firstSeenMs: number,
  ): Promise<boolean> {
    return this.#conditional(id, {
      ConditionExpression: OPEN_CONDITION,
      UpdateExpression:
        'SET #status = :status, #result = :result, #updatedAt = :now, #expiresAt = :exp, ' +
        '#receivedAt = if_not_exists(#receivedAt, :firstSeen), #attempts = if_not_exists(#attempts, :zero) ' +
        'REMOVE #leaseOwner, #leaseUntil, #sentAt',
      ExpressionAttributeNames: names(
        'status',
        'result',
        'updatedAt',
        'expiresAt',
        'receivedAt',
        'attempts',
        'leaseOwner',
        'leaseUntil',
        'sentAt',
      ),
      ExpressionAttributeValues: {
        ':waiting': { S: STATUS_WAITING },
        ':running': { S: STATUS_RUNNING },
        ':status': { S: result.status },
        ':result': { S: JSON.stringify(result) },
        ':now': num(nowMs),
        ':exp': num(this.#expiry(nowMs)),
        ':firstSeen': num(firstSeenMs),
        ':zero': num(0),
      },
    });
  }

  /**
   * The request's state (strongly consistent).
   * @throws {MalformedRecordError} the stored item cannot be read (see record.ts).
   */
  async get(id: string): Promise<RequestState> {
    const item = await this.#item(id);
    return item === undefined ? { status: 'absent' } : decodeRequestItem(item);
  }

  /** The stored item (strongly consistent), if any. */
  async #item(id: string): Promise<RequestItem | undefined> {
    const out = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [A.id]: { S: id } },
        ConsistentRead: true,
      }),
    );
    return out.Item;
  }

  async #conditional(
    id: string,
    input: {
      ConditionExpression: string;
      UpdateExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateItemCommand({ TableName: this.#tableName, Key: { [A.id]: { S: id } }, ...input }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
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
