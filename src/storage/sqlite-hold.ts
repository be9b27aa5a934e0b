// The sqlite storage's rows in flight kept off the disk: which rows are held, the timer that has
// them committed when the platform is slow to acknowledge, and whether it acknowledges promptly
// enough to hold rows at all. The storage (sqlite.ts) decides when to hold and commits what runs out.

import type { PendingRow } from "./sqlite-file.ts";

/** A row put and not yet on disk; `n` is its place among all records accepted (for whenDurable). */
export interface QueuedRow extends PendingRow {
  n: number;
}

/**
 * Write-behind for rows in flight. When the sender takes rows before they are committed and the
 * platform acknowledges promptly, they are held in memory; acknowledged within this time, they
 * never reach the disk: no insert, no delete. Otherwise they are committed when it runs out, and
 * at once before a rewind (the session dropped), a rotation or close. At 1,000 datapoints/s that
 * spares a WAL commit of a 4 KB page some 33 times a second (~11 GB of writes a day on a Raspberry
 * Pi's SD card, and ~150 µs of CPU each on the benchmark machine). whenDurable() counts a row once
 * it is on disk or acknowledged, so whoever waits on it (a device's acknowledgement) still learns
 * only that its data is safe in one of the two, at most this much later than at a commit: a device
 * broker that allows k unacknowledged messages is not held to k per platform round trip. A kill -9
 * loses nothing whenDurable() confirmed; rows sent but not yet acknowledged may lose their local
 * copy (the platform usually has them).
 */
export const HOLD_MS = 10;
/**
 * Rows are held only while at most one of the last ACK_WINDOW batches took longer than the hold to
 * be acknowledged: a distant platform, or a slow spell, would only make every hold run out (a
 * timer and a commit anyway, and devices acknowledged later); one late acknowledgement on a busy
 * machine is not a slow platform.
 */
const ACK_WINDOW = 4;
/**
 * Rows are held only while at most this many would be: under heavy traffic a commit costs little
 * per row, and acknowledging devices only at the platform's PUBACK made intake wait on the
 * platform's round trip (full load, sqlite: ~320,000 against ~390,000 datapoints/s held without
 * a bound). Beyond it rows are committed before they are handed out, as without holding.
 */
export const HOLD_MAX_ROWS = 256;

export class HeldRows {
  /** Rows of the write file handed out before their commit, oldest first. */
  rows: QueuedRow[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** How long the last ACK_WINDOW batches took from hand-out to ack (ms), as a ring. */
  private readonly ackMs = new Array<number>(ACK_WINDOW).fill(0);
  private ackAt = 0;

  /** `runOut`: the hold ran out with rows still held; the storage commits them. */
  constructor(private readonly runOut: () => void) {}

  get length(): number {
    return this.rows.length;
  }

  /** A batch was acknowledged `ms` after it was handed out. */
  noteAck(ms: number): void {
    this.ackMs[this.ackAt++ % ACK_WINDOW] = ms;
  }

  /** At most one of the platform's last ACK_WINDOW acknowledgements came later than the hold. */
  acksPrompt(): boolean {
    let late = 0;
    for (const ms of this.ackMs) if (ms >= HOLD_MS) late++;
    return late <= 1;
  }

  /** Holds rows just handed out (oldest first, newer than those held). */
  hold(rows: readonly QueuedRow[]): void {
    for (const r of rows) this.rows.push(r);
    this.timer ??= setTimeout(this.ranOut, HOLD_MS);
  }

  /** Removes the held rows with ids from..to (acknowledged by the platform); returns how many. */
  drop(from: number, to: number): number {
    const kept: QueuedRow[] = [];
    for (const r of this.rows) if (r.id < from || r.id > to) kept.push(r);
    const dropped = this.rows.length - kept.length;
    this.rows = kept;
    if (kept.length === 0) this.stop();
    return dropped;
  }

  /** Every held row, no longer held: the storage commits them. */
  takeAll(): QueuedRow[] {
    const rows = this.rows;
    this.rows = [];
    this.stop();
    return rows;
  }

  /** Rows whose commit failed: held again, and committed again when the hold runs out. */
  restore(rows: QueuedRow[]): void {
    this.rows = rows;
    this.timer ??= setTimeout(this.ranOut, HOLD_MS);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly ranOut = (): void => {
    this.timer = undefined;
    this.runOut();
  };
}
