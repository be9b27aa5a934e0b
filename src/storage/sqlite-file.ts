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

export interface PendingRow {
  id: number;
  ts: number;
  message: string;
}

export class SqliteDataFile {
  readonly db: Database;
  /** Committed rows present in the file. */
  rows = 0;
  /** Id for the next insert (AUTOINCREMENT ids are never reused, even after deletes). */
  nextId = 1;
  /** Multi-row INSERT statements by row count, prepared on first use. */
  private readonly inserts = new Map<number, Statement>();
  private readonly readStmt: Statement;
  private readonly deleteStmt: Statement;
  private readonly purgeStmt: Statement;
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
    this.purgeStmt = this.db.prepare("DELETE FROM messages WHERE timestamp < ?");
    this.sizeStmt = this.db.prepare(
      "SELECT (page_count - freelist_count) * page_size AS used FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
    );
    const counts = this.db
      .query("SELECT count(*) AS n, coalesce(max(id), 0) AS maxId FROM messages")
      .get() as { n: number; maxId: number };
    const seq = this.db.query("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get() as
      | { seq: number }
      | null;
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

  /** Delete rows stamped before `cutoffMs`; returns how many. */
  purgeOlderThan(cutoffMs: number): number {
    return this.purgeStmt.run(cutoffMs).changes;
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

  private ensureSchema(nowMs: number): void {
    const cols = (this.db.query("PRAGMA table_info(messages)").all() as Array<{ name: string }>).map((c) => c.name);
    const create =
      "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL, message TEXT NOT NULL)";
    if (cols.length === 0) {
      this.db.exec(create);
    } else if (!cols.includes("id") || !cols.includes("timestamp")) {
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
      })();
    }
    this.db.exec("CREATE INDEX IF NOT EXISTS messages_timestamp ON messages (timestamp)");
  }
}
