// A real full disk: file and sqlite storage on a small tmpfs. Whatever put() accepted and
// whenDurable() confirmed must survive close + reopen; nothing half-written may be left in a file;
// when space returns, the records held meanwhile are written and everything accepted is delivered.

import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tmpfsUnavailable, within, withTmpfs } from "../../test/support/tmpfs.ts";
import { capturingLogger, drain, records, storageConfig } from "./contract-data.ts";
import { createStorage } from "./index.ts";
import type { StorageConfig } from "./schema.ts";
import type { EventStorage } from "./types.ts";

const FS_KIB = 1024;
/** Bound on each wait (the tests take well under a second each, plus one 1 s retry). */
const WAIT_MS = 20_000;

const SETTINGS: Record<"file" | "sqlite", Partial<StorageConfig>> = {
  file: { max_file_count: 100, max_records_per_file: 1000, max_records_between_fsync: 1 },
  sqlite: { writing_batch_size: 1000, size_limit: 1024, max_db_amount: 10 },
};

const skip = tmpfsUnavailable();

function open(type: "file" | "sqlite", root: string, log = capturingLogger().log, extra: Partial<StorageConfig> = {}): EventStorage {
  return createStorage(storageConfig(type, join(root, "data"), { ...SETTINGS[type], ...extra }), root, log);
}

const dataFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^data_\d+\.txt$/.test(n))
    .sort();

