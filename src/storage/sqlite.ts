// SQLite event storage. Records are buffered by put() and committed in batched transactions (at
// the end of the tick, or when writing_batch_size is reached), so the hot path is a handful of
// transactions per tick rather than one per record. Acks become range deletes applied with the
// next commit. Rows the sender takes before their commit (it keeps up with the data) are held in
// memory instead and reach the disk only if the platform has not acknowledged them within HOLD_MS
// (sqlite-hold.ts). Files rotate by size (data.db, then data_<ms>.db); the reader drains the oldest
// file, which is deleted once empty.

import { BatchBook } from "./batch-book.ts";
import { renameSync } from "node:fs";
import { join } from "node:path";
import type { EventBus } from "../observe/events.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import { AvailabilitySignal, DurableWaiters, FullEpisode, isDiskFull, MAX_HELD_WHILE_FAILING, WriteTrouble } from "./signals.ts";
import { FIRST_DB_NAME, listDbFiles, rotatedDbName, SqliteDataFile, type PendingRow } from "./sqlite-file.ts";
import { HeldRows, HOLD_MAX_ROWS, type QueuedRow } from "./sqlite-hold.ts";
import type { Batch, EventStorage, PutResult } from "./types.ts";

export interface SqliteStorageOptions {
  /** Absolute folder of the database files (created by the caller). */
  dir: string;
  sizeLimitBytes: number;
  maxDbAmount: number;
  writingBatchSize: number;
  ttlMs: number;
  ttlCheckMs: number;
  log: Logger;
  events?: EventBus;
  /** Clock for timestamps and TTL (tests move it forward). */
  now?: () => number;
}

/** What a handed-out batch covers, and when it was handed out (performance.now()). */
interface Issued {
  ranges: IdRange[];
  at: number;
}

interface IdRange {
  file: SqliteDataFile;
  from: number;
  to: number;
  /** The rows were handed out before their commit (held, see HOLD_MS). */
  held?: boolean;
}


const RETRY_AFTER_ERROR_MS = 1000;
/**
 * Acknowledged rows of the write file are deleted with the next insert commit, or after this long
 * when nothing is put meanwhile: one transaction per batch of traffic instead of two. Rows of older
 * files are deleted at once (that frees their file). A crash in between resends them (at least once).
 */
const LAZY_DELETE_MS = 250;
/** Group commit: while records arrive concurrently, new rows are committed at most this often. */
const COMMIT_GAP_MS = 3;
/**
 * The write file's size is measured (a pragma query) after a commit only when the bytes inserted
 * since the last measurement, counted generously, could have reached size_limit, or at least this
 * often: measuring after every commit cost as much as the commit itself at low rates.
 */
const MEASURE_EVERY_MS = 1000;
/** Generous on-disk bytes per inserted byte of message (pages, index, row headers) for that guess. */
const GROWTH_FACTOR = 3;
const ROW_OVERHEAD_BYTES = 64;
/**
 * Rows just committed to the write file are also kept in memory (up to this many) while the
 * reader is right behind them, so the sender's next() hands them out without reading them back
 * (that SELECT was ~1 µs per record under the REST load). Beyond it, reads go to the database.
 */
const MAX_TAIL_ROWS = 10_000;
/** Errors that mean the file is not a usable database (rather than, say, a full disk). */
const DAMAGED = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB"]);

