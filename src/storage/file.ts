// File event storage in upstream's layout (see file-layout.ts). Differences that matter:
//  * a data file is deleted only when every record in it was acknowledged; the state pointer moves
//    over the contiguous acknowledged prefix (upstream drops the unread rest of a file on rotation);
//  * puts are written once per tick in one write() per file and fsync'ed per
//    max_records_between_fsync records, instead of one write (and fsync) per record;
//  * a write the disk refuses (disk full, including a short write) leaves only whole lines in the
//    file; the records not written stay in memory, unconfirmed by whenDurable(), and are retried.

import { BatchBook } from "./batch-book.ts";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { EventBus } from "../observe/events.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import {
  decodeLines,
  encodeRecord,
  listDataFiles,
  newDataFileName,
  readState,
  scanDataFile,
  STATE_FILE,
  writeState,
  type WriteAt,
} from "./file-layout.ts";
import { DataFileWriter, WriteFailure, type DataFile } from "./file-writer.ts";
import { Ledger, rangeSize, type Range } from "./ledger.ts";
import { AvailabilitySignal, DurableWaiters, FullEpisode, MAX_HELD_WHILE_FAILING, WriteTrouble } from "./signals.ts";
import type { Batch, EventStorage, PutResult } from "./types.ts";

export interface FileStorageOptions {
  /** Absolute folder (created by the caller). */
  dir: string;
  maxFileCount: number;
  maxRecordsPerFile: number;
  maxRecordsBetweenFsync: number;
  log: Logger;
  events?: EventBus;
  /** Tests: a write(2) that may store fewer bytes than asked, as a full disk does. */
  write?: WriteAt;
}

const RETRY_AFTER_ERROR_MS = 1000;

export class FileStorage implements EventStorage {
  readonly kind = "file" as const;
  private files: DataFile[] = [];
  private readonly ledger: Ledger;
  private readonly batches = new BatchBook<Range[]>();
  private closed = false;
  private flushScheduled = false;
  private stateDirty = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly durable = new DurableWaiters();
  private readonly available = new AvailabilitySignal();
  private readonly full: FullEpisode;
  private readonly trouble: WriteTrouble;
  private readonly log: Logger;
  private readonly writer: DataFileWriter;

  constructor(private readonly opts: FileStorageOptions) {
    this.log = opts.log;
    this.writer = new DataFileWriter(opts.dir, opts.maxRecordsBetweenFsync, opts.write);
    this.full = new FullEpisode(opts.log, opts.events);
    this.trouble = new WriteTrouble(opts.log, "file", opts.events);
    const names = listDataFiles(opts.dir);
    const { state, problem } = readState(opts.dir);
    if (problem) this.log.warn(`file storage: ${problem}; reading from the oldest data file`);
    let start = 0;
    if (state && names.includes(state.file)) {
      // Files before the state's file were fully acknowledged (upstream deletes them too).
      while (names[0] !== state.file) {
        rmSync(join(opts.dir, names.shift()!), { force: true });
      }
      start = state.position;
    } else if (state) {
      this.log.warn(`file storage: state names ${state.file}, which is gone; reading from the oldest data file`);
    }
    let base = 0;
    names.forEach((name, i) => {
      const scan = scanDataFile(join(opts.dir, name));
      if (scan.truncatedBytes > 0) {
        this.log.warn(`file storage: ${name} ended in a partial line (${scan.truncatedBytes} bytes, from a crash); removed it`);
      }
      const last = i === names.length - 1;
      const file: DataFile = { name, base, count: scan.lines, records: null, unwritten: [], size: scan.content.length, torn: false, created: true };
      if (last) file.records = this.decode(file, scan.content);
      this.files.push(file);
      base += scan.lines;
    });
    if (this.files.length === 0) {
      this.files.push(this.newFile(0));
      this.writeFiles();
    }
    start = Math.min(start, this.files[0]!.count);
    this.ledger = new Ledger(start, base);
    this.skipUndecodable(this.files[this.files.length - 1]!);
    // A position past the file's last line (records acked that never reached the disk, which was
    // full) is saved clamped, so that lines appended from now on are not taken as acknowledged.
    if (!state || !names.includes(state.file) || start < state.position) {
      const e = this.persistState();
      if (e) this.log.error(`file storage: cannot save the reader position: ${errorText(e)}`);
    }
    if (this.ledger.unacked > 0) {
      this.log.info(`file storage: ${this.ledger.unacked} unsent records in ${this.files.length} file(s) in ${opts.dir}`);
    }
  }

  private get writeFile(): DataFile {
    return this.files[this.files.length - 1]!;
  }

