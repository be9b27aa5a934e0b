// Crash safety: a child process writes records and prints what whenDurable() confirmed; it is
// killed with SIGKILL mid-stream, and every confirmed record must be found again, in order.

import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "../../test/support/process.ts";
import { capturingLogger, drain, records, storageConfig } from "./contract-data.ts";
import { createStorage } from "./index.ts";

const BUN = join(import.meta.dir, "../../node_modules/.bin/bun");
const CHILD = join(import.meta.dir, "kill-child.ts");

for (const type of ["sqlite", "file"] as const) {
  test(
    `${type}: nothing whenDurable() confirmed is lost to kill -9`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), `tbgw-kill-${type}-`));
      try {
        // Ready once at least 10,000 records were confirmed; the child keeps writing after that.
        const child = await startProcess(BUN, [CHILD, type, dir], { ready: /durable \d{5,}\n/, timeoutMs: 30_000 });
        let confirmed = 0;
        try {
          const at = child.output().length;
          // Let it run on a little (event driven: until more confirmations were printed), then kill.
          await new Promise<void>((resolve) => {
            const check = () => (child.output().length > at + 2000 ? resolve() : undefined);
            child.proc.stdout!.on("data", check);
            check();
          });
        } finally {
          await child.stop("SIGKILL");
          for (const m of child.output().matchAll(/durable (\d+)\n/g)) confirmed = Math.max(confirmed, Number(m[1]));
        }
        expect(child.proc.signalCode).toBe("SIGKILL");
        expect(confirmed).toBeGreaterThanOrEqual(10_000);
        const cfg = storageConfig(type, dir, { max_records_per_file: 500, max_file_count: 100_000 });
        const s = createStorage(cfg, dir, capturingLogger().log);
        try {
          const found = drain(s, 5000);
          expect(found.length).toBeGreaterThanOrEqual(confirmed);
          // Everything confirmed, in order, and nothing but the child's sequence after it.
          expect(found.slice(0, confirmed)).toEqual(records(0, confirmed));
          expect(found).toEqual(records(0, found.length));
        } finally {
          await s.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
}
