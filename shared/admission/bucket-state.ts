/**
 * What a bucket's item holds, and its codec: one place that knows the attribute names and how
 * the timeline log is written (shared/admission/timeline.ts).
 *
 * - `tat` — the theoretical arrival time after the last cell (µs); `expiresAt` — TTL.
 * - `frz` — the frozen watermark: the latest slot a reservation has committed to. Nothing at or
 *   before it ever moves.
 * - `anc`, `gs` — the grid: every cell whose slot is after `gs` ends on `anc + m·T`
 *   (./timeline.ts); cells at or before `gs` belong to an older grid and are never moved.
 * - `mc` — present while some cell of the current busy stretch costs more than one token: then
 *   cells do not all lie on the grid's points, and no call cuts in.
 * - `lseq`, `log` — the timeline log: `lseq` numbers the newest entry, `log` holds the newest ones
 *   (oldest first), each a short string (`s|at|by|stride|count` for a shift,
 *   `r|at|from|to|fromTol|toTol|extra` for a rate change). Old entries are dropped from the front; `lseq` keeps counting.
 * - `rf`, `rc`, `rd`, `rt`, `re`, `rs`, `rb` — the learned rate (shared/admission/learned-rate.ts):
 *   fraction in force (absent: 1), ceiling, base, when it was set (µs), epoch, the slot after
 *   which the epoch's rate spaces the cells, failed probes.
 * - `sh`, `dr`, `dq` — what the log keeps of the entries it dropped (`LogFold` in ./timeline.ts):
 *   the sum of every shift ever written, the furthest reach of a dropped shift, the newest dropped
 *   rate entry.
 * - `lt:<level>`, `ft:<level>:<flow>`, `cm:<level>` — placement hints (shared/admission/placement.ts):
 *   where each level's and flow's cells end, and each level's cut-in meter. Hints steer where a
 *   call goes; the bound never depends on them.
 */
import { BUCKETS_TABLE } from '../storage/tables.js';
import { BucketStoreError } from './errors.js';
import { type RateState, UNTHROTTLED } from './learned-rate.js';
import { type LogFold, NO_FOLD, type TimelineEntry } from './timeline.js';

/** A DynamoDB attribute value, as far as bucket items use them. */
export type BucketAttribute = { N?: string; S?: string; L?: BucketAttribute[] };

/** A bucket item's attributes. */
export type BucketItem = Record<string, BucketAttribute>;

/** Attribute names (and prefixes) of a bucket item. */
export const BUCKET_ATTRIBUTES = {
  tat: BUCKETS_TABLE.attributes.tat,
  expiresAt: BUCKETS_TABLE.attributes.expiresAt,
  frozen: 'frz',
  anchor: 'anc',
  gridStart: 'gs',
  multiCost: 'mc',
  headSeq: 'lseq',
  log: 'log',
  fraction: 'rf',
  ceiling: 'rc',
  decreasedTo: 'rd',
  decreasedAt: 'rt',
  epoch: 're',
  rateSince: 'rs',
  rateBackoffs: 'rb',
  shiftTotal: 'sh',
  droppedReach: 'dr',
  droppedRateSeq: 'dq',
  levelTail: 'lt:',
  flowTail: 'ft:',
  cutMeter: 'cm:',
} as const;

const A = BUCKET_ATTRIBUTES;

/** What the store knows of a bucket: the decoded item. */
export interface BucketState {
  readonly tatUs: number | undefined;
  readonly frozenUs: number;
  /** The grid anchor (µs); 0 when none yet. */
  readonly anchorUs: number;
  /** The slot at or before which cells belong to an older grid (µs); 0 when none. */
  readonly gridStartUs: number;
  /** Some cell of the current busy stretch costs more than one token. */
  readonly multiCost: boolean;
  /** Number of the newest log entry (0: none ever). */
  readonly headSeq: number;
  /** The entries still held, oldest first. */
  readonly log: readonly TimelineEntry[];
  /** What the log keeps of the entries it dropped. */
  readonly fold: LogFold;
  readonly rate: RateState;
  /** By level name. */
  readonly levelTailsUs: ReadonlyMap<string, number>;
  /** By `<level>:<flow>`. */
  readonly flowTailsUs: ReadonlyMap<string, number>;
  /** By level name. */
  readonly cutMetersUs: ReadonlyMap<string, number>;
}

/** A bucket nobody has used. */
export const EMPTY_BUCKET: BucketState = Object.freeze({
  tatUs: undefined,
  frozenUs: 0,
  anchorUs: 0,
  gridStartUs: 0,
  multiCost: false,
  headSeq: 0,
  fold: NO_FOLD,
  log: Object.freeze([]),
  rate: UNTHROTTLED,
  levelTailsUs: new Map(),
  flowTailsUs: new Map(),
  cutMetersUs: new Map(),
});

