// File storage specifics: rotation while the reader is behind (upstream loses the unread rest of
// a file there), the upstream on-disk layout, damaged files, and writes the disk cuts short.

import { afterEach, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capturingLogger, drain, record, records, storageConfig } from "./contract.ts";
import { FileStorage } from "./file.ts";
import { appendLines, type WriteAt } from "./file-layout.ts";
import { createStorage } from "./index.ts";
import type { StorageConfig } from "./schema.ts";
import type { Batch, EventStorage } from "./types.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-file-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(dir: string, extra: Partial<StorageConfig> = {}, log = capturingLogger().log): EventStorage {
  const s = createStorage(storageConfig("file", dir, extra), dir, log);
  cleanups.push(() => s.close());
  return s;
}

const dataFiles = (dir: string) => readdirSync(dir).filter((n) => /^data_\d+\.txt$/.test(n)).sort();
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

test("rotation with the reader files behind: nothing lost, nothing duplicated, files go once acked", async () => {
  const dir = folder();
  const s = open(dir, { max_records_per_file: 10, max_file_count: 60 });
  const delivered: string[] = [];
  const inflight: Batch[] = [];
  let put = 0;
  let maxFiles = 0;
  // The writer runs ahead by several files; the reader takes small batches, acks them late and
  // out of order (newest of two first).
  while (put < 500 || s.depth() > 0) {
    if (put < 500) {
      expect(s.put(records(put, 13))).toBe("stored");
      put += 13;
      await s.whenDurable();
      maxFiles = Math.max(maxFiles, dataFiles(dir).length);
    }
    const b = s.next(put < 500 ? 5 : 7);
    if (b) inflight.push(b);
    if (inflight.length >= 4 || put >= 500) {
      const [a, b] = [inflight.shift(), inflight.shift()];
      for (const x of [b, a]) {
        if (!x) continue;
        delivered.push(...x.records);
        s.ack(x);
      }
    }
  }
  expect(maxFiles).toBeGreaterThan(10);
  const expected = records(0, put);
  expect(delivered.length).toBe(expected.length);
  expect(new Set(delivered)).toEqual(new Set(expected));
  await s.close();
  expect(dataFiles(dir).length).toBe(1);
  const state = JSON.parse(readFileSync(join(dir, "state_file.txt"), "utf8"));
  expect(state.file).toBe(dataFiles(dir)[0]);
  expect(readFileSync(join(dir, state.file), "utf8").split("\n").length - 1).toBe(state.position);
});

test("restart with the reader several files behind resumes exactly at the first unacked record", async () => {
  const dir = folder();
  const a = open(dir, { max_records_per_file: 10, max_file_count: 60 });
  a.put(records(0, 95));
  const first = a.next(23)!;
  a.next(10); // in flight, never acked
  a.ack(first);
  await a.whenDurable();
  await a.close();
  expect(dataFiles(dir).length).toBe(8); // data_*(0-9) and (10-19) were fully acked and deleted
  expect(JSON.parse(readFileSync(join(dir, "state_file.txt"), "utf8")).position).toBe(3);
  const b = open(dir, { max_records_per_file: 10, max_file_count: 60 });
  expect(b.depth()).toBe(72);
  b.put(records(95, 5));
  expect(drain(b, 9)).toEqual(records(23, 77));
});

test("reads upstream's layout: base64 lines, state file position, damaged lines skipped", async () => {
  const dir = folder();
  const older = "data_1700000000000.txt";
  const newer = "data_1700000001000.txt";
  writeFileSync(join(dir, "data_1699999999000.txt"), `${b64("acked long ago")}\n`);
  writeFileSync(join(dir, older), [record(0), record(1), record(2)].map(b64).join("\n") + "\n");
  // A damaged line in the middle, and a partial last line left by a crash mid-write.
  writeFileSync(join(dir, newer), `${b64(record(3))}\n%%not base64%%\n${b64(record(4))}\n${b64(record(5)).slice(0, 9)}`);
  writeFileSync(join(dir, "state_file.txt"), JSON.stringify({ file: older, position: 1 }));
  const { log, records: logs, stop } = capturingLogger();
  cleanups.push(stop);
  const s = open(dir, { max_records_per_file: 3 }, log);
  expect(existsSync(join(dir, "data_1699999999000.txt"))).toBe(false);
  expect(s.depth()).toBe(4);
  expect(logs.some((r) => r.message.includes("partial line"))).toBe(true);
  expect(logs.some((r) => r.message.includes("1 undecodable line(s)"))).toBe(true);
  expect(drain(s, 100)).toEqual([record(1), record(2), record(3), record(4)]);
  s.put([record(6)]);
  await s.whenDurable();
  // The newest file was full (3 lines), so the record went to a new file, in upstream's encoding.
  const files = dataFiles(dir);
  expect(readFileSync(join(dir, files.at(-1)!), "utf8")).toBe(`${b64(record(6))}\n`);
});

