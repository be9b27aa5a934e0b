// One SQLite database file of the sqlite storage (data.db or data_<ms>.db): schema, migration of
// older layouts, prepared statements and size measurement. The storage logic lives in sqlite.ts.

import { Database, type Statement } from "bun:sqlite";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

export const FIRST_DB_NAME = "data.db";
const ROTATED_DB = /^data_(\d+)\.db$/;

/** Database files in `dir`, oldest first: data.db, then data_<ms>.db by their number. */
export function listDbFiles(dir: string): string[] {
  const names = readdirSync(dir).filter((n) => n === FIRST_DB_NAME || ROTATED_DB.test(n));
  const order = (n: string) => (n === FIRST_DB_NAME ? -1 : Number(ROTATED_DB.exec(n)![1]));
  return names.sort((a, b) => order(a) - order(b));
}

/** Name for a new rotated file: newer than every existing one even within one millisecond. */
export function rotatedDbName(existing: readonly string[], nowMs: number): string {
  let ms = nowMs;
  for (const n of existing) {
    const m = ROTATED_DB.exec(n);
    if (m && Number(m[1]) >= ms) ms = Number(m[1]) + 1;
  }
  return `data_${ms}.db`;
}

/**
 * Rows per multi-row INSERT statement, largest first: a commit of n rows runs about n/32 + 5
 * statements instead of n (each run costs a call into SQLite and a result object; ~1 µs per row
 * less under the REST load). 32 rows bind 96 values, far under SQLite's variable limit.
 */
const INSERT_SIZES = [32, 16, 8, 4, 2, 1] as const;

/**
 * A file of the older layout (AUTOINCREMENT, which keeps a sqlite_sequence page written with every
 * commit) is rebuilt at open when it holds at most this many rows, which is quick; a larger backlog
 * keeps that layout (it works the same, at one more page per commit) until a later start finds it
 * small or it is drained and deleted.
 */
const REBUILD_MAX_ROWS = 50_000;

export interface PendingRow {
  id: number;
  ts: number;
  message: string;
}

export class SqliteDataFile {
  readonly db: Database;
  /** Committed rows present in the file. */
  rows = 0;
  /** Id for the next insert: one past the highest id in the file (or ever used, in files of the older AUTOINCREMENT layout). */
  nextId = 1;
  /** Multi-row INSERT statements by row count, prepared on first use. */
  private readonly inserts = new Map<number, Statement>();
  private readonly readStmt: Statement;
  private readonly deleteStmt: Statement;
  private readonly firstFreshStmt: Statement;
  private readonly deleteBelowStmt: Statement;
  private readonly deleteAllStmt: Statement;
  private readonly sizeStmt: Statement;
  /** Inserts a chunk of rows and deletes acked id ranges in one transaction; returns rows deleted. */
  readonly write: (rows: readonly PendingRow[], deletes: ReadonlyArray<readonly [number, number]>) => number;