/** The key of a flow's tail in {@link BucketState.flowTailsUs}. */
export function flowTailKey(level: string, flow: string): string {
  return `${level}:${flow}`;
}

/** The attribute name of a level's or a flow's hint. */
export function hintAttribute(kind: 'levelTail' | 'cutMeter', level: string): string;
export function hintAttribute(kind: 'flowTail', level: string, flow: string): string;
export function hintAttribute(
  kind: 'levelTail' | 'cutMeter' | 'flowTail',
  level: string,
  flow?: string,
): string {
  return kind === 'flowTail'
    ? `${A.flowTail}${flowTailKey(level, flow as string)}`
    : `${A[kind]}${level}`;
}

/** Decodes an item (`undefined`: no item) into a state; a malformed one names what is wrong. */
export function decodeBucket(key: string, item: BucketItem | undefined): BucketState {
  if (item === undefined) return EMPTY_BUCKET;
  const number = (name: string): number | undefined => {
    const raw = item[name]?.N;
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new BucketStoreError(key, `${name} is not a number: ${raw}`);
    return value;
  };
  const tatUs = number(A.tat);
  if (tatUs !== undefined && !Number.isSafeInteger(tatUs))
    throw new BucketStoreError(key, `stored TAT is not an integer: ${tatUs}`);
  const headSeq = number(A.headSeq) ?? 0;
  const texts = (item[A.log]?.L ?? []).map((v) => v.S ?? '');
  const firstSeq = headSeq - texts.length + 1;
  const log = texts.map((text, i) => decodeEntry(key, text, firstSeq + i));
  const levelTailsUs = new Map<string, number>();
  const flowTailsUs = new Map<string, number>();
  const cutMetersUs = new Map<string, number>();
  for (const [name, value] of Object.entries(item)) {
    if (value.N === undefined) continue;
    if (name.startsWith(A.levelTail))
      levelTailsUs.set(name.slice(A.levelTail.length), Number(value.N));
    else if (name.startsWith(A.flowTail))
      flowTailsUs.set(name.slice(A.flowTail.length), Number(value.N));
    else if (name.startsWith(A.cutMeter))
      cutMetersUs.set(name.slice(A.cutMeter.length), Number(value.N));
  }
  const fraction = number(A.fraction);
  const rate: RateState =
    fraction === undefined && number(A.epoch) === undefined
      ? UNTHROTTLED
      : {
          fraction: fraction ?? 1,
          ceiling: number(A.ceiling) ?? 1,
          decreasedTo: number(A.decreasedTo) ?? fraction ?? 1,
          decreasedAtUs: number(A.decreasedAt) ?? 0,
          epoch: number(A.epoch) ?? 0,
          sinceUs: number(A.rateSince) ?? 0,
          backoffs: number(A.rateBackoffs) ?? 0,
        };
  return {
    tatUs,
    frozenUs: number(A.frozen) ?? 0,
    anchorUs: number(A.anchor) ?? 0,
    gridStartUs: number(A.gridStart) ?? 0,
    multiCost: item[A.multiCost] !== undefined,
    headSeq,
    log,
    fold: {
      shiftUs: number(A.shiftTotal) ?? 0,
      reachUs: number(A.droppedReach) ?? 0,
      rateSeq: number(A.droppedRateSeq) ?? 0,
    },
    rate,
    levelTailsUs,
    flowTailsUs,
    cutMetersUs,
  };
}

/** The log form of an entry (without its `seq`, which its place in the log gives). */
export function encodeEntry(entry: TimelineEntry): string {
  return entry.kind === 'shift'
    ? `s|${entry.atUs}|${entry.byUs}|${entry.strideUs}|${entry.count}`
    : `r|${entry.atUs}|${entry.fromUs}|${entry.toUs}|${entry.fromTolUs}|${entry.toTolUs}|${entry.extraUs}`;
}

function decodeEntry(key: string, text: string, seq: number): TimelineEntry {
  const [kind, ...parts] = text.split('|');
  const numbers = parts.map(Number);
  if (numbers.some((n) => !Number.isSafeInteger(n)))
    throw new BucketStoreError(key, `log entry ${seq} is malformed: ${text}`);
  if (kind === 's' && numbers.length === 4) {
    const [atUs, byUs, strideUs, count] = numbers as [number, number, number, number];
    return { seq, kind: 'shift', atUs, byUs, strideUs, count };
  }
  if (kind === 'r' && numbers.length === 6) {
    const [atUs, fromUs, toUs, fromTolUs, toTolUs, extraUs] = numbers as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return { seq, kind: 'rate', atUs, fromUs, toUs, fromTolUs, toTolUs, extraUs };
  }
  throw new BucketStoreError(key, `log entry ${seq} is malformed: ${text}`);
}
