// Bookkeeping shared by the memory and file storages: every accepted record gets a position
// (0, 1, 2, ... in put order). The ledger tracks which positions were handed out and which were
// acknowledged, so batches can be in flight together and be acked in any order.
//
// Invariants:
//   ackedUpTo <= cursor <= end
//   every position < ackedUpTo is acked (the contiguous acked prefix: what may be deleted for good)
//   `gaps` holds acked ranges above ackedUpTo (acks that arrived out of order), sorted, disjoint,
//   never touching ackedUpTo (they are folded into it as soon as they do).

/** Half-open position range [start, end). */
export interface Range {
  start: number;
  end: number;
}

export class Ledger {
  /** Everything below is acknowledged. */
  ackedUpTo: number;
  /** Next position to hand out. */
  cursor: number;
  /** Next position to assign to a new record. */
  end: number;
  private gaps: Range[] = [];
  private gapCount = 0;

  constructor(start = 0, end = start) {
    this.ackedUpTo = start;
    this.cursor = start;
    this.end = end;
  }

  /** Stored and not acknowledged. */
  get unacked(): number {
    return this.end - this.ackedUpTo - this.gapCount;
  }

  /** Positions not yet handed out since the last rewind (acked ones excluded). */
  get pending(): boolean {
    return this.nextUnacked(this.cursor) < this.end;
  }

  append(n: number): number {
    const first = this.end;
    this.end += n;
    return first;
  }

  /**
   * Hand out up to `max` positions from the cursor, skipping acknowledged ones, not beyond `limit`.
   * Returns the ranges taken (may be several after a rewind skipped over out-of-order acks).
   */
  take(max: number, limit = this.end): Range[] {
    const out: Range[] = [];
    let left = max;
    let pos = this.cursor;
    const stop = Math.min(limit, this.end);
    while (left > 0) {
      pos = this.nextUnacked(pos);
      if (pos >= stop) break;
      const gapAfter = this.gaps.find((g) => g.start > pos);
      const runEnd = Math.min(stop, pos + left, gapAfter ? gapAfter.start : Infinity);
      out.push({ start: pos, end: runEnd });
      left -= runEnd - pos;
      pos = runEnd;
    }
    this.cursor = Math.max(this.cursor, pos);
    return out;
  }

  /** Mark ranges acknowledged; idempotent. Returns how many positions became newly acked. */
  ack(ranges: readonly Range[]): number {
    let added = 0;
    for (const r of ranges) added += this.ackOne(r.start, r.end);
    return added;
  }

  /** Hand out again from the oldest unacked record. */
  rewind(): void {
    this.cursor = this.ackedUpTo;
  }

  /** The first unacknowledged position at or after `pos`. */
  nextUnacked(pos: number): number {
    if (pos < this.ackedUpTo) pos = this.ackedUpTo;
    for (const g of this.gaps) {
      if (g.start > pos) break;
      if (g.end > pos) pos = g.end;
    }
    return pos;
  }

  private ackOne(start: number, end: number): number {
    start = Math.max(start, this.ackedUpTo);
    end = Math.min(end, this.end);
    if (start >= end) return 0;
    // Fast path: in-order ack extends the prefix and no gap is touched.
    if (start === this.ackedUpTo && (this.gaps.length === 0 || this.gaps[0]!.start > end)) {
      this.ackedUpTo = end;
      return end - start;
    }
    // Merge [start, end) with every gap it overlaps or touches.
    let i = 0;
    while (i < this.gaps.length && this.gaps[i]!.end < start) i++;
    let j = i;
    let covered = 0;
    let s = start;
    let e = end;
    while (j < this.gaps.length && this.gaps[j]!.start <= end) {
      const g = this.gaps[j]!;
      covered += g.end - g.start;
      s = Math.min(s, g.start);
      e = Math.max(e, g.end);
      j++;
    }
    const added = e - s - covered;
    this.gaps.splice(i, j - i, { start: s, end: e });
    this.gapCount += e - s - covered;
    // Fold a gap that now starts at the prefix into it.
    const first = this.gaps[0]!;
    if (first.start <= this.ackedUpTo) {
      this.gapCount -= first.end - first.start;
      this.ackedUpTo = Math.max(this.ackedUpTo, first.end);
      this.gaps.shift();
    }
    return added;
  }
}

/** Sum of range lengths. */
export function rangeSize(ranges: readonly Range[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start;
  return n;
}
