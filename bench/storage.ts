// Storage throughput: put + next + ack of small records, the gateway's hot path, for each kind.
// Prints records/s and on-disk bytes per record (measured with the reader stalled, so the files
// hold everything). A benchmark, not a test:  node_modules/.bin/bun bench/storage.ts [records]
// FSYNC_EVERY=n sets the file storage's max_records_between_fsync (default here 1000).

import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "../src/observe/logger.ts";
import { createStorage } from "../src/storage/index.ts";
import { StorageSchema, type StorageConfig } from "../src/storage/schema.ts";
import type { Batch, EventStorage } from "../src/storage/types.ts";

const TOTAL = Number(process.argv[2] ?? 500_000);
/** Records per put: what one connector poll typically hands over. */
const PUT_SIZE = 50;
/** Records per next(): the sender's read size. */
const READ_SIZE = 1000;
/** Batches the sender keeps in flight before it waits for acks. */
const IN_FLIGHT = 4;

const log = new Logger("bench", "ERROR");

function sample(i: number): string {
  return `{"deviceName":"Sensor ${i % 100}","deviceType":"default","telemetry":[{"ts":${1_700_000_000_000 + i},"values":{"temperature":${(i % 400) / 10}}}]}`;
}

function config(type: StorageConfig["type"], dir: string): StorageConfig {
  return StorageSchema.parse({
    type,
    data_folder_path: dir,
    data_file_path: `${dir}/`,
    max_records_count: TOTAL + 1,
    max_file_count: 1000,
    max_records_per_file: 10_000,
    max_records_between_fsync: Number(process.env.FSYNC_EVERY ?? 1000),
    max_db_amount: 100,
  });
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}

/** Producer puts in a loop (yielding to the event loop now and then); the reader keeps up. */
async function throughput(s: EventStorage): Promise<number> {
  const inflight: Batch[] = [];
  let put = 0;
  let acked = 0;
  const t0 = performance.now();
  while (acked < TOTAL) {
    if (put < TOTAL) {
      const n = Math.min(PUT_SIZE, TOTAL - put);
      const batch = new Array<string>(n);
      for (let k = 0; k < n; k++) batch[k] = sample(put + k);
      if (s.put(batch) !== "stored") throw new Error("storage refused records during the benchmark");
      put += n;
    }
    if (put % (PUT_SIZE * 40) === 0 || put >= TOTAL) {
      for (let b = s.next(READ_SIZE); b; b = s.next(READ_SIZE)) {
        inflight.push(b);
        // Acks arrive while further batches are still in flight.
        if (inflight.length >= IN_FLIGHT) {
          const done = inflight.shift()!;
          s.ack(done);
          acked += done.records.length;
        }
      }
      if (put >= TOTAL) {
        for (const b of inflight.splice(0)) {
          s.ack(b);
          acked += b.records.length;
        }
      }
      await s.whenDurable();
    }
  }
  await s.close();
  return TOTAL / ((performance.now() - t0) / 1000);
}

/** Bytes on disk per stored record with nothing acknowledged. */
async function footprint(type: StorageConfig["type"]): Promise<number> {
  if (type === "memory") return 0;
  const dir = mkdtempSync(join(tmpdir(), `tbgw-bench-${type}-`));
  try {
    const s = createStorage(config(type, dir), dir, log);
    const n = Math.min(TOTAL, 100_000);
    for (let i = 0; i < n; i += PUT_SIZE) s.put(Array.from({ length: PUT_SIZE }, (_, k) => sample(i + k)));
    await s.whenDurable();
    await s.close();
    return folderBytes(dir) / n;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${TOTAL} records of ~${sample(0).length} bytes, puts of ${PUT_SIZE}, reads of ${READ_SIZE}, ${IN_FLIGHT} batches in flight`);
for (const type of ["memory", "sqlite", "file"] as const) {
  const dir = mkdtempSync(join(tmpdir(), `tbgw-bench-${type}-`));
  try {
    const rate = await throughput(createStorage(config(type, dir), dir, log));
    const bytes = await footprint(type);
    const size = type === "memory" ? "in memory" : `${bytes.toFixed(1)} bytes/record on disk`;
    console.log(`${type.padEnd(7)} ${Math.round(rate).toLocaleString("en-US").padStart(11)} records/s put+next+ack   ${size}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