  put(records: string[]): PutResult {
    if (this.closed) return "closed";
    if (records.length === 0) return "stored";
    const { maxFileCount, maxRecordsPerFile } = this.opts;
    const free = () => (maxFileCount - this.files.length) * maxRecordsPerFile + (maxRecordsPerFile - this.writeFile.count);
    // Acks not yet saved may free whole files: save them (and delete those files) first.
    if (records.length > free() && this.stateDirty) this.flush();
    if (records.length > free()) {
      this.full.refused(
        records.length,
        this.ledger.unacked,
        `max_file_count ${maxFileCount} × max_records_per_file ${maxRecordsPerFile}`,
      );
      return "full";
    }
    if (this.trouble.active && this.heldRecords() + records.length > MAX_HELD_WHILE_FAILING) {
      this.full.refused(records.length, this.ledger.unacked, `disk writes failing, ${this.heldRecords()} records held in memory`);
      return "full";
    }
    if (this.full.isFull) this.full.accepted(this.ledger.unacked);
    for (const r of records) {
      let file = this.writeFile;
      if (file.count >= maxRecordsPerFile) {
        file = this.newFile(file.base + file.count);
        this.files.push(file);
      }
      file.records!.push(r);
      file.unwritten.push(encodeRecord(r));
      file.count++;
    }
    this.ledger.append(records.length);
    this.durable.accepted += records.length;
    this.scheduleFlush();
    this.available.fire();
    return "stored";
  }

  whenDurable(): Promise<void> {
    if (this.closed && this.durable.durable < this.durable.accepted) {
      return Promise.reject(new Error("file storage closed before the records were written"));
    }
    return this.durable.wait();
  }

  next(maxRecords: number): Batch | undefined {
    if (this.closed || maxRecords <= 0) return undefined;
    const records: string[] = [];
    const ranges: Range[] = [];
    let left = maxRecords;
    let i = this.fileIndexOf(this.ledger.nextUnacked(this.ledger.cursor));
    for (; i < this.files.length && left > 0; i++) {
      const file = this.files[i]!;
      const loaded = this.load(file);
      if (!loaded) break;
      const taken = this.ledger.take(left, file.base + file.count);
      const skipped: Range[] = [];
      for (const r of taken) {
        for (let p = r.start; p < r.end; p++) {
          const rec = loaded[p - file.base];
          if (rec === null || rec === undefined) skipped.push({ start: p, end: p + 1 });
          else records.push(rec);
        }
      }
      // Undecodable lines are never handed out; count them as delivered so the file can go.
      if (skipped.length > 0) {
        this.ledger.ack(skipped);
        this.markStateDirty();
      }
      ranges.push(...taken);
      left -= rangeSize(taken);
      if (left > 0) this.unloadIfPassed(file);
    }
    if (records.length === 0) return undefined;
    return this.batches.issue(records, ranges);
  }

  ack(batch: Batch): void {
    if (this.closed) return;
    const ranges = this.batches.take(batch);
    if (!ranges) return;
    const before = this.ledger.ackedUpTo;
    this.ledger.ack(ranges);
    if (this.ledger.ackedUpTo !== before) this.markStateDirty();
  }

  rewind(): void {
    if (this.closed) return;
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
    if (this.closed) return;
    this.flush(true);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.available.clear();
    for (const f of this.files) this.writer.close(f);
    if (this.durable.durable < this.durable.accepted) {
      this.log.error(`file storage closed with ${this.durable.accepted - this.durable.durable} records not written (see the errors above)`);
    }
    this.durable.failAll(new Error("file storage closed before the records were written"));
  }

  private newFile(base: number): DataFile {
    const name = newDataFileName(this.files.at(-1)?.name, Date.now());
    return { name, base, count: 0, records: [], unwritten: [], size: 0, torn: false, created: false };
  }

