/**
 * A bucket's timeline: the slots it has granted, and the short log of what moved them since.
 *
 * Admission by reservation hands out slots ahead of time (shared/admission/gcra.ts). Three things
 * must be able to move slots that were already granted, for every dispatcher at once:
 * - a call of a higher priority level, or of a flow that is behind its fair share, *cuts in*: it
 *   takes the place of the cells from some point on, and they all move back by its cost;
 * - the provider throttles: the bucket *pauses* (every later slot moves back by the penalty);
 * - the bucket's learned rate changes: the slots after a point are *re-spaced* at the new rate.
 *
 * The slots themselves are known only to the messages that carry them. The bucket item keeps the
 * log of changes (`TimelineEntry`, numbered by `seq`); a reservation remembers the log position it
 * has seen, and before it runs it reads the entries after it and *replays* them to find its slot
 * now. That is one request per arriving batch per bucket, and one write per change.
 *
 * Why the window bound `burst + rate·W` survives (test/unit/admission/timeline.test.ts checks it
 * on random histories, and on both DynamoDB engines in test/integration/scheduling.test.ts):
 * think of each cell of cost `c` as the stretch `[E − c·T, E)` of *virtual* time, where `E` is the
 * theoretical arrival time after it, and of its slot as `E − τ`. If the stretches of all cells are
 * disjoint and each lies within `[slot, slot + τ]`, then the cells whose slots fall in a window
 * `[a, b]` have stretches inside `[a, b + τ]`, so their tokens number at most `(b − a)/T + τ/T`
 * = `rate·W + burst`. Appends keep this (GCRA). The changes keep it because every cell after the
 * bucket's *grid anchor* is one token long and lies on the grid `anchor + m·T`
 * (./placement.ts cuts in only on buckets whose cells all cost one token):
 * - a cut-in of `n` one-token cells at a grid point V moves every stretch after V back by `n·T`
 *   and puts the new cells in the gap: nothing straddles V, nothing overlaps;
 * - a pause moves the stretches after a grid point back by a multiple of T: a gap;
 * - a rate change at a grid point re-spaces the stretches after it onto the new grid
 *   (`E′ = c + D + m·T′`), exactly, with the tolerance `τ′ = burst·T′`; `D` (a multiple of T′)
 *   keeps any slot from moving earlier when the rate drops, so the cells after the point conform
 *   at the new rate and the whole sequence at the faster of the two;
 * - nothing ever moves a slot a reservation has committed to: the item keeps a frozen watermark
 *   (the latest committed slot) and every change is written on the condition that its point lies
 *   after it (shared/admission/bucket-item.ts).
 */

/**
 * Slots after `atUs` move back: by `byUs`, or by `byUs` for each of `count` cells inserted every
 * `strideUs` of the old timeline from `atUs` on (a fair flow interleaved with the others).
 */
export interface ShiftEntry {
  readonly seq: number;
  readonly kind: 'shift';
  readonly atUs: number;
  readonly byUs: number;
  /** With `count` > 1: the distance between two inserted cells in the old timeline. */
  readonly strideUs: number;
  /** How many times `byUs` applies (cells inserted); 1 for a block cut-in or a pause. */
  readonly count: number;
}

/**
 * The slots after `atUs` (the slot of the grid point `c = atUs + fromTolUs`) are re-spaced from
 * the interval `fromUs` to `toUs`: the cell `m` intervals after `c` ends at `c + extraUs + m·toUs`
 * and its slot is that minus the new tolerance `toTolUs`.
 */
export interface RateEntry {
  readonly seq: number;
  readonly kind: 'rate';
  readonly atUs: number;
  readonly fromUs: number;
  readonly toUs: number;
  readonly fromTolUs: number;
  readonly toTolUs: number;
  readonly extraUs: number;
}

/** One change of a bucket's timeline. */
export type TimelineEntry = ShiftEntry | RateEntry;

/** Where a reservation stands: its slot, and the log position up to which it has replayed. */
export interface TimelinePosition {
  readonly slotUs: number;
  /** The log position; {@link FIXED} for a slot no change can reach. */
  readonly seq: number;
  /** The bucket's {@link LogFold.shiftUs} at that log position (absent: unknown). */
  readonly shiftUs?: number;
}

/**
 * What the log keeps of the entries it dropped, so that a reservation granted long ago can still
 * follow them. Past its *reach* (`atUs`, or for a strided shift the last inserted cell's point)
 * a shift moves every slot by the same amount, and shifts only ever move slots later: a slot
 * after every dropped shift's reach moved by exactly the sum of their amounts. The bucket counts
 * that sum over all shifts ever written (`shiftUs`), and a position remembers the count when it
 * replayed; the difference, less the kept entries' part, is what the dropped ones did to it.
 * A rate entry re-spaces instead: positions older than a dropped one cannot follow it.
 */
export interface LogFold {
  /** The sum of {@link shiftTotal} over every entry ever written. */
  readonly shiftUs: number;
  /** The furthest {@link shiftReach} of any dropped shift. */
  readonly reachUs: number;
  /** The newest dropped rate entry (0: none). */
  readonly rateSeq: number;
}

