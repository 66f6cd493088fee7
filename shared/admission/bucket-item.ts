/**
 * The storage adapter of the bucket store: one item per bucket (./bucket-state.ts), changed only
 * by the named conditional writes below. Every write answers with the whole item it left
 * (`ReturnValues: ALL_NEW`) or, when its condition failed, the item it found
 * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`, which costs no read) — or `'unknown'` where an
 * engine ignores that (dynalite), for the caller to settle with {@link BucketItems.read} only when
 * it needs the value.
 *
 * The conditions, named once:
 * - appends are range-guarded blind increments (`tat BETWEEN now AND hi`): concurrent admitters
 *   never lose updates and never retry each other out;
 * - every change that moves slots (cut-in, rate change, pause) requires its point to lie after
 *   the frozen watermark (`frz < :at`): no committed slot ever moves;
 * - every write that plans with the learned rate requires the rate it planned with (`rf`).
 * Failed conditions are recognised by class (`ConditionalCheckFailedException`); every other error
 * of the client propagates unchanged.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BUCKETS_TABLE } from '../storage/tables.js';
import {
  BUCKET_ATTRIBUTES as A,
  type BucketItem,
  type BucketState,
  decodeBucket,
  encodeEntry,
} from './bucket-state.js';
import { US_PER_S } from './gcra.js';
import type { RateState } from './learned-rate.js';
import { type LogFold, shiftTotal, type TimelineEntry } from './timeline.js';

/** The narrowest client the bucket store needs: anything that sends DynamoDB commands. */
export type DynamoSender = Pick<DynamoDBClient, 'send'>;

/** What a conditional write did: the item it left, or the item its condition found. */
export type ItemWrite =
  | { readonly ok: true; readonly state: BucketState }
  | { readonly ok: false; readonly state: BucketState | 'unknown' };

/** A placement hint to set: attribute name and value (µs). */
export interface Hint {
  readonly name: string;
  readonly valueUs: number;
}

/**
 * A meter an append runs on: by `incrementUs` (`if_not_exists(m, now) + inc`, so concurrent
 * writers add up), or set to `restartAtUs` when the writer saw it lying in the past.
 */
export interface MeterHint {
  readonly name: string;
  readonly incrementUs: number;
  readonly restartAtUs?: number;
}

/**
 * A tail hint an append sets: to `slotUs` on an idle bucket, to `tat + offsetUs` (the old TAT)
 * on a busy one, where the slot is not known before the write.
 */
export interface TailHint {
  readonly name: string;
  readonly slotUs: number;
  readonly offsetUs: number;
}

/** An append at the end of the timeline. */
export type AppendWrite = {
  /** The learned-rate fraction the plan used. */
  readonly fraction: number;
  readonly nowUs: number;
  /** Some appended cell costs more than one token (the bucket leaves the grid: no cut-ins). */
  readonly multiCost: boolean;
  /** Hints to set to the slot of a cell: its level's and its flow's last appended cell. */
  readonly tails: readonly TailHint[];
  /** Levels' meters to run on. */
  readonly meters?: readonly MeterHint[];
  /**
   * The last appended slot within the freeze margin of now, if any: the append freezes it (and
   * every slot before it) in the same write, so that no cut-in planned a moment ago — its `now`
   * earlier than ours — can land before a call that runs without checking in. With it, a busy
   * append is conditioned on the exact TAT it planned from (its slots must be the planned ones).
   */
  readonly frozenUs?: number;
} & (
  | { readonly kind: 'idle'; readonly newTatUs: number; readonly lastSlotUs: number }
  | {
      readonly kind: 'busy';
      readonly incrementUs: number;
      readonly highestTatUs: number;
      /** The TAT the plan started from (a condition only when the append freezes). */
      readonly expectedTatUs: number;
      /** Last appended slot − old TAT. */
      readonly lastOffsetUs: number;
      /**
       * Freeze every appended slot (`frz = tat + lastOffset`, blind like the TAT). The watermark
       * lies at or before the last slot (`tat − τ`) — past it only after a refund took back
       * frozen cells, which no call runs — so this never leaves a committed slot unfrozen.
       */
      readonly freezeAll?: boolean;
    }
);

/** A cut-in: the log entry, the shift of the TAT, and the hints it leaves. */
export interface CutInWrite {
  readonly fraction: number;
  /** The grid the cut-in point was chosen on. */
  readonly anchorUs: number;
  readonly entry: TimelineEntry;
  readonly shiftUs: number;
  readonly atUs: number;
  readonly tatAtLeastUs: number;
  /** Absolute hints (the level's and the flow's tails, the meter). */
  readonly hints: readonly Hint[];
  /** Hints moved back by `shiftUs` (the tails of the levels passed). */
  readonly shifted: readonly string[];
  readonly expectedTatUs: number;
}