test("a state file naming a vanished data file falls back to the oldest one", () => {
  const dir = folder();
  writeFileSync(join(dir, "data_1700000000000.txt"), `${b64(record(0))}\n${b64(record(1))}\n`);
  writeFileSync(join(dir, "state_file.txt"), JSON.stringify({ file: "data_1600000000000.txt", position: 1 }));
  const s = open(dir);
  expect(drain(s, 10)).toEqual(records(0, 2));
});

/** A write(2) with `budget` bytes of room left, like a nearly full disk: short, then ENOSPC. */
function tightDisk() {
  const disk = { budget: Infinity, calls: 0 };
  const write: WriteAt = (fd, buf, offset, length, position) => {
    disk.calls++;
    if (disk.budget <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const n = writeSync(fd, buf, offset, Math.min(length, disk.budget), position);
    disk.budget -= n;
    return n;
  };
  return { disk, write };
}

/** Whole lines of a data file, decoded; fails on a line cut short. */
function wholeLines(path: string): string[] {
  const text = readFileSync(path, "latin1");
  if (text === "") return [];
  expect(text.endsWith("\n")).toBe(true);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => Buffer.from(l, "base64").toString("utf8"));
}

/** Whether `p` has settled by now (its callbacks run before the probe's). */
function settledYet(p: Promise<unknown>): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), Promise.resolve().then(() => false)]);
}

test("a short write is cut back to the last whole record; the rest is held, unconfirmed, and written on retry", async () => {
  const dir = folder();
  const { disk, write } = tightDisk();
  const { log, records: logs, stop, waitFor } = capturingLogger();
  cleanups.push(stop);
  const s = new FileStorage({ dir, maxFileCount: 10, maxRecordsPerFile: 10, maxRecordsBetweenFsync: 1, log, write });
  cleanups.push(() => s.close());
  s.put(records(0, 7));
  await s.whenDurable();
  const first = dataFiles(dir)[0]!;
  // Room for two of the next records and 5 bytes of a third: 3 go to the first file, 5 to a second.
  disk.budget = (b64(record(7)).length + 1) + (b64(record(8)).length + 1) + 5;
  expect(s.put(records(7, 8))).toBe("stored");
  const durable = s.whenDurable();
  const error = await waitFor((r) => r.level === "ERROR");
  expect(error.message).toBe(
    `file storage: disk full writing ${first} (ENOSPC: no space left on device, write): 6 records not on disk yet, held in memory and retried every second; their sources are acknowledged only once they are written`,
  );
  expect(await settledYet(durable)).toBe(false);
  // On disk: exactly the whole records, nothing of the third; the second file holds nothing yet.
  expect(wholeLines(join(dir, first))).toEqual(records(0, 9));
  for (const f of dataFiles(dir).slice(1)) expect(readFileSync(join(dir, f), "latin1")).toBe("");
  expect(s.depth()).toBe(15);
  // More puts while failing wait too, and no write is tried until the retry.
  const calls = disk.calls;
  s.put(records(15, 2));
  await new Promise((r) => setImmediate(r));
  expect(disk.calls).toBe(calls);
  disk.budget = Infinity;
  await durable;
  await s.whenDurable();
  expect(logs.filter((r) => r.level === "ERROR").length).toBe(1);
  expect(logs.filter((r) => /^file storage: writing works again after [\d.]+ s; 8 held records written$/.test(r.message)).length).toBe(1);
  const files = dataFiles(dir);
  expect(files.length).toBe(2);
  expect(wholeLines(join(dir, files[0]!))).toEqual(records(0, 10));
  expect(wholeLines(join(dir, files[1]!))).toEqual(records(10, 7));
  await s.close();
  expect(drain(open(dir, { max_records_per_file: 10 }), 100)).toEqual(records(0, 17));
});

test("a write that stores nothing (no error, 0 bytes) is a failure too, not a success", async () => {
  const dir = folder();
  let zero = true;
  const write: WriteAt = (fd, buf, offset, length, position) => (zero ? 0 : writeSync(fd, buf, offset, length, position));
  const { log, stop, waitFor } = capturingLogger();
  cleanups.push(stop);
  const s = new FileStorage({ dir, maxFileCount: 10, maxRecordsPerFile: 10, maxRecordsBetweenFsync: 1, log, write });
  cleanups.push(() => s.close());
  s.put(records(0, 3));
  const durable = s.whenDurable();
  expect((await waitFor((r) => r.level === "ERROR")).message).toMatch(/write failed writing data_\d+\.txt \(write stored nothing \(0 of \d+ bytes written\)\): 3 records not on disk yet/);
  expect(await settledYet(durable)).toBe(false);
  zero = false;
  await durable;
  expect(wholeLines(join(dir, dataFiles(dir)[0]!))).toEqual(records(0, 3));
});

