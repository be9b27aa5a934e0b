// On-disk layout of the file storage, compatible with upstream's: data_<epochMillis>.txt files with
// one base64 (UTF-8) record per line, and state_file.txt holding the reader position
// {"file": "data_<ms>.txt", "position": <line index of the first unacknowledged record>}.

import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { errorText } from "../observe/logger.ts";

export const STATE_FILE = "state_file.txt";
const DATA_FILE = /^data_(\d+)\.txt$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Data files in `dir`, oldest (smallest number) first. */
export function listDataFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => DATA_FILE.test(n))
    .sort((a, b) => Number(DATA_FILE.exec(a)![1]) - Number(DATA_FILE.exec(b)![1]));
}

/** A new data file name, newer than `newest` even when created within the same millisecond. */
export function newDataFileName(newest: string | undefined, nowMs: number): string {
  const last = newest ? Number(DATA_FILE.exec(newest)?.[1] ?? 0) : 0;
  return `data_${Math.max(Math.floor(nowMs), last + 1)}.txt`;
}

export interface ReaderState {
  file: string;
  position: number;
}

/** The saved reader position, or undefined when missing or unreadable (caller falls back). */
export function readState(dir: string): { state?: ReaderState; problem?: string } {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<ReaderState>;
    if (typeof parsed.file === "string" && Number.isInteger(parsed.position) && parsed.position! >= 0) {
      return { state: { file: parsed.file, position: parsed.position! } };
    }
    return { problem: `${path} does not hold {"file","position"}` };
  } catch (e) {
    return { problem: `${path} is not valid JSON (${errorText(e)})` };
  }
}

/** Replace the state file atomically (write a temporary file, then rename over it). */
export function writeState(dir: string, state: ReaderState): void {
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, join(dir, STATE_FILE));
}

/**
 * Count the complete lines of a data file. A last line without its newline is the remains of a
 * write cut short by a crash (it was never confirmed durable): it is cut off so appends stay aligned.
 */
export function scanDataFile(path: string): { lines: number; content: Buffer; truncatedBytes: number } {
  const content = readFileSync(path);
  let lines = 0;
  let lastNewline = -1;
  for (let i = content.indexOf(10); i !== -1; i = content.indexOf(10, i + 1)) {
    lines++;
    lastNewline = i;
  }
  const keep = lastNewline + 1;
  if (keep < content.length) {
    truncateSync(path, keep);
    return { lines, content: content.subarray(0, keep), truncatedBytes: content.length - keep };
  }
  return { lines, content, truncatedBytes: 0 };
}

/**
 * Decode the lines of a data file; undecodable lines become null (skipped by the reader, as
 * upstream does). Exactly `expected` entries are returned: missing lines are null too.
 */
export function decodeLines(content: Buffer | string, expected: number): { records: Array<string | null>; bad: number } {
  const text = typeof content === "string" ? content : content.toString("latin1");
  const records: Array<string | null> = [];
  let bad = 0;
  let start = 0;
  while (records.length < expected) {
    const nl = text.indexOf("\n", start);
    if (nl === -1) break;
    let line = text.slice(start, nl);
    start = nl + 1;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.length % 4 === 0 && line.length > 0 && BASE64_LINE.test(line)) {
      records.push(Buffer.from(line, "base64").toString("utf8"));
    } else {
      records.push(null);
      bad++;
    }
  }
  while (records.length < expected) {
    records.push(null);
    bad++;
  }
  return { records, bad };
}

/** write(2) at a position: returns the bytes stored, which may be fewer than asked (a short write). */
export type WriteAt = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => number;

export interface Appended {
  /** Lines now whole on disk: the first `lines` of those asked. */
  lines: number;
  /** Their bytes, newlines included. */
  bytes: number;
  /** Why the rest was not written (a short write that could not be completed, or an error). */
  error?: Error;
  /**
   * Cutting the partial line off failed: the file holds bytes after `at + bytes` that are no whole
   * line. Cut them (ftruncate to `at + bytes`) before writing to the file again.
   */
  torn?: boolean;
}

/**
 * Write `lines` (each followed by "\n") at byte offset `at`. A short write is retried for the rest;
 * when the disk refuses more, the file is cut back to the end of the last whole line, so it never
 * keeps half a record that a later append or a restart would misread.
 */
export function appendLines(fd: number, lines: readonly string[], at: number, write: WriteAt = writeSync): Appended {
  const buf = Buffer.from(lines.join("\n") + "\n", "latin1");
  let done = 0;
  let error: Error | undefined;
  try {
    while (done < buf.length) {
      const n = write(fd, buf, done, buf.length - done, at + done);
      if (!(n > 0)) throw new Error(`write stored nothing (${done} of ${buf.length} bytes written)`);
      done += n;
    }
    return { lines: lines.length, bytes: buf.length };
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e));
  }
  let whole = 0;
  let count = 0;
  for (const line of lines) {
    if (whole + line.length + 1 > done) break;
    whole += line.length + 1;
    count++;
  }
  if (done > whole) {
    try {
      ftruncateSync(fd, at + whole);
    } catch {
      return { lines: count, bytes: whole, error, torn: true };
    }
  }
  return { lines: count, bytes: whole, error };
}

export function encodeRecord(record: string): string {
  return Buffer.from(record, "utf8").toString("base64");
}

/** Make a new directory entry (a created data file) survive a power cut too. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on directories; the data itself was fsync'ed
  }
}