/** A change of the learned rate, re-spacing (and maybe pausing) the slots after `atUs`. */
export interface RateWrite {
  /** The TAT, epoch, fraction and grid the change was computed from. */
  readonly expectedTatUs: number | undefined;
  readonly expectedAnchorUs: number;
  /** The grid after the change. */
  readonly anchorUs: number;
  readonly gridStartUs: number;
  readonly expectedEpoch: number;
  readonly expectedFraction: number;
  readonly atUs: number;
  readonly entries: readonly TimelineEntry[];
  readonly newTatUs: number | undefined;
  readonly rate: RateState;
  /** Hints re-spaced with the slots. */
  readonly hints: readonly Hint[];
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

  /**
   * Idle: `SET tat = :new` if the bucket has no TAT or one in the past. Busy: `SET tat = tat + :inc`
   * if the TAT lies between now and the highest the horizon allows. Both at the planned rate.
   */
  append(key: string, write: AppendWrite): Promise<ItemWrite> {
    const u = new Update();
    if (write.kind === 'idle') {
      u.when(
        `(attribute_not_exists(${u.name(A.tat)}) OR ${u.name(A.tat)} < ${u.value(write.nowUs)})`,
      );
      u.set(A.tat, u.value(write.newTatUs));
      u.set(A.expiresAt, u.value(this.#expiresAt(write.newTatUs)));
      // A new busy stretch: its grid starts now, and only its own cells decide `mc`.
      u.set(A.anchor, u.value(write.nowUs));
      u.set(A.gridStart, u.value(write.nowUs));
      if (write.multiCost) u.set(A.multiCost, u.value(1));
      else u.remove(A.multiCost);
      for (const tail of write.tails) u.set(tail.name, u.value(tail.slotUs));
    } else {
      const tat = u.name(A.tat);
      u.when(
        write.frozenUs === undefined || write.freezeAll === true
          ? `${tat} BETWEEN ${u.value(write.nowUs)} AND ${u.value(write.highestTatUs)}`
          : `${tat} = ${u.value(write.expectedTatUs)}`,
      );
      u.set(A.tat, `${tat} + ${u.value(write.incrementUs)}`);
      u.set(A.expiresAt, u.value(this.#expiresAt(write.highestTatUs + write.incrementUs)));
      if (write.multiCost) u.set(A.multiCost, u.value(1));
      for (const tail of write.tails) u.set(tail.name, `${tat} + ${u.value(tail.offsetUs)}`);
      if (write.freezeAll === true) u.set(A.frozen, `${tat} + ${u.value(write.lastOffsetUs)}`);
    }
    for (const meter of write.meters ?? []) {
      u.set(
        meter.name,
        meter.restartAtUs === undefined
          ? `if_not_exists(${u.name(meter.name)}, ${u.value(write.nowUs)}) + ${u.value(meter.incrementUs)}`
          : u.value(meter.restartAtUs),
      );
    }
    // (A busy append that freezes all its slots sets the watermark blind, above.)
    const blindFreeze = write.kind === 'busy' && write.freezeAll === true;
    if (write.frozenUs !== undefined && !blindFreeze) {
      // Appended slots come after every slot before them: the watermark only ever rises.
      const frz = u.name(A.frozen);
      u.when(`(attribute_not_exists(${frz}) OR ${frz} <= ${u.value(write.frozenUs)})`);
      u.set(A.frozen, u.value(write.frozenUs));
    }
    u.when(rateGuard(u, write.fraction));
    return this.#send(key, u);
  }

  /**
   * `SET tat = tat + :shift` and log the cut-in, if its point lies after the frozen watermark and
   * before the end of the timeline (there are cells to pass), at the planned rate.
   */
  cutIn(key: string, write: CutInWrite): Promise<ItemWrite> {
    const u = new Update();
    const tat = u.name(A.tat);
    u.when(frozenBefore(u, write.atUs));
    u.when(`${tat} >= ${u.value(write.tatAtLeastUs)}`);
    u.when(rateGuard(u, write.fraction));
    // The point is on the grid only while the grid is the one it was chosen on, and every cell
    // costs one token.
    u.when(`${u.name(A.anchor)} = ${u.value(write.anchorUs)}`);
    const gridStart = u.name(A.gridStart);
    u.when(`(attribute_not_exists(${gridStart}) OR ${gridStart} <= ${u.value(write.atUs)})`);
    u.when(`attribute_not_exists(${u.name(A.multiCost)})`);
    u.set(A.tat, `${tat} + ${u.value(write.shiftUs)}`);
    u.set(A.expiresAt, u.value(this.#expiresAt(write.expectedTatUs + write.shiftUs)));
    appendToLog(u, [write.entry]);
    for (const hint of write.hints) u.set(hint.name, u.value(hint.valueUs));
    for (const name of write.shifted) {
      u.set(name, `if_not_exists(${u.name(name)}, ${u.value(0)}) + ${u.value(write.shiftUs)}`);
    }
    return this.#send(key, u);
  }

  /**
   * A reservation commits to its slot: `SET frz = :slot` if the watermark is below it. Either way
   * the answer holds the log the reservation replays (on a failed condition the watermark is
   * already past the slot, which protects it just as well).
   */
  commit(key: string, slotUs: number): Promise<ItemWrite> {
    const u = new Update();
    u.when(frozenBefore(u, slotUs));
    u.set(A.frozen, u.value(slotUs));
    return this.#send(key, u);
  }

  /**
   * Raises a hint to `valueUs` if it is lower (or absent). A flow that waits without a slot marks
   * itself present this way: others then see the bucket contended (placement.ts `reachOf`).
   */
  raiseHint(key: string, name: string, valueUs: number): Promise<ItemWrite> {
    const u = new Update();
    const hint = u.name(name);
    u.when(`(attribute_not_exists(${hint}) OR ${hint} < ${u.value(valueUs)})`);
    u.set(name, u.value(valueUs));
    // It may create the item: it expires like any other.
    const expiresAt = u.name(A.expiresAt);
    u.set(A.expiresAt, `if_not_exists(${expiresAt}, ${u.value(this.#expiresAt(valueUs))})`);
    return this.#send(key, u);
  }

  /** Changes the learned rate if the TAT, epoch and rate are still those it was computed from. */
  changeRate(key: string, write: RateWrite): Promise<ItemWrite> {
    const u = new Update();
    const tat = u.name(A.tat);
    u.when(
      write.expectedTatUs === undefined
        ? `attribute_not_exists(${tat})`
        : `${tat} = ${u.value(write.expectedTatUs)}`,
    );
    u.when(frozenBefore(u, write.atUs));
    const epoch = u.name(A.epoch);
    u.when(
      write.expectedEpoch === 0
        ? `(attribute_not_exists(${epoch}) OR ${epoch} = ${u.value(0)})`
        : `${epoch} = ${u.value(write.expectedEpoch)}`,
    );
    u.when(rateGuard(u, write.expectedFraction));
    const anchor = u.name(A.anchor);
    u.when(
      write.expectedAnchorUs === 0
        ? `(attribute_not_exists(${anchor}) OR ${anchor} = ${u.value(0)})`
        : `${anchor} = ${u.value(write.expectedAnchorUs)}`,
    );
    u.set(A.anchor, u.value(write.anchorUs));
    u.set(A.gridStart, u.value(write.gridStartUs));
    if (write.newTatUs !== undefined) {
      u.set(A.tat, u.value(write.newTatUs));
      u.set(A.expiresAt, u.value(this.#expiresAt(write.newTatUs)));
    }
    if (write.entries.length > 0) appendToLog(u, write.entries);
    if (write.rate.fraction >= 1) u.remove(A.fraction);
    else u.set(A.fraction, u.value(write.rate.fraction));
    u.set(A.ceiling, u.value(write.rate.ceiling));
    u.set(A.decreasedTo, u.value(write.rate.decreasedTo));
    u.set(A.decreasedAt, u.value(write.rate.decreasedAtUs));
    u.set(A.epoch, u.value(write.rate.epoch));
    u.set(A.rateSince, u.value(write.rate.sinceUs));
    u.set(A.rateBackoffs, u.value(write.rate.backoffs));
    for (const hint of write.hints) u.set(hint.name, u.value(hint.valueUs));
    return this.#send(key, u);
  }

  /** `SET tat = :refunded` if nobody wrote since our append left the TAT at `oursUs`. */
  refund(key: string, oursUs: number, refundedUs: number): Promise<ItemWrite> {
    const u = new Update();
    u.when(`${u.name(A.tat)} = ${u.value(oursUs)}`);
    u.set(A.tat, u.value(refundedUs));
    return this.#send(key, u);
  }

  /**
   * Keeps only the newest entries, `kept`, if the log is still the one seen (head and length),
   * and what a reservation needs to follow the dropped ones: `fold` (`foldDropped` in
   * ./timeline.ts). The kept entries are written whole: dynalite removes several list elements
   * in one `REMOVE` one after another, each shifting the next index.
   */
  prune(
    key: string,
    kept: readonly TimelineEntry[],
    headSeq: number,
    length: number,
    fold: LogFold,
  ): Promise<ItemWrite> {
    const u = new Update();
    const log = u.name(A.log);
    u.when(`${u.name(A.headSeq)} = ${u.value(headSeq)} AND size(${log}) = ${u.value(length)}`);
    u.set(A.log, u.list(kept.map(encodeEntry)));
    u.set(A.droppedReach, u.value(fold.reachUs));
    u.set(A.droppedRateSeq, u.value(fold.rateSeq));
    return this.#send(key, u);
  }

  /** Strongly consistent read of the whole item. */
  async read(key: string): Promise<BucketState> {
    const out = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [BUCKETS_TABLE.partitionKey]: { S: key } },
        ConsistentRead: true,
      }),
    );
    return decodeBucket(key, out.Item as BucketItem | undefined);
  }

  /** One conditional UpdateItem; see {@link ItemWrite} for what it answers. */
  async #send(key: string, update: Update): Promise<ItemWrite> {
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { [BUCKETS_TABLE.partitionKey]: { S: key } },
          ...update.build(),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, state: decodeBucket(key, out.Attributes as BucketItem | undefined) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = error.Item;
      // DynamoDB returns the old item when there was one; no item means either "no such
      // bucket" or "engine does not return items": only a read tells these apart.
      if (item === undefined || Object.keys(item).length === 0)
        return { ok: false, state: 'unknown' };
      return { ok: false, state: decodeBucket(key, item as BucketItem) };
    }
  }

  #expiresAt(tatUs: number): number {
    return Math.ceil(tatUs / US_PER_S) + this.#expirySeconds;
  }
}

/** The learned rate a plan used is still in force (absent `rf` means the configured rate). */
function rateGuard(u: Update, fraction: number): string {
  const rf = u.name(A.fraction);
  return fraction >= 1 ? `attribute_not_exists(${rf})` : `${rf} = ${u.value(fraction)}`;
}

/** The point lies after every committed slot. */
function frozenBefore(u: Update, atUs: number): string {
  const frz = u.name(A.frozen);
  return `(attribute_not_exists(${frz}) OR ${frz} < ${u.value(atUs)})`;
}

function appendToLog(u: Update, entries: readonly TimelineEntry[]): void {
  const log = u.name(A.log);
  // Every shift counts towards the fold's total (./timeline.ts, `LogFold`).
  const shifted = entries.reduce((sum, e) => sum + shiftTotal(e), 0);
  u.set(
    A.shiftTotal,
    `if_not_exists(${u.name(A.shiftTotal)}, ${u.value(0)}) + ${u.value(shifted)}`,
  );
  u.set(
    A.log,
    `list_append(if_not_exists(${log}, ${u.list([])}), ${u.list(entries.map(encodeEntry))})`,
  );
  u.set(
    A.headSeq,
    `if_not_exists(${u.name(A.headSeq)}, ${u.value(0)}) + ${u.value(entries.length)}`,
  );
}

/** Builds one UpdateItem's expressions with placeholder names and values. */
class Update {
  readonly #names = new Map<string, string>();
  readonly #values: Record<string, AttributeValue> = {};
  readonly #conditions: string[] = [];
  readonly #sets: string[] = [];
  readonly #removes: string[] = [];

