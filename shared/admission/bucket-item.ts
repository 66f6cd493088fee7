/**
 * The storage adapter of the bucket store: one item per bucket in the buckets table, its state
 * one number (the GCRA's TAT, µs since the epoch), changed only by the named conditional writes
 * below. Each write answers with the TAT it left or, when its condition failed, the TAT it found:
 * `ReturnValuesOnConditionCheckFailure: ALL_OLD` on DynamoDB and DynamoDB Local, and where an
 * engine ignores it (dynalite) `'unknown'`, for the caller to settle with {@link BucketItems.readTat}
 * (a strongly consistent read) only when it needs the value.
 *
 * Failed conditions are recognised by class (`ConditionalCheckFailedException`); every other
 * error of the client propagates unchanged.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BUCKETS_TABLE } from '../storage/tables.js';
import { BucketStoreError } from './errors.js';
import { US_PER_S } from './gcra.js';

/** The narrowest client the bucket store needs: anything that sends DynamoDB commands. */
export type DynamoSender = Pick<DynamoDBClient, 'send'>;

/**
 * What a conditional write did. Written: the TAT it left. Not written: the TAT the condition
 * found (`undefined`: no item), or `'unknown'` when the engine did not return the old item.
 */
export type TatWrite =
  | { readonly ok: true; readonly tatUs: number }
  | { readonly ok: false; readonly item: number | undefined | 'unknown' };

/** Parts of one conditional UpdateItem on a bucket's TAT. */
interface TatUpdate {
  readonly ConditionExpression: string;
  readonly UpdateExpression: string;
  readonly ExpressionAttributeValues: Record<string, { N: string }>;
}

/** The bucket items of one table, read and written by key (`bucketKey` of a bucket's ref). */
export class BucketItems {
  readonly #client: DynamoSender;
  readonly #tableName: string;
  readonly #expirySeconds: number;

  /**
   * @param expirySeconds how long after its TAT an item expires (DynamoDB TTL): an idle bucket
   *   is as good as a missing one, so deletion never changes a decision.
   */
  constructor(client: DynamoSender, tableName: string, expirySeconds: number) {
    this.#client = client;
    this.#tableName = tableName;
    this.#expirySeconds = expirySeconds;
  }

  /** `SET tat = :new` if the bucket is idle (no TAT, or a TAT in the past). */
  writeIdle(key: string, nowUs: number, newTatUs: number): Promise<TatWrite> {
    return this.#update(key, {
      ConditionExpression: 'attribute_not_exists(#tat) OR #tat < :now',
      UpdateExpression: 'SET #tat = :new, #exp = :exp',
      ExpressionAttributeValues: {
        ':now': num(nowUs),
        ':new': num(newTatUs),
        ':exp': num(this.#expiresAt(newTatUs)),
      },
    });
  }

  /** `SET tat = tat + :inc` if the TAT is between now and the latest TAT the horizon allows. */
  writeBusy(
    key: string,
    nowUs: number,
    incrementUs: number,
    highestTatUs: number,
  ): Promise<TatWrite> {
    return this.#update(key, {
      ConditionExpression: '#tat BETWEEN :now AND :hi',
      UpdateExpression: 'SET #tat = #tat + :inc, #exp = :exp',
      ExpressionAttributeValues: {
        ':now': num(nowUs),
        ':hi': num(highestTatUs),
        ':inc': num(incrementUs),
        ':exp': num(this.#expiresAt(highestTatUs + incrementUs)),
      },
    });
  }

  /** `SET tat = :pushed` if the TAT is not already there or later (a penalty). */
  pushTo(key: string, pushedUs: number): Promise<TatWrite> {
    return this.#update(key, {
      ConditionExpression: 'attribute_not_exists(#tat) OR #tat < :pushed',
      UpdateExpression: 'SET #tat = :pushed, #exp = :exp',
      ExpressionAttributeValues: {
        ':pushed': num(pushedUs),
        ':exp': num(this.#expiresAt(pushedUs)),
      },
    });
  }

  /** `SET tat = :refunded` if nobody wrote since our write left the TAT at `oursUs`. */
  refund(key: string, oursUs: number, refundedUs: number): Promise<TatWrite> {
    return this.#update(key, {
      ConditionExpression: '#tat = :ours',
      UpdateExpression: 'SET #tat = :refunded',
      ExpressionAttributeValues: { ':ours': num(oursUs), ':refunded': num(refundedUs) },
    });
  }

  /** Strongly consistent read of the TAT: only after a failed write on engines without ALL_OLD. */
  async readTat(key: string): Promise<number | undefined> {
    const out = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [BUCKETS_TABLE.partitionKey]: { S: key } },
        ConsistentRead: true,
        ProjectionExpression: '#tat',
        ExpressionAttributeNames: { '#tat': BUCKETS_TABLE.attributes.tat },
      }),
    );
    return tatOf(key, out.Item);
  }

  /** One conditional UpdateItem; see {@link TatWrite} for what it answers. */
  async #update(key: string, expression: TatUpdate): Promise<TatWrite> {
    const names: Record<string, string> = { '#tat': BUCKETS_TABLE.attributes.tat };
    if (expression.UpdateExpression.includes('#exp'))
      names['#exp'] = BUCKETS_TABLE.attributes.expiresAt;
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { [BUCKETS_TABLE.partitionKey]: { S: key } },
          ...expression,
          ExpressionAttributeNames: names,
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const tatUs = tatOf(key, out.Attributes);
      if (tatUs === undefined) throw new BucketStoreError(key, 'the update returned no TAT');
      return { ok: true, tatUs };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = error.Item;
      // DynamoDB returns the old item when there was one; no item means either "no such
      // bucket" or "engine does not return items": only a read tells these apart.
      if (item === undefined || Object.keys(item).length === 0)
        return { ok: false, item: 'unknown' };
      return { ok: false, item: tatOf(key, item) };
    }
  }

  #expiresAt(tatUs: number): number {
    return Math.ceil(tatUs / US_PER_S) + this.#expirySeconds;
  }
}

function num(value: number): { N: string } {
  return { N: String(value) };
}

function tatOf(key: string, item: Record<string, { N?: string }> | undefined): number | undefined {
  const raw = item?.[BUCKETS_TABLE.attributes.tat]?.N;
  if (raw === undefined) return undefined;
  const tatUs = Number(raw);
  if (!Number.isSafeInteger(tatUs))
    throw new BucketStoreError(key, `stored TAT is not an integer: ${raw}`);
  return tatUs;
}
