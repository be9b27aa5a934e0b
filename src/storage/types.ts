// One contract for every event storage (memory, sqlite, file). Records are opaque strings
// (compact JSON of the upstream record shape). The sender may hold several batches in flight;
// a record leaves storage only when the batch that carried it is acknowledged.

export interface Batch {
  /** Monotonic per storage instance. */
  readonly seq: number;
  readonly records: string[];
}

export type PutResult = "stored" | "full" | "closed";

export interface EventStorage {
  readonly kind: "memory" | "sqlite" | "file";
  /**
   * Append records in order. Returns synchronously whether they were accepted; `whenDurable()`
   * resolves once everything accepted so far is on disk or acknowledged through `ack()`
   * (immediately for memory).
   * When full the whole call is refused ("full") and a warning with counts is logged once per
   * episode; nothing already stored is evicted.
   */
  put(records: string[]): PutResult;
  whenDurable(): Promise<void>;
  /**
   * Next records not yet handed out, oldest first, at most `maxRecords` (the storage may cap it
   * lower by its own settings only where that does not throttle delivery). Undefined when empty.
   * The file storage hands out durable records only. Sqlite hands out records not committed yet
   * when the reader takes them at once, and holds them (sqlite.ts, HOLD_MS): acknowledged in time
   * they are never written. `onAvailable` tells when records can be read.
   */
  next(maxRecords: number): Batch | undefined;
  /** The batch was delivered; its records are removed (durably for sqlite/file). Any order. */
  ack(batch: Batch): void;
  /**
   * Forget what was handed out and not acked: the next `next()` starts again from the oldest
   * unacked record (used after a publish failure that the client cannot retry itself).
   */
  rewind(): void;
  /** Records stored and not yet acknowledged. */
  depth(): number;
  /** Called (at most once per tick) when records become available to `next()`. */
  onAvailable(cb: () => void): void;
  close(): Promise<void>;
}
