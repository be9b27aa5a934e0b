// In-memory event storage: a bounded FIFO (max_records_count unacknowledged records). Nothing
// survives a restart; when full, new data is refused and nothing stored is evicted.

import { BatchBook } from "./batch-book.ts";
import type { EventBus } from "../observe/events.ts";
import type { Logger } from "../observe/logger.ts";
import { Ledger, type Range } from "./ledger.ts";
import { AvailabilitySignal, FullEpisode } from "./signals.ts";
import type { Batch, EventStorage, PutResult } from "./types.ts";

export interface MemoryStorageOptions {
  maxRecords: number;
  log: Logger;
  events?: EventBus;
}

/** Drop acknowledged records from the front of the buffer once this many piled up. */
const COMPACT_AFTER = 4096;

export class MemoryStorage implements EventStorage {
  readonly kind = "memory" as const;
  private readonly ledger = new Ledger();
  /** buf[i] holds position base + i; acknowledged slots are cleared to free the string. */
  private buf: Array<string | undefined> = [];
  private base = 0;
  private readonly batches = new BatchBook<Range[]>();
  private closed = false;
  private readonly available = new AvailabilitySignal();
  private readonly full: FullEpisode;

  constructor(private readonly opts: MemoryStorageOptions) {
    this.full = new FullEpisode(opts.log, opts.events);
  }

  put(records: string[]): PutResult {
    if (this.closed) return "closed";
    if (records.length === 0) return "stored";
    const depth = this.ledger.unacked;
    if (depth + records.length > this.opts.maxRecords) {
      this.full.refused(records.length, depth, `max_records_count ${this.opts.maxRecords}`);
      return "full";
    }
    if (this.full.isFull) this.full.accepted(depth);
    this.ledger.append(records.length);
    for (const r of records) this.buf.push(r);
    this.available.fire();
    return "stored";
  }

  whenDurable(): Promise<void> {
    return Promise.resolve();
  }

  next(maxRecords: number): Batch | undefined {
    if (this.closed || maxRecords <= 0) return undefined;
    const ranges = this.ledger.take(maxRecords);
    if (ranges.length === 0) return undefined;
    const records: string[] = [];
    for (const r of ranges) {
      for (let p = r.start; p < r.end; p++) records.push(this.buf[p - this.base]!);
    }
    return this.batches.issue(records, ranges);
  }

  ack(batch: Batch): void {
    if (this.closed) return;
    const ranges = this.batches.take(batch);
    if (!ranges) return;
    this.ledger.ack(ranges);
    for (const r of ranges) {
      for (let p = Math.max(r.start, this.base); p < r.end; p++) this.buf[p - this.base] = undefined;
    }
    const drop = this.ledger.ackedUpTo - this.base;
    if (drop >= COMPACT_AFTER && drop * 2 >= this.buf.length) {
      this.buf.splice(0, drop);
      this.base = this.ledger.ackedUpTo;
    }
  }

  rewind(): void {
    this.ledger.rewind();
    if (this.ledger.pending) this.available.fire();
  }

  depth(): number {
    return this.ledger.unacked;
  }

  onAvailable(cb: () => void): void {
    this.available.add(cb);
    if (this.ledger.pending) this.available.fire();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.available.clear();
    this.buf = [];
  }
}
