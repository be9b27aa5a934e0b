// SQLite storage specifics: rotation by size_limit, max_db_amount refusal, TTL purge, migration of
// an older schema, and how data_file_path is read.

import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkMainSemantics } from "../config/semantic.ts";
import { parseSource } from "../config/source.ts";
import { capturingLogger, drain, records, storageConfig } from "./contract.ts";
import { createStorage, type StorageExtras } from "./index.ts";
import type { StorageConfig } from "./schema.ts";
import type { EventStorage } from "./types.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-sqlite-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(dir: string, extra: Partial<StorageConfig> = {}, log = capturingLogger().log, extras: StorageExtras = {}): EventStorage {
  const s = createStorage(storageConfig("sqlite", dir, extra), dir, log, extras);
  cleanups.push(() => s.close());
  return s;
}

const dbFiles = (dir: string) => readdirSync(dir).filter((n) => /^data(_\d+)?\.db$/.test(n));

/** Rows in a database file (only those holding one of `only`, when given), read through a connection of its own. */
function rowsIn(file: string, only?: string[]): number {
  const db = new Database(file, { readonly: true });
  try {
    if (!only) return (db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
    return (db.query(`SELECT count(*) AS n FROM messages WHERE message IN (${only.map(() => "?").join(", ")})`).get(...only) as { n: number }).n;
  } finally {
    db.close();
  }
}

const walBytes = (dir: string) => (existsSync(join(dir, "data.db-wal")) ? statSync(join(dir, "data.db-wal")).size : 0);
/** Two turns of the event loop: a commit scheduled by put() has run. */
const turns = async () => {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
};

/** Put `count` records in puts of 20, letting each commit (and the size check) happen. */
async function fill(s: EventStorage, from: number, count: number): Promise<number> {
  let i = from;
  while (i < from + count && s.put(records(i, 20)) === "stored") {
    i += 20;
    await s.whenDurable();
  }
  return i - from;
}

test("rotates to data_<ms>.db at size_limit; the reader drains files oldest first and deletes them", async () => {
  const dir = folder();
  const s = open(dir, { size_limit: 0.05, max_db_amount: 20 });
  expect(await fill(s, 0, 2000)).toBe(2000);
  const files = dbFiles(dir);
  expect(files.length).toBeGreaterThan(3);
  expect(files).toContain("data.db");
  expect(s.depth()).toBe(2000);
  const first = s.next(700)!;
  expect(first.records).toEqual(records(0, 700));
  s.ack(first);
  expect(s.next(10_000)!.records).toEqual(records(700, 1300));
  expect(s.next(1)).toBeUndefined();
  expect(dbFiles(dir).length).toBeLessThan(files.length);
  expect(dbFiles(dir)).not.toContain("data.db");
  // Restart with the rest unacked: everything comes again, across the remaining files, in order.
  await s.close();
  const again = open(dir, { size_limit: 0.05, max_db_amount: 20 });
  expect(drain(again, 333)).toEqual(records(700, 1300));
  expect(again.next(1)).toBeUndefined();
  await again.close();
  expect(dbFiles(dir).length).toBe(1);
});

test("a late ack of a batch from a file already sent and deleted (its rows acked again after a rewind) changes nothing and logs no error", async () => {
  const dir = folder();
  const { log, records: logs, stop } = capturingLogger();
  cleanups.push(stop);
  const s = open(dir, { size_limit: 0.05, max_db_amount: 20 }, log);
  expect(await fill(s, 0, 2000)).toBe(2000);
  expect(dbFiles(dir).length).toBeGreaterThan(2);
  const before = s.next(100)!; // rows of data.db, then a rewind (as after a failed publish)
  s.rewind();
  const again = s.next(100_000)!;
  expect(again.records).toEqual(records(0, 2000));
  s.ack(again);
  await new Promise((r) => setTimeout(r, 50));
  expect(s.next(1)).toBeUndefined(); // commits the deletes: every drained file is removed
  expect(dbFiles(dir)).not.toContain("data.db");
  s.ack(before); // its file is gone
  await new Promise((r) => setTimeout(r, 50));
  expect(s.put(records(2000, 5))).toBe("stored");
  await s.whenDurable();
  expect(drain(s)).toEqual(records(2000, 5));
  await new Promise((r) => setTimeout(r, 300)); // the lazy delete of the write file
  expect(logs.filter((r) => r.level === "ERROR" || r.level === "WARNING").map((r) => r.message)).toEqual([]);
  expect(s.depth()).toBe(0);
});

test("max_db_amount reached: puts refused with a warning, accepted again once the oldest file is sent", async () => {
  const dir = folder();
  const { log, records: logs, stop } = capturingLogger();
  cleanups.push(stop);
  const s = open(dir, { size_limit: 0.05, max_db_amount: 2 }, log);
  const stored = await fill(s, 0, 100_000);
  expect(stored).toBeGreaterThan(0);
  expect(stored).toBeLessThan(100_000);
  expect(dbFiles(dir).length).toBe(2);
  expect(s.put(records(stored, 1))).toBe("full");
  expect(logs.filter((r) => r.message.includes("storage full")).length).toBe(1);
  expect(logs.find((r) => r.message.includes("storage full"))!.message).toContain("max_db_amount 2");
  // Sending the oldest file frees a slot: a new file is started.
  let sent = 0;
  while (dbFiles(dir).includes("data.db")) {
    const b = s.next(50)!;
    sent += b.records.length;
    s.ack(b); // committed (and a drained file deleted) before the next read
  }
  expect(sent).toBeLessThan(stored);
  expect(s.put(records(stored, 1))).toBe("stored");
  expect(logs.some((r) => r.message.includes("storage accepting again after 21 refused records (2 puts)"))).toBe(true);
  s.rewind();
  expect(drain(s, 500)).toEqual(records(sent, stored - sent + 1));
});

test("TTL: rows older than messages_ttl_in_days are purged on the check period and the count is logged", async () => {
  const dir = folder();
  const { log, stop, waitFor } = capturingLogger();
  cleanups.push(stop);
  let now = 1_800_000_000_000;
  const day = 86_400_000;
  // Checks every ~36 ms; the clock is ours, so only the rows we age expire.
  const s = open(dir, { messages_ttl_in_days: 7, messages_ttl_check_in_hours: 0.00001 }, log, { now: () => now });
  s.put(records(0, 30));
  await s.whenDurable();
  now += 6 * day;
  s.put(records(30, 10));
  await s.whenDurable();
  now += 2 * day; // the first 30 are now 8 days old, the last 10 only 2
  const purged = await waitFor((r) => r.message.includes("purged"));
  expect(purged.message).toContain("purged 30 records older than 7 days");
  expect(s.depth()).toBe(10);
  expect(drain(s, 100)).toEqual(records(30, 10));
});

test("migrates an older table without id and timestamp columns, keeping the order", async () => {
  const dir = folder();
  const old = new Database(join(dir, "data.db"));
  old.exec("CREATE TABLE messages (message TEXT)");
  const ins = old.prepare("INSERT INTO messages (message) VALUES (?)");
  for (const r of records(0, 15)) ins.run(r);
  old.close();
  const s = open(dir);
  expect(s.depth()).toBe(15);
  s.put(records(15, 5));
  expect(drain(s, 6)).toEqual(records(0, 20));
  await s.close();
  const check = new Database(join(dir, "data.db"), { readonly: true });
  const cols = (check.query("PRAGMA table_info(messages)").all() as Array<{ name: string }>).map((c) => c.name);
  check.close();
  expect(cols).toEqual(["id", "timestamp", "message"]);
});

/** A data.db as tb-gw wrote it before the one-page-per-commit layout: AUTOINCREMENT ids, an index on timestamp. */
function writePreviousLayout(file: string, rows: number, acked: number): void {
  const old = new Database(file, { create: true });
  old.exec("PRAGMA journal_mode = WAL");
  old.exec("CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL, message TEXT NOT NULL)");
  old.exec("CREATE INDEX messages_timestamp ON messages (timestamp)");
  const ins = old.prepare("INSERT INTO messages (timestamp, message) VALUES (?, ?)");
  old.transaction(() => {
    for (const [i, r] of records(0, rows).entries()) ins.run(1_800_000_000_000 + i, r);
  })();
  // acknowledged rows deleted: the AUTOINCREMENT counter stays above the ids left
  old.exec(`DELETE FROM messages WHERE id <= ${acked}`);
  old.close();
}

function layoutOf(file: string): { table: string; indexes: string[]; ids: number[]; seq: number | undefined } {
  const db = new Database(file, { readonly: true });
  try {
    const table = (db.query("SELECT sql FROM sqlite_master WHERE name = 'messages'").get() as { sql: string }).sql;
    const indexes = (db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'").all() as Array<{ name: string }>).map((r) => r.name);
    const ids = (db.query("SELECT id FROM messages ORDER BY id").all() as Array<{ id: number }>).map((r) => r.id);
    const seq = (db.query("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get() as { seq: number } | null)?.seq;
    return { table, indexes, ids, seq };
  } finally {
    db.close();
  }
}

test("a file of the previous layout (AUTOINCREMENT, timestamp index) is rebuilt at open: same records, ids and order; new ids start above the old counter", async () => {
  const dir = folder();
  writePreviousLayout(join(dir, "data.db"), 40, 15);
  const s = open(dir);
  expect(s.depth()).toBe(25);
  const before = layoutOf(join(dir, "data.db"));
  expect(before.table).not.toMatch(/AUTOINCREMENT/i);
  expect(before.indexes).toEqual([]);
  expect(before.ids).toEqual(Array.from({ length: 25 }, (_, i) => 16 + i));
  s.put(records(40, 5));
  await s.whenDurable();
  expect(drain(s, 7)).toEqual(records(15, 30));
  await s.close();
  // every row was acknowledged and deleted: after a restart ids start above the old counter (40)
  // again (ids are positions within one run; reusing a deleted one across restarts is harmless)
  const s2 = open(dir);
  s2.put(records(100, 1));
  await s2.whenDurable();
  await s2.close();
  expect(layoutOf(join(dir, "data.db")).ids).toEqual([41]);
});

test("a large file of the previous layout keeps its table (only the index goes) and works the same", async () => {
  const dir = folder();
  const rows = 50_001; // one over the rebuild limit
  writePreviousLayout(join(dir, "data.db"), rows, 0);
  const s = open(dir, { max_read_records_count: 100_000 });
  expect(s.depth()).toBe(rows);
  const layout = layoutOf(join(dir, "data.db"));
  expect(layout.table).toMatch(/AUTOINCREMENT/i);
  expect(layout.indexes).toEqual([]);
  s.put(records(rows, 3));
  await s.whenDurable();
  const all: string[] = [];
  for (let b = s.next(20_000); b; b = s.next(20_000)) {
    all.push(...b.records);
    s.ack(b);
  }
  expect(all).toEqual(records(0, rows + 3));
});

test("a new file keeps sqlite_sequence readable for older tb-gw builds, which query it at open", async () => {
  const dir = folder();
  const s = open(dir);
  s.put(records(0, 3));
  await s.whenDurable();
  await s.close();
  const db = new Database(join(dir, "data.db"));
  // what the previous build runs when it opens a file
  const seq = db.query("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get();
  db.exec("CREATE INDEX IF NOT EXISTS messages_timestamp ON messages (timestamp)");
  db.close();
  expect(seq).toBeNull();
  const again = open(dir);
  expect(drain(again, 10)).toEqual(records(0, 3));
});

test("TTL with the clock set back: rows are purged oldest first up to the first one still within the TTL", () => {
  const dir = folder();
  let now = 1_800_000_000_000;
  const day = 86_400_000;
  const s = open(dir, { messages_ttl_in_days: 7 }, capturingLogger().log, { now: () => now });
  const purge = () => (s as unknown as { purgeExpired(): number }).purgeExpired();
  s.put(records(0, 5)); // stamped day 0
  now += 5 * day;
  s.put(records(5, 5)); // day 5
  now -= 4 * day;
  s.put(records(10, 5)); // the clock went back: stamped day 1, inserted after day 5's rows
  now += 8 * day - day; // day 8: day 0's rows and the rows stamped day 1 are past 7 days
  expect(purge()).toBe(5); // day 5's rows are fresh, and the rows after them wait for them
  now += 5 * day; // day 13: all expired
  expect(purge()).toBe(10);
  expect(s.depth()).toBe(0);
});

test("data_file_path naming the database file (upstream's ./data/data.db) works on every start, and validate agrees", () => {
  const dir = folder();
  const { log, records: logs, stop } = capturingLogger();
  cleanups.push(stop);
  const cfg = storageConfig("sqlite", dir, { data_file_path: "./data/data.db" });
  for (let start = 0; start < 3; start++) {
    // validate's storage check sees the same place as the runtime, before and after the file exists
    const diags = checkMainSemantics(parseSource(join(dir, "tb_gateway.json"), new TextEncoder().encode(JSON.stringify({ storage: cfg }))), { storage: cfg }, dir);
    expect(diags.filter((d) => d.path?.startsWith("storage"))).toEqual([]);
    const s = createStorage(cfg, dir, log);
    expect(s.put(records(start, 1))).toBe("stored");
    s.close();
  }
  expect(dbFiles(join(dir, "data"))).toEqual(["data.db"]);
  const s = createStorage(cfg, dir, log);
  cleanups.push(() => s.close());
  expect(drain(s, 10)).toEqual(records(0, 3));
  expect(logs.filter((r) => r.level === "WARNING" || r.level === "ERROR")).toEqual([]);
});

test("data_file_path naming another file name uses its folder's data.db and says so", () => {
  const dir = folder();
  const { log, records: logs, stop } = capturingLogger();
  cleanups.push(stop);
  const s = createStorage(storageConfig("sqlite", dir, { data_file_path: "db/gateway.sqlite" }), dir, log);
  cleanups.push(() => s.close());
  expect(dbFiles(join(dir, "db"))).toEqual(["data.db"]);
  expect(logs.some((r) => r.message.includes("names the file gateway.sqlite; the database is data.db in"))).toBe(true);
});

test("a storage folder that cannot be created is a clear error naming the setting", () => {
  const dir = folder();
  writeFileSync(join(dir, "plain-file"), "");
  expect(() => createStorage(storageConfig("sqlite", dir, { data_file_path: "plain-file/sub/" }), dir, capturingLogger().log)).toThrow(
    /storage\.data_file_path: cannot create folder .*plain-file\/sub/,
  );
  expect(() => createStorage(storageConfig("file", dir, { data_folder_path: "plain-file" }), dir, capturingLogger().log)).toThrow(
    /storage\.data_folder_path: .*plain-file is not a folder/,
  );
});

test("an unreadable database file is moved aside with an error, and the storage starts empty", () => {
  const dir = folder();
  writeFileSync(join(dir, "data.db"), "this is not an SQLite database, just text that is long enough to have a header".repeat(20));
  const { log, records: logs, stop } = capturingLogger();
  cleanups.push(stop);
  const s = open(dir, {}, log);
  expect(logs.some((r) => r.level === "ERROR" && r.message.includes("cannot open") && r.message.includes("moved it to data.db.unreadable-"))).toBe(true);
  expect(readdirSync(dir).some((n) => n.startsWith("data.db.unreadable-"))).toBe(true);
  expect(s.put(records(0, 3))).toBe("stored");
  expect(drain(s, 10)).toEqual(records(0, 3));
});

test("a database that cannot be opened for a reason other than damage is a startup error and stays in place", () => {
  const dir = folder();
  // Not a damaged file but one SQLite cannot open at all (as a full disk or missing permission):
  // starting empty would leave its records behind for good.
  mkdirSync(join(dir, "data.db"));
  expect(() => open(dir)).toThrow(/^sqlite storage: cannot open \S+data\.db \(.*\): it is left as it is$/);
  expect(readdirSync(dir)).toEqual(["data.db"]);
});

test("commits of every size up to 100 records (multi-row inserts) keep each record once, in order, across a restart", async () => {
  const dir = folder();
  let s = open(dir, { max_read_records_count: 100_000 });
  let at = 0;
  for (let n = 1; n <= 100; n++) {
    expect(s.put(records(at, n))).toBe("stored");
    at += n;
    await s.whenDurable();
  }
  expect(drain(s, 100_000, false)).toEqual(records(0, at));
  await s.close();
  s = open(dir, { max_read_records_count: 100_000 });
  expect(drain(s, 100_000, true)).toEqual(records(0, at));
});

test("rows just committed are handed out from memory (the tail) with the same order, rewind, cap and TTL behaviour as from the file", async () => {
  const dir = folder();
  let now = 1_000_000_000_000;
  const s = open(dir, { max_read_records_count: 100_000, messages_ttl_in_days: 1 }, capturingLogger().log, { now: () => now });
  // the reader right behind the writer, then catching up across commits
  s.put(records(0, 5));
  await s.whenDurable();
  const first = s.next(2)!;
  expect(first.records).toEqual(records(0, 2));
  s.put(records(5, 3));
  await s.whenDurable();
  const rest = s.next(100)!;
  expect(rest.records).toEqual(records(2, 6));
  s.ack(first);
  // rewind: what was handed out and not acked comes again, from the file
  s.rewind();
  expect(drain(s, 100_000, false)).toEqual(records(2, 6));
  s.ack(rest);
  expect(s.next(100)).toBeUndefined();
  // more than the tail keeps (10,000) committed while nobody reads: all of it, once, in order
  for (let i = 0; i < 12_000; i += 1_000) {
    s.put(records(100 + i, 1_000));
    await s.whenDurable();
  }
  expect(drain(s, 4_000)).toEqual(records(100, 12_000));
  // rows purged by TTL while in the tail are not handed out
  s.put(records(20_000, 3));
  await s.whenDurable();
  now += 2 * 86_400_000;
  s.put(records(20_003, 2));
  await s.whenDurable();
  expect((s as unknown as { purgeExpired(): number }).purgeExpired()).toBe(3);
  expect(drain(s, 100)).toEqual(records(20_003, 2));
  expect(s.depth()).toBe(0);
});

test("rows handed out from memory right after a commit and rows read back by query agree: order, no gap, acks and rewinds", async () => {
  // Random interleaving of puts, commits, reads, acks (in any order) and rewinds. The model: the
  // indices still to be handed out, in order; a rewind resets it to every unacknowledged record.
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const s = open(folder());
  const all: string[] = [];
  let queue: number[] = [];
  const acked = new Set<number>();
  const out: Array<{ b: NonNullable<ReturnType<EventStorage["next"]>>; idx: number[] }> = [];
  for (let step = 0; step < 3000; step++) {
    const op = rnd(10);
    if (op < 3) {
      const n = 1 + rnd(5);
      const recs = records(all.length, n);
      for (let i = 0; i < n; i++) queue.push(all.length + i);
      all.push(...recs);
      expect(s.put(recs)).toBe("stored");
    } else if (op < 4) {
      await s.whenDurable();
    } else if (op < 5) {
      await Bun.sleep(4); // past the group-commit gap: the next read commits first
    } else if (op < 8) {
      const b = s.next(1 + rnd(12));
      if (!b) continue;
      const idx = queue.slice(0, b.records.length);
      expect(b.records).toEqual(idx.map((i) => all[i]!));
      queue = queue.slice(b.records.length);
      out.push({ b, idx });
    } else if (op < 9 && out.length > 0) {
      const { b, idx } = out.splice(rnd(out.length), 1)[0]!;
      s.ack(b);
      for (const i of idx) acked.add(i);
      const gone = new Set(idx);
      queue = queue.filter((i) => !gone.has(i)); // acked after a rewind: not handed out again
    } else if (op === 9 && rnd(4) === 0) {
      s.rewind();
      queue = all.map((_, i) => i).filter((i) => !acked.has(i));
    }
  }
  await s.whenDurable();
  await Bun.sleep(4);
  for (const { b, idx } of out) {
    s.ack(b);
    for (const i of idx) acked.add(i);
    const gone = new Set(idx);
    queue = queue.filter((i) => !gone.has(i));
  }
  const rest = drain(s, 50);
  expect(rest).toEqual(queue.map((i) => all[i]!));
  expect(all.length).toBeGreaterThan(1000);
});

test("rows handed out before their commit and acknowledged within the hold are never written; whenDurable() resolves with the acknowledgement", async () => {
  const dir = folder();
  const s = open(dir);
  const wal = walBytes(dir);
  s.put(records(0, 5));
  let durable = false;
  void s.whenDurable().then(() => (durable = true));
  const b = s.next(100)!;
  expect(b.records).toEqual(records(0, 5));
  await turns();
  expect(durable).toBe(false); // neither on disk nor acknowledged yet
  s.ack(b);
  await s.whenDurable();
  expect(s.depth()).toBe(0);
  expect(walBytes(dir)).toBe(wal);
  await s.close();
  expect(rowsIn(join(dir, "data.db"))).toBe(0);
});

test("held rows the platform has not acknowledged within the hold (10 ms) are committed, and whenDurable() resolves then; the late ack deletes them", async () => {
  const dir = folder();
  const s = open(dir);
  s.put(records(0, 5));
  const b = s.next(100)!;
  let durable = false;
  const confirmed = s.whenDurable().then(() => (durable = true));
  await turns();
  expect(durable).toBe(false);
  expect(rowsIn(join(dir, "data.db"))).toBe(0);
  await confirmed; // the hold ran out
  expect(rowsIn(join(dir, "data.db"))).toBe(5); // a kill -9 now keeps them
  expect(s.depth()).toBe(5);
  s.ack(b);
  expect(s.depth()).toBe(0);
  await s.close();
  expect(rowsIn(join(dir, "data.db"))).toBe(0);
});

test("a platform slow to acknowledge (two of the last four batches acked after the hold) turns holding off until three batches were acknowledged promptly", async () => {
  const dir = folder();
  const s = open(dir);
  const db = join(dir, "data.db");
  for (let i = 0; i < 2; i++) {
    s.put(records(i, 1));
    const slow = s.next(100)!;
    await s.whenDurable(); // the hold ran out
    await Bun.sleep(10); // the acknowledgement comes well after the hold
    s.ack(slow);
  }
  let n = 2;
  for (let i = 0; i < 3; i++) {
    s.put(records(n, 2));
    // not held: nothing yet (the group commit comes first) or rows already committed
    const early = s.next(100);
    if (early) expect(rowsIn(db, early.records)).toBe(early.records.length);
    await s.whenDurable();
    const b = early ?? s.next(100)!;
    expect(b.records).toEqual(records(n, 2));
    expect(rowsIn(db, records(n, 2))).toBe(2);
    n += 2;
    s.ack(b); // promptly
  }
  s.put(records(n, 2));
  const b = s.next(100)!;
  expect(rowsIn(db, records(n, 2))).toBe(0); // held again
  s.ack(b);
  await s.close();
  expect(rowsIn(db)).toBe(0);
});

test("newer rows committed while older ones are held: whenDurable() waits for the older ones, which never reach the disk once acknowledged", async () => {
  const dir = folder();
  const s = open(dir);
  s.put(records(0, 3));
  const held = s.next(100)!;
  s.put(records(3, 3)); // not taken: committed by the scheduled commit
  let durable = false;
  void s.whenDurable().then(() => (durable = true));
  await turns();
  expect(rowsIn(join(dir, "data.db"))).toBe(3);
  expect(durable).toBe(false);
  s.ack(held);
  await s.whenDurable();
  const next = s.next(100)!;
  expect(next.records).toEqual(records(3, 3));
  s.ack(next);
  await s.close();
  expect(rowsIn(join(dir, "data.db"))).toBe(0);
});

test("held rows survive a rewind (committed, handed out again in order) and a close (committed for the next start)", async () => {
  const dir = folder();
  const s = open(dir);
  s.put(records(0, 4));
  s.next(100);
  s.rewind();
  expect(rowsIn(join(dir, "data.db"))).toBe(4);
  expect(drain(s, 100, false)).toEqual(records(0, 4));
  s.put(records(4, 2));
  s.next(100); // held at close
  await s.close();
  const again = open(dir);
  expect(drain(again, 100)).toEqual(records(0, 6));
});

test("more than 256 rows waiting are committed before they are handed out (under heavy traffic devices are acknowledged at the commit, not at the platform's)", async () => {
  const dir = folder();
  const s = open(dir);
  s.put(records(0, 300));
  const b = s.next(1000)!;
  expect(b.records).toEqual(records(0, 300));
  expect(rowsIn(join(dir, "data.db"))).toBe(300);
  await s.whenDurable(); // without an ack
  s.ack(b);
  await s.close();
  expect(rowsIn(join(dir, "data.db"))).toBe(0);
});
