// Batches handed out by a storage and what each one covers, so that ack() finds its records.
// Shared by memory, sqlite and file storage; a batch is taken back at most once.

import type { Batch } from "./types.ts";

export class BatchBook<T> {
  private readonly covers = new WeakMap<Batch, T>();
  private seq = 0;

  issue(records: string[], cover: T): Batch {
    const batch: Batch = { seq: ++this.seq, records };
    this.covers.set(batch, cover);
    return batch;
  }

  /** What the batch covers, once; undefined for an unknown or already taken batch. */
  take(batch: Batch): T | undefined {
    const cover = this.covers.get(batch);
    if (cover !== undefined) this.covers.delete(batch);
    return cover;
  }
}
