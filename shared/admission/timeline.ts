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
 * now. That is one read per arriving batch per bucket, and one write per change.
 *
 * Why the window bound `burst + rate·W` survives (the property tests in
 * test/unit/admission/timeline.test.ts check it on random histories):
 * - a shift moves every slot after a point by the same amount: the suffix keeps its spacing and
 *   only gains a gap, so it stays conformant;
 * - a cut-in of `n` tokens at point P gives the new cell the slot P + n·T and moves every slot after
 *   P back by n·T. The new cell conforms (what precedes it ends by P + τ); a cell of cost `c` whose
 *   tokens straddle P still conforms when `c + n ≤ burst` (see `canCutIn` in placement.ts, which
 *   enforces it); every later cell moves with the theoretical arrival time, by the same n·T;
 * - a rate change at point f re-spaces the slots after f by T′/T about f: the suffix conforms at the
 *   new rate, and nothing before f moves;
 * - nothing ever moves a slot a reservation has committed to: the item keeps a frozen watermark
 *   (the latest committed slot) and every change is written on the condition that its point lies
 *   after it (shared/admission/bucket-item.ts).
 */

/** Slots after `atUs` move back: by `byUs`, or by `byUs` for each of `count` cells inserted every
 *  `strideUs` of the old timeline from `atUs` on (a fair flow interleaved with the others). */
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

/** Slots after `atUs` are re-spaced from the interval `fromUs` to `toUs` (the learned rate). */
export interface RateEntry {
  readonly seq: number;
  readonly kind: 'rate';
  readonly atUs: number;
  readonly fromUs: number;
  readonly toUs: number;
}

/** One change of a bucket's timeline. */
export type TimelineEntry = ShiftEntry | RateEntry;

/** Where a reservation stands: its slot, and the log position up to which it has replayed. */
export interface TimelinePosition {
  readonly slotUs: number;
  /** The log position; {@link FIXED} for a slot no change can reach. */
  readonly seq: number;
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
    // Rounded up: a re-spaced slot is never earlier than the exact one.
    return entry.atUs + Math.ceil(((slotUs - entry.atUs) * entry.toUs) / entry.fromUs);
  }
  const times =
    entry.count <= 1
      ? 1
      : Math.min(entry.count, Math.ceil((slotUs - entry.atUs) / Math.max(1, entry.strideUs)));
  return slotUs + times * entry.byUs;
}

/**
 * Replays the entries after `position.seq` (in any order; they are sorted here) onto its slot.
 * `undefined` when the log no longer holds all of them (it was pruned): the caller cannot know
 * its slot and must go through admission again, which wastes its tokens but never exceeds the
 * bucket.
 */
export function replay(
  position: TimelinePosition,
  entries: readonly TimelineEntry[],
  headSeq: number,
): TimelinePosition | undefined {
  if (position.seq === FIXED || headSeq <= position.seq) return position;
  const newer = entries.filter((e) => e.seq > position.seq).sort((a, b) => a.seq - b.seq);
  let expected = position.seq + 1;
  let slotUs = position.slotUs;
  for (const entry of newer) {
    if (entry.seq !== expected) return undefined;
    slotUs = applyEntry(slotUs, entry);
    expected++;
  }
  if (expected !== headSeq + 1) return undefined;
  return { slotUs, seq: headSeq };
}

/**
 * The bucket's theoretical arrival time after the same entries: what is still owed after the
 * point is re-spaced or shifted like the slots (a rate change scales it about the point, which
 * keeps the tokens outstanding the same; a shift moves it). For busy cells this is exactly the
 * last slot's move plus the new tolerance; for a bucket granting at once it also holds.
 */
export function applyToTat(tatUs: number, entry: TimelineEntry): number {
  if (tatUs <= entry.atUs) return tatUs;
  if (entry.kind === 'rate') {
    return entry.atUs + Math.ceil(((tatUs - entry.atUs) * entry.toUs) / entry.fromUs);
  }
  return tatUs + entry.byUs * (entry.count <= 1 ? 1 : entry.count);
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