  private fileIndexOf(pos: number): number {
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      if (pos < f.base + f.count) return i;
    }
    return this.files.length - 1;
  }

  private decode(file: DataFile, content: Buffer): Array<string | null> {
    const { records, bad } = decodeLines(content, file.count);
    if (bad > 0) this.log.warn(`file storage: ${bad} undecodable line(s) in ${file.name} skipped`);
    return records;
  }

  /**
   * Decoded records of a file, read from disk when the reader comes back to it. Undefined when the
   * file cannot be read just now (the reader stops there and tries again on the next call).
   */
  private load(file: DataFile): Array<string | null> | undefined {
    if (file.records) return file.records;
    try {
      // Files are unloaded only once fully written; this is a safety net (writes only, no deletes).
      if (file.unwritten.length > 0 || !file.created) this.writeFiles();
      const scan = scanDataFile(join(this.opts.dir, file.name));
      file.records = this.decode(file, scan.content);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        this.log.error(`file storage: cannot read ${file.name}, will retry: ${errorText(e)}`);
        return undefined;
      }
      this.log.error(`file storage: ${file.name} was deleted by someone else; its ${file.count} records are lost`);
      file.records = new Array<string | null>(file.count).fill(null);
    }
    return file.records;
  }

  /** Keep only files the reader still has ahead of it in memory (the rest is on disk). */
  private unloadIfPassed(file: DataFile): void {
    if (file === this.writeFile || file.unwritten.length > 0 || !file.created) return;
    if (this.ledger.cursor >= file.base + file.count) file.records = null;
  }

  /**
   * A full file the reader is not in goes back to disk, so a long outage costs disk, not memory;
   * the reader loads it again when it gets there.
   */
  private unloadUnlessReading(file: DataFile): void {
    const cursor = this.ledger.nextUnacked(this.ledger.cursor);
    if (cursor < file.base || cursor >= file.base + file.count) file.records = null;
  }

  /** Acknowledge undecodable lines of a loaded file so they never block deletion. */
  private skipUndecodable(file: DataFile): void {
    const bad: Range[] = [];
    file.records?.forEach((r, i) => {
      if (r === null) bad.push({ start: file.base + i, end: file.base + i + 1 });
    });
    if (bad.length > 0) this.ledger.ack(bad);
  }

  private markStateDirty(): void {
    this.stateDirty = true;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Write what was put, then save the reader position and delete fully acknowledged files. While
   * the disk refuses writes, records wait in memory and only `retry` calls (every second, or as
   * soon as a deletion freed space) try again; saving the position and deleting go on meanwhile.
   */
  private flush(retry = false): void {
    if (this.closed) return;
    const attempt = retry || !this.trouble.active;
    const held = this.heldRecords();
    let failure: WriteFailure | undefined;
    if (attempt) {
      try {
        this.writeFiles();
      } catch (e) {
        failure = e instanceof WriteFailure ? e : new WriteFailure(this.opts.dir, e);
      }
    }
    // Records are written in put order, so the held ones are the newest: the rest is on disk.
    this.durable.settle(this.durable.accepted - this.heldRecords());
    let freed = false;
    if (this.stateDirty) {
      const e = this.persistState();
      if (e) failure ??= new WriteFailure(STATE_FILE, e);
      else this.stateDirty = false;
      freed = this.removeAckedFiles();
    }
    if (failure) {
      this.trouble.failed(failure.target, failure.reason, this.heldRecords(), this.ledger.unacked);
      this.retryLater(freed ? 0 : RETRY_AFTER_ERROR_MS);
    } else if (attempt && this.trouble.active) {
      this.trouble.recovered(held, this.ledger.unacked);
    }
  }

  private retryLater(ms: number): void {
    if (this.closed) return;
    if (this.retryTimer) {
      if (ms > 0) return;
      clearTimeout(this.retryTimer);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush(true);
    }, ms);
    this.retryTimer.unref();
  }

  /** Records accepted but not on disk yet. */
  private heldRecords(): number {
    let n = 0;
    for (const f of this.files) n += f.unwritten.length;
    return n;
  }

  /** Write every file's unwritten lines; finished files are closed and, unless read, unloaded. */
  private writeFiles(): void {
    this.writer.writeAll(this.files, (file) => this.unloadUnlessReading(file));
  }

  /** Save the reader position; returns the error when it could not be saved. */
  private persistState(): unknown {
    const acked = this.ledger.ackedUpTo;
    const file = this.files[this.fileIndexOf(acked)]!;
    try {
      writeState(this.opts.dir, { file: file.name, position: acked - file.base });
      return undefined;
    } catch (e) {
      return e;
    }
  }

  /**
   * Delete data files whose every record was acknowledged (never the file being written); true
   * when one was deleted. A file's lines still held in memory go with it: they were delivered.
   */
  private removeAckedFiles(): boolean {
    let removed = false;
    while (this.files.length > 1) {
      const first = this.files[0]!;
      if (first.base + first.count > this.ledger.ackedUpTo) break;
      this.writer.close(first);
      try {
        rmSync(join(this.opts.dir, first.name), { force: true });
      } catch (e) {
        this.log.error(`file storage: cannot delete ${first.name}: ${errorText(e)}`);
        break;
      }
      this.files.shift();
      removed = true;
      this.log.debug(`file storage: ${first.name} fully sent, deleted`);
    }
    return removed;
  }
}
