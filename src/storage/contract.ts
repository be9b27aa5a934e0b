// One behavioural contract for every EventStorage kind; storage.test.ts runs it for memory, sqlite
// and file. Each test opens its own storage in its own temporary folder.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../observe/logger.ts";
import { capturingLogger, drain, record, records, storageConfig } from "./contract-data.ts";
import { createStorage } from "./index.ts";
import type { StorageConfig } from "./schema.ts";
import type { EventStorage } from "./types.ts";

export { capturingLogger, drain, record, records, storageConfig } from "./contract-data.ts";

export interface ContractSetup {
  type: StorageConfig["type"];
  /** Survives close + reopen on the same folder. */
  persistent: boolean;
  /** Settings for every test of the suite (e.g. small files, so reads cross file boundaries). */
  defaults?: Partial<StorageConfig>;
  /** Settings that make the storage fill up after a few dozen small records at most. */
  smallCapacity: Partial<StorageConfig>;
}

export function storageContract(setup: ContractSetup): void {
  describe(`${setup.type} storage contract`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    function folder(): string {
      const dir = mkdtempSync(join(tmpdir(), `tbgw-${setup.type}-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    }

    function open(dir: string, extra: Partial<StorageConfig> = {}, log?: Logger): EventStorage {
      const s = createStorage(storageConfig(setup.type, dir, { ...setup.defaults, ...extra }), dir, log ?? capturingLogger().log);
      cleanups.push(() => s.close());
      return s;
    }

    test("hands out records oldest first, honouring the caller's max over max_read_records_count", async () => {
      const s = open(folder(), { max_read_records_count: 10, read_records_count: 10 });
      expect(s.put(records(0, 30))).toBe("stored");
      expect(s.put(records(30, 20))).toBe("stored");
      await s.whenDurable();
      expect(s.depth()).toBe(50);
      const b = s.next(45)!;
      expect(b.records).toEqual(records(0, 45));
      expect(s.next(100)!.records).toEqual(records(45, 5));
      expect(s.next(100)).toBeUndefined();
      expect(s.depth()).toBe(50);
    });

    test("several batches in flight, acked out of order; only acked records leave", async () => {
      const s = open(folder());
      s.put(records(0, 30));
      const b1 = s.next(10)!;
      const b2 = s.next(10)!;
      const b3 = s.next(10)!;
      expect([b1, b2, b3].map((b) => b.records[0])).toEqual([record(0), record(10), record(20)]);
      expect(b2.seq).toBeGreaterThan(b1.seq);
      expect(b3.seq).toBeGreaterThan(b2.seq);
      s.ack(b3);
      s.ack(b1);
      expect(s.depth()).toBe(10);
      s.ack(b3); // a repeated ack changes nothing
      expect(s.depth()).toBe(10);
      s.rewind();
      expect(drain(s, 100, false)).toEqual(records(10, 10));
      s.put(records(30, 5));
      await s.whenDurable(); // next() hands out durable records (sqlite: committed, in groups)
      expect(drain(s, 100, false)).toEqual(records(30, 5));
      expect(s.depth()).toBe(15);
    });

    test("rewind hands out every unacked record again from the oldest", () => {
      const s = open(folder());
      s.put(records(0, 25));
      const b1 = s.next(10)!;
      s.next(10);
      s.ack(b1);
      s.rewind();
      const again = s.next(100)!;
      expect(again.records).toEqual(records(10, 15));
      s.ack(again);
      expect(s.depth()).toBe(0);
      expect(s.next(100)).toBeUndefined();
    });

    test("a late ack of a batch handed out before a rewind is honoured", () => {
      const s = open(folder());
      s.put(records(0, 20));
      const old = s.next(10)!;
      s.rewind();
      s.ack(old);
      expect(s.depth()).toBe(10);
      expect(drain(s, 100, false)).toEqual(records(10, 10));
    });

    test("onAvailable fires once per tick however many puts, and again after rewind", async () => {
      const s = open(folder());
      let calls = 0;
      s.onAvailable(() => calls++);
      for (let i = 0; i < 100; i++) s.put([record(i)]);
      await Promise.resolve();
      await Bun.sleep(0);
      expect(calls).toBe(1);
      drain(s, 1000, false);
      s.rewind();
      await Bun.sleep(0);
      expect(calls).toBe(2);
    });

    test("full: refuses whole puts, evicts nothing, logs once per episode and when space returns", async () => {
      const { log, records: logs, stop } = capturingLogger();
      cleanups.push(stop);
      const s = open(folder(), setup.smallCapacity, log);
      let stored = 0;
      while (stored < 100_000 && s.put([record(stored)]) === "stored") stored++;
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(100_000);
      await s.whenDurable();
      const depth = s.depth();
      expect(depth).toBe(stored);
      for (let i = 0; i < 5; i++) expect(s.put([record(stored + i)])).toBe("full");
      expect(s.depth()).toBe(depth);
      const warnings = logs.filter((r) => r.level === "WARNING" && r.message.includes("storage full"));
      expect(warnings.length).toBe(1);
      expect(warnings[0]!.message).toContain(`${depth} records`);
      // Nothing was evicted: everything stored comes out, in order.
      const out = drain(s, 1000, true);
      expect(out).toEqual(records(0, stored));
      expect(s.put([record(-1)])).toBe("stored");
      const back = logs.filter((r) => r.message.includes("storage accepting again after 6 refused"));
      expect(back.length).toBe(1);
    });

    test("close flushes, then put says closed and next hands out nothing", async () => {
      const s = open(folder());
      expect(s.put(records(0, 3))).toBe("stored");
      const durable = s.whenDurable();
      await s.close();
      await durable;
      expect(s.put(records(3, 1))).toBe("closed");
      expect(s.next(10)).toBeUndefined();
      await s.close(); // twice is fine
    });

    if (setup.persistent) {
      test("after a restart every unacked record comes again, in order", async () => {
        const dir = folder();
        const a = open(dir);
        a.put(records(0, 40));
        const b1 = a.next(10)!;
        const b2 = a.next(10)!;
        a.next(10); // handed out, never acked
        a.ack(b1);
        a.ack(b2);
        a.put(records(40, 5));
        await a.whenDurable();
        await a.close();
        const b = open(dir);
        expect(b.depth()).toBe(25);
        let available = false;
        b.onAvailable(() => (available = true));
        await Bun.sleep(0);
        expect(available).toBe(true);
        expect(drain(b, 7)).toEqual(records(20, 25));
        expect(b.depth()).toBe(0);
        await b.close();
        const c = open(dir);
        expect(c.depth()).toBe(0);
        expect(c.next(100)).toBeUndefined();
      });
    }
  });
}

