// The write side of the file storage: appends each data file's unwritten lines at the end of its
// whole lines, fsyncs per max_records_between_fsync, and closes finished files. A write the disk
// refuses or cuts short leaves the file ending with its last whole line, and exactly the lines
// not on disk in `unwritten`, so the in-memory counts always match the file.

import { closeSync, constants, fsyncSync, ftruncateSync, openSync } from "node:fs";
import { join } from "node:path";
import { appendLines, fsyncDir, type WriteAt } from "./file-layout.ts";

export interface DataFile {
  name: string;
  /** Position (see Ledger) of the file's first line. */
  base: number;
  /** Lines in the file, counting those not written yet. */
  count: number;
  /** Decoded records (null = undecodable line); dropped when the reader is past the file. */
  records: Array<string | null> | null;
  /** Encoded lines waiting for the next flush (or held there while the disk refuses them). */
  unwritten: string[];
  /** Bytes of the whole lines on disk: where the next write goes. */
  size: number;
  /** A partial line after `size` could not be cut off; cut it before the next write. */
  torn: boolean;
  fd?: number;
  created: boolean;
}

/** A write, fsync or file creation that failed, and the file it was for. */
export class WriteFailure extends Error {
  constructor(
    readonly target: string,
    readonly reason: unknown,
  ) {
    super(String(reason));
  }
}

export class DataFileWriter {
  /** Records written since the last fsync. */
  private unsynced = 0;

  constructor(
    private readonly dir: string,
    private readonly maxRecordsBetweenFsync: number,
    private readonly write?: WriteAt,
  ) {}

  /**
   * Append unwritten lines (one write per file, in file order; the last file is the one being
   * written), fsync per policy, close the others and pass them to `finished`. Throws a
   * WriteFailure at the first file the disk refuses; the files after it are not touched.
   */
  writeAll(files: readonly DataFile[], finished: (file: DataFile) => void): void {
    let createdAny = false;
    const current = files[files.length - 1];
    try {
      for (const file of files) {
        const done = file !== current;
        try {
          if (file.unwritten.length > 0 || !file.created) {
            if (file.fd === undefined) {
              // Positioned writes at file.size (no O_APPEND): appends land after the last whole line.
              file.fd = openSync(join(this.dir, file.name), constants.O_WRONLY | constants.O_CREAT);
              if (!file.created) createdAny = true;
              file.created = true;
            }
            if (file.torn) {
              ftruncateSync(file.fd, file.size);
              file.torn = false;
            }
            if (file.unwritten.length > 0) this.append(file, file.fd);
          }
          if (file.fd === undefined) continue;
          if (this.unsynced >= this.maxRecordsBetweenFsync || (done && this.unsynced > 0)) this.sync(file.fd);
        } catch (e) {
          throw e instanceof WriteFailure ? e : new WriteFailure(file.name, e);
        }
        if (done) {
          this.close(file);
          finished(file);
        }
      }
    } finally {
      if (createdAny) fsyncDir(this.dir);
    }
  }

  close(file: DataFile): void {
    if (file.fd === undefined) return;
    try {
      closeSync(file.fd);
    } catch {
      // already closed
    }
    file.fd = undefined;
  }

  /** Append a file's unwritten lines; on failure keep the lines that did not make it, then throw. */
  private append(file: DataFile, fd: number): void {
    const r = appendLines(fd, file.unwritten, file.size, this.write);
    file.size += r.bytes;
    file.torn = r.torn === true;
    file.unwritten = r.lines === file.unwritten.length ? [] : file.unwritten.slice(r.lines);
    this.unsynced += r.lines;
    if (!r.error) return;
    // What did reach the disk is fsync'ed per policy before the failure is reported.
    if (r.lines > 0 && this.unsynced >= this.maxRecordsBetweenFsync) this.sync(fd);
    throw new WriteFailure(file.name, r.error);
  }

  private sync(fd: number): void {
    fsyncSync(fd);
    this.unsynced = 0;
  }
}