test("appendLines: a short write is completed when the disk takes the rest; cut back when it does not", () => {
  const dir = folder();
  const path = join(dir, "lines.txt");
  writeFileSync(path, "AAAA\n");
  const fd = openSync(path, "r+");
  try {
    // Two short writes in a row, then the rest: all lines land.
    let n = 0;
    const halting: WriteAt = (f, buf, off, len, pos) => writeSync(f, buf, off, ++n <= 2 ? Math.min(len, 3) : len, pos);
    expect(appendLines(fd, ["QUJD", "REVG"], 5, halting)).toEqual({ lines: 2, bytes: 10 });
    expect(readFileSync(path, "latin1")).toBe("AAAA\nQUJD\nREVG\n");
    // Room for one line and a half, then ENOSPC: the half line is cut off.
    let room = 8;
    const full: WriteAt = (f, buf, off, len, pos) => {
      if (room === 0) throw Object.assign(new Error("no space"), { code: "ENOSPC" });
      const w = writeSync(f, buf, off, Math.min(len, room), pos);
      room -= w;
      return w;
    };
    const r = appendLines(fd, ["R0hJ", "SktM"], 15, full);
    expect(r.lines).toBe(1);
    expect(r.bytes).toBe(5);
    expect(r.error?.message).toBe("no space");
    expect(r.torn).toBeUndefined();
    expect(readFileSync(path, "latin1")).toBe("AAAA\nQUJD\nREVG\nR0hJ\n");
  } finally {
    closeSync(fd);
  }
  // When the partial line cannot be cut off, the caller is told so (it cuts before writing again).
  const ro = openSync(path, "r");
  const rw = openSync(path, "r+");
  try {
    const viaOther: WriteAt = (_f, buf, off, len, pos) => writeSync(rw, buf, off, Math.min(len, 2), pos);
    let calls = 0;
    const once: WriteAt = (...a) => (++calls === 1 ? viaOther(...a) : 0);
    const r = appendLines(ro, ["TU5P"], 20, once);
    expect(r).toMatchObject({ lines: 0, bytes: 0, torn: true });
    expect(readFileSync(path, "latin1")).toBe("AAAA\nQUJD\nREVG\nR0hJ\nTU");
  } finally {
    closeSync(ro);
    closeSync(rw);
  }
});

test("a record cut short by a crash is removed at start, and records written after it read back whole", async () => {
  const dir = folder();
  const a = open(dir, { max_records_per_file: 100 });
  a.put(records(0, 5));
  await a.whenDurable();
  await a.close();
  const file = join(dir, dataFiles(dir)[0]!);
  // The crash: half of a sixth record, no newline.
  writeFileSync(file, readFileSync(file, "latin1") + b64(record(5)).slice(0, 21), { encoding: "latin1" });
  const { log, records: logs, stop } = capturingLogger();
  cleanups.push(stop);
  const b = open(dir, { max_records_per_file: 100 }, log);
  expect(logs.some((r) => r.message.includes(`ended in a partial line (21 bytes, from a crash); removed it`))).toBe(true);
  expect(b.depth()).toBe(5);
  b.put(records(5, 3));
  await b.whenDurable();
  await b.close();
  expect(wholeLines(file)).toEqual(records(0, 8));
  expect(drain(open(dir, { max_records_per_file: 100 }), 100)).toEqual(records(0, 8));
});

test("records delivered from memory while the disk was full: after a restart the saved position is clamped, later records still count", async () => {
  const dir = folder();
  const { disk, write } = tightDisk();
  const { log, stop, waitFor } = capturingLogger();
  cleanups.push(stop);
  const a = new FileStorage({ dir, maxFileCount: 10, maxRecordsPerFile: 100, maxRecordsBetweenFsync: 1, log, write });
  a.put(records(0, 5));
  await a.whenDurable();
  disk.budget = 0;
  a.put(records(5, 3));
  a.whenDurable().catch(() => {});
  await waitFor((r) => r.level === "ERROR");
  // The platform got all 8 (3 only from memory) and acknowledged them; then the gateway stops.
  const all = a.next(100)!;
  expect(all.records).toEqual(records(0, 8));
  a.ack(all);
  await a.close();
  const state = () => JSON.parse(readFileSync(join(dir, "state_file.txt"), "utf8")).position;
  expect(state()).toBe(8);
  const b = open(dir, { max_records_per_file: 100 });
  expect(b.depth()).toBe(0);
  expect(state()).toBe(5);
  b.put(records(8, 3));
  await b.whenDurable();
  await b.close();
  expect(drain(open(dir, { max_records_per_file: 100 }), 100)).toEqual(records(8, 3));
});