export class SqliteStorage implements EventStorage {
  readonly kind = "sqlite" as const;
  /** Oldest first; the last one is the write file. */
  private files: SqliteDataFile[] = [];
  private pending: QueuedRow[] = [];
  /** Rows of the write file handed out before their commit (sqlite-hold.ts); committed if the hold runs out. */
  private readonly held = new HeldRows(() => this.flush(true));
  /** Rows were put while they would not be held: readers learn of them at their commit. */
  private unannounced = false;
  private deletes = new Map<SqliteDataFile, Array<[number, number]>>();
  /** Records in acked batches whose delete is not committed yet (for depth()). */
  private ackedUncommitted = 0;
  /** Reader: every row of files before `readFile`, and of `readFile` up to `readId`, was handed out. */
  private readFile: SqliteDataFile;
  private readId = 0;
  private writeOversize = false;
  private readonly batches = new BatchBook<Issued>();
  /**
   * Committed rows of `tailFile` with ids right after the reader's position, in id order and without
   * gaps: every committed row of that file after `readId` when the reader is there (see MAX_TAIL_ROWS).
   */
  private tail: PendingRow[] = [];
  private tailAt = 0;
  private tailFile: SqliteDataFile | undefined;
  private closed = false;
  private flushScheduled = false;
  /** When the last commit of new rows happened (performance.now()) and how many it carried. */
  private lastCommitAt = -Infinity;
  private lastCommitRows = 0;
  private lazyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Write-file bytes at the last measurement, and a generous count of bytes inserted since. */
  private usedAtMeasure = 0;
  private insertedSinceMeasure = 0;
  private measuredAt = -Infinity;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly ttlTimer: ReturnType<typeof setInterval>;
  private readonly durable = new DurableWaiters();
  private readonly available = new AvailabilitySignal();
  private readonly full: FullEpisode;
  private readonly trouble: WriteTrouble;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: SqliteStorageOptions) {
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.full = new FullEpisode(opts.log, opts.events);
    this.trouble = new WriteTrouble(opts.log, "sqlite", opts.events);
    for (const name of listDbFiles(opts.dir)) {
      try {
        this.files.push(new SqliteDataFile(opts.dir, name, this.now()));
      } catch (e) {
        // A full disk (even opening a WAL database needs a little space) or an I/O error says
        // nothing about the file: keep it where it is and refuse to start, rather than start empty.
        if (!DAMAGED.has((e as { code?: string }).code ?? "")) {
          for (const f of this.files) f.close();
          const why = isDiskFull(e) ? "the disk is full; free some space there and start again" : "it is left as it is";
          throw new Error(`sqlite storage: cannot open ${join(opts.dir, name)} (${errorText(e)}): ${why}`);
        }
        // A damaged file must not keep the gateway from starting; keep it aside for inspection.
        const aside = `${name}.unreadable-${this.now()}`;
        this.log.error(`sqlite storage: cannot open ${join(opts.dir, name)} (${errorText(e)}); moved it to ${aside}`);
        renameSync(join(opts.dir, name), join(opts.dir, aside));
      }
    }
    // Empty files other than the write file carry nothing: remove them (upstream does the same).
    while (this.files.length > 1 && this.files[0]!.rows === 0) this.files.shift()!.remove();
    if (this.files.length === 0) this.files.push(new SqliteDataFile(opts.dir, FIRST_DB_NAME, this.now()));
    this.readFile = this.files[0]!;
    this.measureWriteFile();
    const stored = this.depth();
    if (stored > 0) this.log.info(`sqlite storage: ${stored} unsent records in ${this.files.length} file(s) in ${opts.dir}`);
    this.purgeExpired();
    // setInterval takes at most 2^31-1 ms (~24.8 days); longer periods would fire at once.
    this.ttlTimer = setInterval(() => this.purgeExpired(), Math.min(opts.ttlCheckMs, 2 ** 31 - 1));
    this.ttlTimer.unref();
  }

  private get writeFile(): SqliteDataFile {
    return this.files[this.files.length - 1]!;
  }

  put(records: string[]): PutResult {
    if (this.closed) return "closed";
    if (records.length === 0) return "stored";
    if (this.trouble.active && this.pending.length + records.length > MAX_HELD_WHILE_FAILING) {
      this.full.refused(records.length, this.depth(), `database writes failing, ${this.pending.length} records held in memory`);
      return "full";
    }
    // Acks not yet committed may free the space we are about to refuse: commit them first.
    if (this.writeOversize && this.files.length >= this.opts.maxDbAmount && this.deletes.size > 0) this.flush();
    if (this.writeOversize) {
      if (this.files.length >= this.opts.maxDbAmount) {
        this.full.refused(
          records.length,
          this.depth(),
          `max_db_amount ${this.opts.maxDbAmount} files of size_limit ${this.opts.sizeLimitBytes / 1048576} MB`,
        );
        return "full";
      }
      this.rotate();
    }
    if (this.full.isFull) this.full.accepted(this.depth());
    const file = this.writeFile;
    const ts = this.now();
    let n = this.durable.accepted;
    for (const message of records) {
      this.pending.push({ id: file.nextId++, ts, message, n: ++n });
      this.insertedSinceMeasure += message.length * GROWTH_FACTOR + ROW_OVERHEAD_BYTES;
    }
    this.durable.accepted = n;
    if (this.pending.length >= this.opts.writingBatchSize) this.flush();
    else this.scheduleFlush();
    // A reader that takes the rows before the scheduled commit holds them (HOLD_MS); when rows are
    // not held (writes failing, acknowledgements slow), readers are told at the commit.
    if (this.trouble.active || !this.held.acksPrompt()) this.unannounced = true;
    else if (this.pending.length > 0) this.available.fire();
    return "stored";
  }

  whenDurable(): Promise<void> {
    if (this.closed && this.pending.length + this.held.length > 0) {
      return Promise.reject(new Error("sqlite storage closed before the records were written"));
    }
    return this.durable.wait();
  }

  next(maxRecords: number): Batch | undefined {
    if (this.closed || maxRecords <= 0) return undefined;
    // While writes fail, hand out committed rows only, committing new ones here when a commit is
    // due (see COMMIT_GAP_MS); otherwise rows not committed yet are handed out and held (HOLD_MS).
    // Acked deletes land first where the reader could meet them again (after a rewind) and for
    // older files (a drained file is removed before the next read); the others wait for the next commit.
    const holding = !this.trouble.active && this.held.length + this.pending.length <= HOLD_MAX_ROWS && this.held.acksPrompt();
    if ((!holding && this.pending.length > 0 && this.commitWait() <= 0) || this.deletesMatterToReader()) this.flush();
    // Everything committed was handed out already: no query (the sender asks after every batch).
    if (this.readFile === this.writeFile && this.pending.length === 0 && this.readId >= this.writeFile.nextId - 1) return undefined;
    // The reader is right before the uncommitted rows (ids are consecutive: nothing committed lies between).
    if (holding && this.readFile === this.writeFile && this.pending.length > 0 && this.pending[0]!.id === this.readId + 1) {
      return this.takePending(maxRecords);
    }
    const fromTail = this.takeFromTail(maxRecords);
    if (fromTail) return fromTail;
    const records: string[] = [];
    const ranges: IdRange[] = [];
    let idx = this.files.indexOf(this.readFile);
    while (records.length < maxRecords && idx < this.files.length) {
      const file = this.files[idx]!;
      const rows = file.readAfter(this.readId, maxRecords - records.length);
      if (rows.length > 0) {
        for (const [, message] of rows) records.push(message);
        ranges.push({ file, from: rows[0]![0], to: rows[rows.length - 1]![0] });
        this.readId = rows[rows.length - 1]![0];
      }
      if (records.length < maxRecords && idx < this.files.length - 1) {
        idx++;
        this.readFile = this.files[idx]!;
        this.readId = 0;
      } else break;
    }
    if (records.length === 0) return undefined;
    return this.batches.issue(records, { ranges, at: performance.now() });
  }

  /** Hands out rows not committed yet and holds them (HOLD_MS): the reader is right before them. */
  private takePending(maxRecords: number): Batch {
    const all = this.pending.length <= maxRecords;
    const rows = all ? this.pending : this.pending.slice(0, maxRecords);
    this.pending = all ? [] : this.pending.slice(maxRecords);
    const records: string[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) records[i] = rows[i]!.message;
    this.held.hold(rows);
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    this.readId = last.id;
    return this.batches.issue(records, { ranges: [{ file: this.writeFile, from: first.id, to: last.id, held: true }], at: performance.now() });
  }

  /** whenDurable(): every record accepted before the oldest one neither on disk nor acknowledged is safe. */
  private settleDurable(): void {
    const oldest = this.held.rows[0] ?? this.pending[0];
    this.durable.settle(oldest ? oldest.n - 1 : this.durable.accepted);
  }

  /** The next rows from the in-memory tail when the reader is exactly at its start (else undefined: read the file). */
  private takeFromTail(maxRecords: number): Batch | undefined {
    const file = this.tailFile;
    if (!file || file !== this.readFile || file !== this.writeFile || this.tailAt >= this.tail.length) return undefined;
    const first = this.tail[this.tailAt]!;
    if (first.id !== this.readId + 1) {
      this.dropTail();
      return undefined;
    }
    const end = Math.min(this.tail.length, this.tailAt + maxRecords);
    const records: string[] = new Array(end - this.tailAt);
    for (let i = this.tailAt; i < end; i++) records[i - this.tailAt] = this.tail[i]!.message;
    const last = this.tail[end - 1]!;
    this.readId = last.id;
    if (end >= this.tail.length) this.dropTail();
    else this.tailAt = end;
    return this.batches.issue(records, { ranges: [{ file, from: first.id, to: last.id }], at: performance.now() });
  }

  private dropTail(): void {
    this.tail = [];
    this.tailAt = 0;
    this.tailFile = undefined;
  }

  /** After `rows` were committed to `file`: keep them in the tail when they continue it (or follow the reader at once). */
  private extendTail(file: SqliteDataFile, rows: PendingRow[]): void {
    if (rows.length === 0) return;
    const continues =
      this.tailFile === file && this.tailAt < this.tail.length
        ? this.tail[this.tail.length - 1]!.id + 1 === rows[0]!.id
        : file === this.readFile && this.readId + 1 === rows[0]!.id;
    if (!continues || this.tail.length - this.tailAt + rows.length > MAX_TAIL_ROWS) {
      this.dropTail();
      return;
    }
    if (this.tailFile !== file || this.tailAt >= this.tail.length) {
      this.tail = rows;
      this.tailAt = 0;
      this.tailFile = file;
      return;
    }
    if (this.tailAt > 0) {
      this.tail = this.tail.slice(this.tailAt);
      this.tailAt = 0;
    }
    for (const r of rows) this.tail.push(r);
  }

  ack(batch: Batch): void {
    if (this.closed) return;
    const issued = this.batches.take(batch);
    if (!issued) return;
    const ranges = issued.ranges;
    this.held.noteAck(performance.now() - issued.at);
    let older = false;
    let onDisk = 0;
    let dropped = 0;
    for (const r of ranges) {
      // A file already sent and removed: these rows were acked before (the batch was handed out
      // again after a rewind and that copy was acked first). Its closed database takes no delete.
      if (!this.files.includes(r.file)) continue;
      const rows = r.to - r.from + 1;
      // Held rows are all of the write file (a rotation commits them first); none on disk: done.
      const gone = r.held && r.file === this.writeFile && this.held.length > 0 ? this.held.drop(r.from, r.to) : 0;
      dropped += gone;
      if (gone === rows) continue;
      onDisk += rows - gone;
      let list = this.deletes.get(r.file);
      if (!list) this.deletes.set(r.file, (list = []));
      list.push([r.from, r.to]);
      if (r.file !== this.writeFile) older = true;
    }
    if (dropped > 0) this.settleDurable();
    if (onDisk === 0) return;
    this.ackedUncommitted += onDisk;
    if (older) this.scheduleFlush();
    else this.lazyTimer ??= setTimeout(this.lazyFlush, LAZY_DELETE_MS);
  }

  private readonly lazyFlush = (): void => {
    this.lazyTimer = undefined;
    this.flush();
  };

  rewind(): void {
    if (this.closed) return;
    // acknowledged rows whose delete waits are not handed out again; held rows go to disk, from
    // where the reader hands them out again
    this.flush(true);
    this.readFile = this.files[0]!;
    this.readId = 0;
    this.dropTail();
    if (this.depth() > 0) this.available.fire();
  }

  depth(): number {
    let n = this.pending.length + this.held.length - this.ackedUncommitted;
    for (const f of this.files) n += f.rows;
    return Math.max(0, n);
  }

  onAvailable(cb: () => void): void {
    this.available.add(cb);
    if (this.depth() > 0) this.available.fire();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush(true);
    this.closed = true;
    clearInterval(this.ttlTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    clearTimeout(this.lazyTimer);
    this.held.stop();
    this.available.clear();
    this.dropTail();
    const unwritten = this.pending.length + this.held.length;
    if (unwritten > 0) {
      this.log.error(`sqlite storage closed with ${unwritten} records not written (see the errors above)`);
    }
    this.durable.failAll(new Error("sqlite storage closed before the records were written"));
    for (const f of this.files) f.close();
  }

  /**
   * Delete rows older than messages_ttl_in_days (timestamps and cut-off both in ms). Upstream
   * compares ms against seconds and never deletes anything; this is the documented intent.
   */
  purgeExpired(): number {
    if (this.closed) return 0;
    this.flush();
    // purged rows may be in the tail; the reader finds what is left in the file
    this.dropTail();
    const cutoff = this.now() - this.opts.ttlMs;
    let purged = 0;
    try {
      for (const f of this.files) {
        const n = f.purgeOlderThan(cutoff);
        f.rows -= n;
        purged += n;
      }
    } catch (e) {
      this.log.error(`sqlite storage: purging expired records failed: ${errorText(e)}`);
    }
    if (purged > 0) {
      this.dropTail();
      this.log.warn(`sqlite storage: purged ${purged} records older than ${this.opts.ttlMs / 86_400_000} days`);
      this.removeDrainedFiles();
      this.measureWriteFile();
    }
    return purged;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    const wait = this.commitWait();
    if (wait > 0) setTimeout(run, wait);
    else setImmediate(run);
  }

  private deletesMatterToReader(): boolean {
    for (const [f, list] of this.deletes) {
      if (f !== this.writeFile) return true;
      if (f !== this.readFile) return true; // the reader is in an older file: it will reach these
      for (const [, to] of list) if (to > this.readId) return true;
    }
    return false;
  }

  /**
   * Group commit: ms until new rows may be committed. A commit that carried several rows shows
   * records arriving concurrently; the next one waits until COMMIT_GAP_MS after it, so that one
   * transaction (and, downstream, one read and one publish) serves many records. A lone writer
   * (one record per commit, e.g. a device that waits for each acknowledgement) never waits.
   */
  private commitWait(): number {
    return this.lastCommitRows > 1 ? this.lastCommitAt + COMMIT_GAP_MS - performance.now() : 0;
  }

  /** Commit buffered inserts (in chunks of writing_batch_size) and acked deletes; `withHeld`: held rows too. */
  private flush(withHeld = false): void {
    if (this.closed || (this.pending.length === 0 && this.deletes.size === 0 && !(withHeld && this.held.length > 0))) return;
    if (this.lazyTimer) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
    }
    const heldRows = withHeld ? this.held.takeAll() : [];
    const file = this.writeFile;
    const newRows = this.pending.length;
    // held rows are older than pending ones and were handed out already: not for the tail
    const rows = heldRows.length > 0 ? heldRows.concat(this.pending) : this.pending;
    // Deletes for older files first, each file in its own transaction.
    for (const [f, list] of this.deletes) {
      if (f === file) continue;
      try {
        f.rows -= f.write([], list);
        this.deletes.delete(f);
      } catch (e) {
        // kept for the next flush; a full disk is reported once below (or here if nothing is put)
        this.trouble.failed(f.name, e, this.pending.length, this.depth());
        this.retryLater();
      }
    }
    const ownDeletes = this.deletes.get(file) ?? [];
    let done = 0;
    try {
      do {
        const chunk = rows.slice(done, done + this.opts.writingBatchSize);
        const last = done + chunk.length >= rows.length;
        const deleted = file.write(chunk, last ? ownDeletes : []);
        file.rows += chunk.length - deleted;
        done += chunk.length;
        if (last) this.deletes.delete(file);
      } while (done < rows.length);
      this.extendTail(file, this.pending);
      this.pending = [];
      this.ackedUncommitted = 0;
    } catch (e) {
      // A failed transaction is rolled back: its rows stay pending or held (their whenDurable()
      // waits) and are retried later; committed chunks before it count. Never crash the gateway on
      // a disk problem. (Committed chunks are not added to the tail: the reader reads them from the file.)
      this.dropTail();
      if (done < heldRows.length) this.held.restore(heldRows.slice(done));
      else this.pending = this.pending.slice(done - heldRows.length);
      this.settleDurable();
      this.trouble.failed(file.name, e, this.pending.length + this.held.length, this.depth());
      this.retryLater();
      return;
    }
    if (this.trouble.active && this.deletes.size === 0) this.trouble.recovered(newRows + heldRows.length, this.depth());
    this.settleDurable();
    if (newRows > 0) {
      this.lastCommitAt = performance.now();
      this.lastCommitRows = newRows;
    }
    if (this.unannounced) {
      this.unannounced = false;
      this.available.fire();
    }
    this.removeDrainedFiles();
    if (this.usedAtMeasure + this.insertedSinceMeasure >= this.opts.sizeLimitBytes || performance.now() - this.measuredAt >= MEASURE_EVERY_MS) this.measureWriteFile();
  }

  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, RETRY_AFTER_ERROR_MS);
    this.retryTimer.unref();
  }

  private removeDrainedFiles(): void {
    while (this.files.length > 1 && this.files[0]!.rows <= 0) {
      const gone = this.files.shift()!;
      this.deletes.delete(gone);
      gone.remove();
      if (this.readFile === gone) {
        this.readFile = this.files[0]!;
        this.readId = 0;
      }
      this.log.debug(`sqlite storage: ${gone.name} fully sent, deleted`);
    }
  }

  private measureWriteFile(): void {
    try {
      this.usedAtMeasure = this.writeFile.usedBytes();
      this.insertedSinceMeasure = 0;
      this.measuredAt = performance.now();
      this.writeOversize = this.usedAtMeasure >= this.opts.sizeLimitBytes;
    } catch (e) {
      this.log.error(`sqlite storage: cannot measure ${this.writeFile.name}: ${errorText(e)}`);
    }
  }

  private rotate(): void {
    this.flush(true);
    if (this.pending.length + this.held.length > 0) return; // cannot commit to the old file: keep writing there
    const name = rotatedDbName(
      this.files.map((f) => f.name),
      this.now(),
    );
    try {
      this.files.push(new SqliteDataFile(this.opts.dir, name, this.now()));
      this.writeOversize = false;
      this.log.info(`sqlite storage: ${this.files.at(-2)!.name} reached size_limit, writing to ${name}`);
    } catch (e) {
      this.log.error(`sqlite storage: cannot create ${name}: ${errorText(e)}`);
    }
  }
}