  constructor(
    readonly dir: string,
    readonly name: string,
    nowMs: number,
  ) {
    this.db = new Database(join(dir, name), { create: true });
    try {
      // auto_vacuum must be chosen before the first table exists; harmless on existing files.
      this.db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      this.db.exec("PRAGMA journal_mode = WAL");
      this.db.exec("PRAGMA synchronous = NORMAL");
      this.db.exec("PRAGMA busy_timeout = 15000");
      this.ensureSchema(nowMs);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.readStmt = this.db.prepare("SELECT id, message FROM messages WHERE id > ? ORDER BY id LIMIT ?");
    this.deleteStmt = this.db.prepare("DELETE FROM messages WHERE id BETWEEN ? AND ?");
    // No index on timestamp: the first row still within the TTL is found by walking ids from the
    // oldest, which costs the expired rows only (rows are stamped in insertion order).
    this.firstFreshStmt = this.db.prepare("SELECT id FROM messages WHERE timestamp >= ? ORDER BY id LIMIT 1");
    this.deleteBelowStmt = this.db.prepare("DELETE FROM messages WHERE id < ?");
    this.deleteAllStmt = this.db.prepare("DELETE FROM messages");
    this.sizeStmt = this.db.prepare(
      "SELECT (page_count - freelist_count) * page_size AS used FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
    );
    const counts = this.db
      .query("SELECT count(*) AS n, coalesce(max(id), 0) AS maxId FROM messages")
      .get() as { n: number; maxId: number };
    const seq = this.db.query("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get() as { seq: number } | null;
    this.rows = counts.n;
    this.nextId = Math.max(counts.maxId, seq?.seq ?? 0) + 1;
    this.write = this.db.transaction((rows: readonly PendingRow[], deletes: ReadonlyArray<readonly [number, number]>) => {
      this.insert(rows);
      let deleted = 0;
      for (const [from, to] of deletes) deleted += this.deleteStmt.run(from, to).changes;
      return deleted;
    });
  }

  /** Insert the rows with as few statement runs as the INSERT_SIZES allow (inside write's transaction). */
  private insert(rows: readonly PendingRow[]): void {
    let i = 0;
    for (const size of INSERT_SIZES) {
      if (rows.length - i < size) continue;
      let stmt = this.inserts.get(size);
      if (!stmt) {
        stmt = this.db.prepare(`INSERT INTO messages (id, timestamp, message) VALUES ${new Array(size).fill("(?, ?, ?)").join(", ")}`);
        this.inserts.set(size, stmt);
      }
      const args: Array<number | string> = new Array(size * 3);
      while (rows.length - i >= size) {
        for (let j = 0; j < size; j++) {
          const r = rows[i + j]!;
          args[3 * j] = r.id;
          args[3 * j + 1] = r.ts;
          args[3 * j + 2] = r.message;
        }
        stmt.run(...args);
        i += size;
      }
    }
  }

  /** Up to `limit` rows with id > afterId, oldest first, as [id, message] pairs. */
  readAfter(afterId: number, limit: number): Array<[number, string]> {
    return this.readStmt.values(afterId, limit) as Array<[number, string]>;
  }

  /**
   * Delete the rows stamped before `cutoffMs`, oldest first in insertion order, up to the first row
   * still within it; returns how many. Rows are stamped as they are inserted, so that is every
   * expired row, unless the clock was set back: rows inserted after a fresh row then wait until the
   * rows before them expire (a clock step never purges newer data early).
   */
  purgeOlderThan(cutoffMs: number): number {
    const fresh = this.firstFreshStmt.get(cutoffMs) as { id: number } | null;
    return fresh ? this.deleteBelowStmt.run(fresh.id).changes : this.deleteAllStmt.run().changes;
  }

  /** Bytes of live data (pages in use); free pages left by deletes are reused, so not counted. */
  usedBytes(): number {
    return (this.sizeStmt.get() as { used: number }).used;
  }

  close(): void {
    try {
      this.db.close();
    } catch {
      // already closed
    }
  }

  /** Close and delete the file with its WAL and shared-memory companions. */
  remove(): void {
    this.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(join(this.dir, this.name + suffix), { force: true });
  }

  /**
   * The layout: `messages(id INTEGER PRIMARY KEY, timestamp, message)` and nothing else written per
   * commit, so a commit writes one table page (it wrote three: the table, an index on timestamp and
   * the AUTOINCREMENT counter in sqlite_sequence). Older layouts are migrated here. The empty table
   * `sequence_for_older_readers` (AUTOINCREMENT, never written) only makes sqlite_sequence exist,
   * which tb-gw builds before this layout query at open: they can still open these files.
   */
  private ensureSchema(nowMs: number): void {
    const cols = (this.db.query("PRAGMA table_info(messages)").all() as Array<{ name: string }>).map((c) => c.name);
    const create = "CREATE TABLE messages (id INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, message TEXT NOT NULL)";
    const keepSequence = "CREATE TABLE IF NOT EXISTS sequence_for_older_readers (id INTEGER PRIMARY KEY AUTOINCREMENT)";
    if (cols.length === 0) {
      this.db.transaction(() => {
        this.db.exec(create);
        this.db.exec(keepSequence);
      })();
    } else if (cols.includes("id") && cols.includes("timestamp")) {
      this.dropOlderExtras(create, keepSequence);
    } else {
      // Older layout (message only, or no id): rebuild keeping row order. A timestamp that looks
      // like seconds is scaled to ms so the TTL purge does not take it for ancient data.
      const ts = cols.includes("timestamp")
        ? "CASE WHEN timestamp < 100000000000 THEN timestamp * 1000 ELSE timestamp END"
        : String(Math.floor(nowMs));
      this.db.transaction(() => {
        this.db.exec("ALTER TABLE messages RENAME TO messages_old");
        this.db.exec(create);
        this.db.exec(
          `INSERT INTO messages (timestamp, message) SELECT ${ts}, message FROM messages_old WHERE message IS NOT NULL ORDER BY rowid`,
        );
        this.db.exec("DROP TABLE messages_old");
        this.db.exec("DROP INDEX IF EXISTS messages_timestamp");
        this.db.exec(keepSequence);
      })();
    }
  }

  /**
   * A file of the previous layout: its timestamp index goes (the TTL purge no longer needs it), and
   * its AUTOINCREMENT table is rebuilt without it, ids and order kept, when the file holds few rows
   * (REBUILD_MAX_ROWS). Both are one transaction; a failure (say, a full disk) leaves the file as it
   * was, which works the same.
   */
  private dropOlderExtras(create: string, keepSequence: string): void {
    const table = this.db.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get() as { sql: string } | null;
    const autoincrement = /AUTOINCREMENT/i.test(table?.sql ?? "");
    const index = this.db.query("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'messages_timestamp'").get() !== null;
    if (!autoincrement && !index) return;
    const rows = autoincrement ? (this.db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n : 0;
    try {
      this.db.transaction(() => {
        this.db.exec("DROP INDEX IF EXISTS messages_timestamp");
        if (!autoincrement || rows > REBUILD_MAX_ROWS) return;
        // The old counter stays in sqlite_sequence under 'messages' as a floor for the next id (see
        // the constructor); the empty AUTOINCREMENT table keeps sqlite_sequence itself in place.
        this.db.exec(keepSequence);
        const seq = this.db.query("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get() as { seq: number } | null;
        this.db.exec("ALTER TABLE messages RENAME TO messages_old");
        this.db.exec(create);
        this.db.exec("INSERT INTO messages (id, timestamp, message) SELECT id, timestamp, message FROM messages_old ORDER BY id");
        this.db.exec("DROP TABLE messages_old");
        if (seq) this.db.query("INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', ?)").run(seq.seq);
      })();
    } catch {
      // left in the older layout, which works the same
    }
  }
}