/** No entry was ever dropped. */
export const NO_FOLD: LogFold = Object.freeze({ shiftUs: 0, reachUs: 0, rateSeq: 0 });

/** How far an entry moves a slot past its reach: all its cells (0 for a rate change). */
export function shiftTotal(entry: TimelineEntry): number {
  return entry.kind === 'shift' ? entry.byUs * Math.max(1, entry.count) : 0;
}

/** Past this slot, a shift moves every slot by {@link shiftTotal}. */
export function shiftReach(entry: ShiftEntry): number {
  return entry.atUs + Math.max(0, entry.count - 1) * Math.max(1, entry.strideUs);
}

/** The fold after dropping `dropped` (the oldest entries of the log). */
export function foldDropped(fold: LogFold, dropped: readonly TimelineEntry[]): LogFold {
  let { reachUs, rateSeq } = fold;
  for (const entry of dropped) {
    if (entry.kind === 'rate') rateSeq = Math.max(rateSeq, entry.seq);
    else reachUs = Math.max(reachUs, shiftReach(entry));
  }
  return { shiftUs: fold.shiftUs, reachUs, rateSeq };
}

/**
 * The log position of a slot that was due when it was granted: every later change lands at least
 * a freeze margin after its own time, so it can never reach such a slot, and nothing need be
 * replayed or committed for it.
 */
export const FIXED = -1;

/** A slot after one entry. Slots at or before the entry's point never move. */
export function applyEntry(slotUs: number, entry: TimelineEntry): number {
  if (slotUs <= entry.atUs) return slotUs;
  if (entry.kind === 'rate') {
    // Cells after the point lie on the old grid: a whole number of old intervals past it.
    const m = Math.round((slotUs - entry.atUs) / entry.fromUs);
    return entry.atUs + entry.fromTolUs + entry.extraUs + m * entry.toUs - entry.toTolUs;
  }
  const times =
    entry.count <= 1
      ? 1
      : Math.min(entry.count, Math.ceil((slotUs - entry.atUs) / Math.max(1, entry.strideUs)));
  return slotUs + times * entry.byUs;
}

/**
 * Replays the entries after `position.seq` (in any order; they are sorted here) onto its slot.
 * Entries the log dropped are followed through the `fold` where they can be (see
 * {@link LogFold}). `undefined` when they cannot: the caller cannot know its slot and must go
 * through admission again, which wastes its tokens but never exceeds the bucket.
 */
export function replay(
  position: TimelinePosition,
  entries: readonly TimelineEntry[],
  headSeq: number,
  fold: LogFold = NO_FOLD,
): TimelinePosition | undefined {
  if (position.seq === FIXED) return position;
  if (headSeq <= position.seq) return { ...position, shiftUs: fold.shiftUs };
  const newer = entries.filter((e) => e.seq > position.seq).sort((a, b) => a.seq - b.seq);
  let expected = position.seq + 1;
  let slotUs = position.slotUs;
  const firstKept = newer[0]?.seq ?? headSeq + 1;
  if (firstKept > expected) {
    // The entries before the first kept one were dropped: only shifts, all reaching before
    // this slot, can be followed.
    if (position.shiftUs === undefined || position.seq < fold.rateSeq) return undefined;
    if (slotUs <= fold.reachUs) return undefined;
    const kept = newer.reduce((sum, e) => sum + shiftTotal(e), 0);
    slotUs += fold.shiftUs - kept - position.shiftUs;
    expected = firstKept;
  }
  for (const entry of newer) {
    if (entry.seq !== expected) return undefined;
    slotUs = applyEntry(slotUs, entry);
    expected++;
  }
  if (expected !== headSeq + 1) return undefined;
  return { slotUs, seq: headSeq, shiftUs: fold.shiftUs };
}

/**
 * The bucket's theoretical arrival time after an entry, given the tolerance `tolUs` in force
 * before it: its last cell's slot moves like any other (a rate change also brings its new
 * tolerance); a TAT whose last slot lies at or before the point does not move.
 */
export function applyToTat(tatUs: number, entry: TimelineEntry, tolUs: number): number {
  const lastSlotUs = tatUs - tolUs;
  if (lastSlotUs <= entry.atUs) return tatUs;
  return applyEntry(lastSlotUs, entry) + (entry.kind === 'rate' ? entry.toTolUs : tolUs);
}

/** The first grid point `anchor + m·interval` at or after `atUs`. */
export function onGrid(atUs: number, anchorUs: number, intervalUs: number): number {
  if (atUs <= anchorUs) return anchorUs;
  return anchorUs + Math.ceil((atUs - anchorUs) / intervalUs) * intervalUs;
}

/** The slots of the cells a strided cut-in inserts: cell `j` lands after `j` of its own and `j`
 *  strides of the old timeline, at `atUs + j·stride + (j + 1)·cellUs`. */
export function insertedSlots(
  atUs: number,
  cellUs: number,
  strideUs: number,
  count: number,
): number[] {
  return Array.from({ length: count }, (_, j) => atUs + j * strideUs + (j + 1) * cellUs);
}