  /** `#nN` for an attribute name; a path like `log[3]` keeps its index. */
  name(attribute: string): string {
    const index = /^(.*)(\[\d+\])$/.exec(attribute);
    if (index) return `${this.name(index[1] as string)}${index[2]}`;
    let placeholder = this.#names.get(attribute);
    if (placeholder === undefined) {
      placeholder = `#n${this.#names.size}`;
      this.#names.set(attribute, placeholder);
    }
    return placeholder;
  }

  value(n: number): string {
    const placeholder = `:v${Object.keys(this.#values).length}`;
    this.#values[placeholder] = { N: String(n) };
    return placeholder;
  }

  list(texts: readonly string[]): string {
    const placeholder = `:v${Object.keys(this.#values).length}`;
    this.#values[placeholder] = { L: texts.map((S) => ({ S })) };
    return placeholder;
  }

  when(condition: string): void {
    this.#conditions.push(condition);
  }

  set(attribute: string, expression: string): void {
    this.#sets.push(`${this.name(attribute)} = ${expression}`);
  }

  remove(attribute: string): void {
    this.#removes.push(this.name(attribute));
  }

  build() {
    const clauses = [
      this.#sets.length > 0 ? `SET ${this.#sets.join(', ')}` : '',
      this.#removes.length > 0 ? `REMOVE ${this.#removes.join(', ')}` : '',
    ].filter((c) => c !== '');
    return {
      ...(this.#conditions.length > 0
        ? { ConditionExpression: this.#conditions.join(' AND ') }
        : {}),
      UpdateExpression: clauses.join(' '),
      ExpressionAttributeNames: Object.fromEntries([...this.#names].map(([n, p]) => [p, n])),
      ...(Object.keys(this.#values).length > 0 ? { ExpressionAttributeValues: this.#values } : {}),
    };
  }
}
