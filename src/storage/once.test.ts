// Each record handed out once, in order, unless a rewind asked for it again: a seeded random mix
// of puts (groups of records, some ~60 KB like a device message of 1,000 rows), reads of random
// size, acks of random batches in any order and, rarely, rewinds, against every storage kind
// (sqlite and file with small files, so reads cross rotations and the sqlite in-memory tail is
// taken and dropped). A guard for the duplicate hunt of large records: the sender's only way to
// send a record twice without a reconnect would be storage handing it out twice.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom } from "../../test/support/seeded-random.ts";
import { capturingLogger, storageConfig } from "./contract-data.ts";
import { createStorage } from "./index.ts";
import type { StorageConfig } from "./schema.ts";
import type { Batch, EventStorage } from "./types.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const KINDS: Array<{ type: StorageConfig["type"]; settings: Partial<StorageConfig> }> = [
  { type: "memory", settings: { max_records_count: 1_000_000 } },
  { type: "sqlite", settings: { size_limit: 0.5, max_db_amount: 1000, writing_batch_size: 16 } },
  { type: "file", settings: { max_records_per_file: 7, max_file_count: 100_000 } },
];
const SEEDS = [1, 2, 3, 4];
const STEPS = 500;
const BIG = "x".repeat(60_000);

function record(i: number, big: boolean): string {
  return JSON.stringify({ deviceName: `dev ${i % 5}`, deviceType: "default", telemetry: [{ ts: 1_765_000_000_000 + i, values: big ? { i, pad: BIG } : { i } }] });
}
const indexOf = (r: string) => (JSON.parse(r) as { telemetry: Array<{ values: { i: number } }> }).telemetry[0]!.values.i;

for (const kind of KINDS) {
  test(`${kind.type}: random puts, reads, out-of-order acks and rewinds hand out each record once per rewind, in order; all acked in the end`, async () => {
    for (const seed of SEEDS) {
      const dir = mkdtempSync(join(tmpdir(), `tbgw-once-${kind.type}-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const logger = capturingLogger();
      cleanups.push(logger.stop);
      const s: EventStorage = createStorage(storageConfig(kind.type, dir, kind.settings), dir, logger.log);
      cleanups.push(() => s.close());
      const random = seededRandom(seed);
      const where = (step: number) => `${kind.type}, seed ${seed}, step ${step}`;
      let put = 0;
      const acked = new Set<number>();
      /** Handed out since the last rewind: none may come again before the next one. */
      let handed = new Set<number>();
      let lastHanded = -1;
      const outstanding: Batch[] = [];
      const take = (b: Batch, step: number) => {
        for (const r of b.records) {
          const i = indexOf(r);
          if (acked.has(i)) throw new Error(`${where(step)}: record ${i} handed out after it was acknowledged`);
          if (handed.has(i)) throw new Error(`${where(step)}: record ${i} handed out twice without a rewind`);
          if (i <= lastHanded) throw new Error(`${where(step)}: record ${i} handed out after ${lastHanded}`);
          handed.add(i);
          lastHanded = i;
        }
      };
      for (let step = 0; step < STEPS; step++) {
        const op = random();
        if (op < 0.35) {
          const n = 1 + Math.floor(random() * 40);
          const group = Array.from({ length: n }, (_, k) => record(put + k, random() < 0.05));
          expect(s.put(group), where(step)).toBe("stored");
          put += n;
        } else if (op < 0.5) {
          // let commits, lazy deletes and rotations happen
          if (random() < 0.5) await s.whenDurable();
          else await new Promise((r) => setTimeout(r, random() < 0.2 ? 5 : 0));
        } else if (op < 0.78) {
          const b = s.next(1 + Math.floor(random() * 64));
          if (b) {
            take(b, step);
            outstanding.push(b);
          }
        } else if (op < 0.98) {
          if (outstanding.length === 0) continue;
          const b = outstanding.splice(Math.floor(random() * outstanding.length), 1)[0]!;
          s.ack(b);
          for (const r of b.records) acked.add(indexOf(r));
        } else {
          // a publish failed: what is handed out and not acked comes again (late acks still count)
          s.rewind();
          handed = new Set();
          lastHanded = -1;
        }
      }
      // the sender's end: everything comes out, is acknowledged, and storage is empty
      for (const b of outstanding.splice(0)) {
        s.ack(b);
        for (const r of b.records) acked.add(indexOf(r));
      }
      await s.whenDurable();
      for (let b = s.next(100); b; b = s.next(100)) {
        take(b, STEPS);
        s.ack(b);
        for (const r of b.records) acked.add(indexOf(r));
        await s.whenDurable();
      }
      expect(acked.size, where(STEPS)).toBe(put);
      expect(s.depth(), where(STEPS)).toBe(0);
      // (a late ack of rows acked again after a rewind once hit a removed sqlite file: "Database has closed")
      expect(logger.records.filter((r) => r.level === "ERROR" || r.level === "WARNING").map((r) => `${where(STEPS)}: ${r.message}`)).toEqual([]);
    }
  }, 120_000);
}
