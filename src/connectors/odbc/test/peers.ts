// Real databases for the ODBC tests: a PostgreSQL server started here (initdb in a temporary folder,
// listening on 127.0.0.1 and a free port, run as the `postgres` user since the tests run as root),
// SQLite files written with python3's own sqlite3 module, and an odbcinst.ini naming the Debian
// drivers (odbc-postgresql, libsqliteodbc) as upstream's sample does: `Driver={PostgreSQL}`.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureOdbcAddon } from "../../../../build/odbc-addon.ts";
import { freePort } from "../../../../test/support/ports.ts";
import { waitUntil } from "../../../../test/support/poll.ts";

/** Builds the addon once (a minute the first time) so no gateway start pays for it. */
export function buildAddonForTests(): void {
  ensureOdbcAddon(`${process.platform}-${process.arch}`);
}

const TRIPLETS: Record<string, string> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

/**
 * A folder with odbcinst.ini ([PostgreSQL] and [SQLite3], absolute driver paths of `arch`, the
 * gateway's machine: arm64 for the arm64 binary under qemu); pass `{ ODBCSYSINI: dir }` in the
 * gateway's environment.
 */
export function odbcInstDir(arch: string = process.arch): { ODBCSYSINI: string } {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-odbcinst-"));
  const d = `/usr/lib/${TRIPLETS[arch] ?? "x86_64-linux-gnu"}/odbc`;
  writeFileSync(
    join(dir, "odbcinst.ini"),
    `[PostgreSQL]\nDescription=PostgreSQL (Debian odbc-postgresql)\nDriver=${join(d, "psqlodbcw.so")}\n\n[SQLite3]\nDescription=SQLite3 (Debian libsqliteodbc)\nDriver=${join(d, "libsqlite3odbc.so")}\n`,
  );
  writeFileSync(join(dir, "odbc.ini"), "");
  return { ODBCSYSINI: dir };
}

/** Runs SQL on a SQLite file with python3's sqlite3 module (an implementation independent of ours). */
export function sqlite(file: string, sql: string, params: unknown[][] = []): string {
  const script = `import sqlite3, json, sys\nc = sqlite3.connect(sys.argv[1])\nsql = sys.argv[2]\nrows = json.loads(sys.stdin.read() or "[]")\nif rows:\n    c.executemany(sql, rows)\nelse:\n    cur = c.executescript(sql) if ";" in sql.strip().rstrip(";") else c.execute(sql)\n    print(json.dumps(cur.fetchall()))\nc.commit()\n`;
  const r = spawnSync("python3", ["-c", script, file, sql], { encoding: "utf8", input: JSON.stringify(params), maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`sqlite3 ${sql}: ${r.stderr || r.error?.message}`);
  return r.stdout.trim();
}

const pgBin = (name: string) => {
  const root = "/usr/lib/postgresql";
  const v = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  return join(root, v!, "bin", name);
};

export interface Postgres {
  port: number;
  /** the folder of its unix socket (psql -h) */
  socketDir: string;
  /** runs SQL with psql; returns its unaligned output */
  psql(sql: string, database?: string): string;
  /** kills the server at once (SIGKILL to the postmaster: clients see the connection drop) */
  kill(): Promise<void>;
  /** starts it again on the same port and data */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `postgres -k <dir> -p <free port> -h 127.0.0.1` on a fresh cluster (trust authentication). */
export async function startPostgres(): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-pg-"));
  chmodSync(dir, 0o700);
  const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
  chownSync(dir, uid, gid);
  const data = join(dir, "data");
  const init = spawnSync("runuser", ["-u", "postgres", "--", pgBin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  let proc: ChildProcess | undefined;
  let log = "";
  const psql = (sql: string, database = "postgres") => {
    const r = spawnSync("psql", ["-h", dir, "-p", String(port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`psql ${sql}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const ready = () => spawnSync(pgBin("pg_isready"), ["-h", "127.0.0.1", "-p", String(port)]).status === 0;
  const start = async () => {
    proc = spawn("runuser", ["-u", "postgres", "--", pgBin("postgres"), "-D", data, "-k", dir, "-p", String(port), "-h", "127.0.0.1", "-c", "fsync=off"], { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout?.on("data", (b) => (log += b));
    proc.stderr?.on("data", (b) => (log += b));
    await waitUntil(() => ready() || proc!.exitCode !== null, 30_000, "PostgreSQL accepting connections", 100);
    if (!ready()) throw new Error(`postgres did not start: ${log}`);
  };
  /** the postmaster's pid (runuser's child), read from its pid file */
  const postmasterPid = () => Number(spawnSync("head", ["-1", join(data, "postmaster.pid")], { encoding: "utf8" }).stdout.trim());
  const waitExit = async () => {
    const p = proc;
    if (p && p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once("exit", r));
  };
  await start();
  return {
    port,
    socketDir: dir,
    psql,
    async kill() {
      const pid = postmasterPid();
      if (pid > 0) process.kill(pid, "SIGKILL");
      await waitExit();
      // the backends of a killed postmaster end on their own once they notice; wait for the port
      await waitUntil(() => !ready(), 30_000, "PostgreSQL gone", 100);
      await waitUntil(() => spawnSync("pgrep", ["-u", "postgres", "-f", data]).status !== 0, 30_000, "PostgreSQL backends gone", 100);
    },
    restart: start,
    async stop() {
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const pid = postmasterPid();
        if (pid > 0) process.kill(pid, "SIGINT"); // fast shutdown
        await waitExit();
      }
    },
  };
}