/** Write `path` until the filesystem refuses another byte; returns the bytes written. */
function takeAllSpace(path: string): number {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  let total = 0;
  try {
    for (;;) total += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
  return total;
}

interface Filled {
  /** Records put() accepted, numbered from 0. */
  accepted: number;
  /** Records whenDurable() confirmed (a prefix of the accepted ones). */
  confirmed: number;
  /** whenDurable() of the put that hit the full disk (still pending). */
  pending: Promise<void>;
}

/**
 * Store a few hundred records, then let a filler file take every free block: the data file's last
 * block keeps some room, less than one put of 40 records needs, so the file storage's next write
 * is cut short by the kernel (a short write, not an error). Then put until the storage reports a
 * write error (an ERROR log line); each put whenDurable() confirms before that counts.
 */
async function fillDisk(type: "file" | "sqlite", s: EventStorage, root: string, waitForError: Promise<unknown>): Promise<Filled> {
  let accepted = 0;
  const lastFileSize = () => {
    const last = dataFiles(join(root, "data")).at(-1);
    return last ? statSync(join(root, "data", last)).size : 0;
  };
  // Uneven puts, each confirmed; stop inside a filesystem block (so the next write can be short).
  while (accepted < 300 || (type === "file" && lastFileSize() % statfsSync(root).bsize === 0)) {
    expect(s.put(records(accepted, 7))).toBe("stored");
    accepted += 7;
    await within(s.whenDurable(), WAIT_MS, "records stored before the disk filled");
  }
  let confirmed = accepted;
  expect(takeAllSpace(join(root, "filler"))).toBeGreaterThan(0);
  while (accepted < 100_000) {
    expect(s.put(records(accepted, 40))).toBe("stored");
    accepted += 40;
    const p = s.whenDurable();
    p.catch(() => {}); // rejected when the storage is closed before writing
    const outcome = await within(
      Promise.race([p.then(() => "durable" as const), waitForError.then(() => "failing" as const)]),
      WAIT_MS,
      "a put on the full disk",
    );
    if (outcome === "failing") return { accepted, confirmed, pending: p };
    confirmed = accepted;
  }
  throw new Error("the disk never filled");
}

/** Decoded lines of every data file, in file order; fails on a partial or undecodable line. */
function linesOnDisk(dir: string): string[] {
  const out: string[] = [];
  for (const name of dataFiles(dir)) {
    const text = readFileSync(join(dir, name), "latin1");
    if (text.length === 0) continue;
    expect(text.endsWith("\n"), `${name} ends with a whole line`).toBe(true);
    for (const line of text.slice(0, -1).split("\n")) {
      const decoded = Buffer.from(line, "base64").toString("utf8");
      expect(() => JSON.parse(decoded), `${name}: a whole record per line`).not.toThrow();
      out.push(decoded);
    }
  }
  return out;
}

describe.skipIf(skip !== undefined)(`full disk (tmpfs of ${FS_KIB} KiB)${skip ? ` — skipped: ${skip}` : ""}`, () => {
  for (const type of ["file", "sqlite"] as const) {
    test(`${type}: held while the disk is full, written when space returns, everything delivered once acked`, async () => {
      await withTmpfs(FS_KIB, async (root) => {
        const { log, records: logs, stop, waitFor } = capturingLogger();
        const s = open(type, root, log);
        try {
          const errorLogged = waitFor((r) => r.level === "ERROR");
          const { accepted: filled, confirmed, pending } = await fillDisk(type, s, root, errorLogged);
          expect(confirmed).toBeGreaterThanOrEqual(300);
          // More puts while the disk is full: accepted, held, not confirmed.
          expect(s.put(records(filled, 25))).toBe("stored");
          const accepted = filled + 25;
          const later = s.whenDurable();
          expect(s.depth()).toBe(accepted);
          if (type === "file") {
            // Only whole records on disk, in order, at least every confirmed one.
            const onDisk = linesOnDisk(join(root, "data"));
            expect(onDisk.length).toBeGreaterThanOrEqual(confirmed);
            expect(onDisk.length).toBeLessThanOrEqual(accepted);
            expect(onDisk).toEqual(records(0, onDisk.length));
          }
          // Space returns: the held records are written and confirmed, with one line each way.
          rmSync(join(root, "filler"));
          await within(pending, WAIT_MS, "held records written once space returned");
          await within(later, WAIT_MS, "records put while full written once space returned");
          const errors = logs.filter((r) => r.level === "ERROR");
          expect(errors.length).toBe(1);
          expect(errors[0]!.message).toMatch(/disk full writing \S+.*records not on disk yet/);
          expect(logs.filter((r) => /writing works again/.test(r.message)).length).toBe(1);
          // Writing goes on as usual, and every accepted record comes out once, in order.
          expect(s.put(records(accepted, 40))).toBe("stored");
          await within(s.whenDurable(), WAIT_MS, "records put after recovery");
          expect(drain(s, 500)).toEqual(records(0, accepted + 40));
          expect(s.depth()).toBe(0);
        } finally {
          await s.close();
          stop();
        }
        const again = open(type, root);
        try {
          expect(again.depth()).toBe(0);
          expect(again.next(100)).toBeUndefined();
        } finally {
          await again.close();
        }
      });
    }, 60_000);

    test(`${type}: closed while the disk is full, reopened: every confirmed record is there, nothing half-written`, async () => {
      await withTmpfs(FS_KIB, async (root) => {
        const { log, stop, waitFor } = capturingLogger();
        const s = open(type, root, log);
        let filled: Filled;
        try {
          filled = await fillDisk(type, s, root, waitFor((r) => r.level === "ERROR"));
        } finally {
          await s.close();
          stop();
        }
        expect(filled.confirmed).toBeGreaterThanOrEqual(300);
        if (type === "file") {
          const onDisk = linesOnDisk(join(root, "data"));
          expect(onDisk.length).toBeGreaterThanOrEqual(filled.confirmed);
          expect(onDisk).toEqual(records(0, onDisk.length));
        }
        // Reopened on the still-full disk: the confirmed records come first, then nothing foreign.
        // (Even opening a WAL database needs a little space: sqlite may refuse to start, saying
        // so and keeping its file, until space returns.)
        let freed = false;
        let b: EventStorage;
        try {
          b = open(type, root);
        } catch (e) {
          expect(type).toBe("sqlite");
          expect(String(e)).toMatch(/cannot open \S+data\.db .*the disk is full/);
          rmSync(join(root, "filler"));
          freed = true;
          b = open(type, root);
        }
        try {
          expect(readdirSync(join(root, "data")).filter((n) => n.includes("unreadable"))).toEqual([]);
          const found = drain(b, 500, false);
          expect(found.length).toBeGreaterThanOrEqual(filled.confirmed);
          expect(found.length).toBeLessThanOrEqual(filled.accepted);
          expect(found).toEqual(records(0, found.length));
          // Space returns: new records follow the old ones, and all of them are delivered.
          if (!freed) rmSync(join(root, "filler"));
          expect(b.put(records(found.length, 30))).toBe("stored");
          await within(b.whenDurable(), WAIT_MS, "records put after reopening");
          b.rewind();
          expect(drain(b, 500)).toEqual(records(0, found.length + 30));
        } finally {
          await b.close();
        }
      });
    }, 60_000);
  }

  test("file: acknowledged files are deleted while the disk is full, and the held records are written in the space they free", async () => {
    await withTmpfs(FS_KIB, async (root) => {
      const { log, records: logs, stop, waitFor } = capturingLogger();
      // Small files, so acknowledging the stored records frees whole files.
      const s = open("file", root, log, { max_records_per_file: 50 });
      try {
        const { accepted, confirmed, pending } = await fillDisk("file", s, root, waitFor((r) => r.level === "ERROR"));
        const files = dataFiles(join(root, "data")).length;
        expect(files).toBeGreaterThan(3);
        // The platform takes the records that are on disk; nobody else frees any space.
        const sent = s.next(confirmed)!;
        expect(sent.records).toEqual(records(0, confirmed));
        s.ack(sent);
        await within(pending, WAIT_MS, "held records written in the space the acknowledged files freed");
        expect(dataFiles(join(root, "data")).length).toBeLessThan(files);
        expect(logs.filter((r) => /writing works again/.test(r.message)).length).toBe(1);
        expect(drain(s, 500)).toEqual(records(confirmed, accepted - confirmed));
        expect(s.depth()).toBe(0);
      } finally {
        await s.close();
        stop();
      }
    });
  }, 30_000);
});
