// File storage specifics: rotation while the reader is behind (upstream loses the unread rest of
// a file there), the upstream on-disk layout, and damaged files.

import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capturingLogger, drain, record, records, storageConfig } from "./contract.ts";
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
