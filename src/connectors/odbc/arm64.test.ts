// The linux-arm64 executable's ODBC connector, under qemu-user on this x64 machine (natively on an
// arm64 one): the binding cross-compiled by build/odbc-addon.ts, embedded, loaded with the arm64
// libodbc.so.2 and SQLite driver (Debian libodbc2:arm64, libsqliteodbc:arm64). Rows arrive once.
// Skipped, saying why, where the arm64 binary cannot run or that build has no ODBC (no cross
// toolchain on the build machine).

import { beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runnerFor } from "../../../build/targets.ts";
import { arm64Binary, startArm64Gateway, type Arm64Binary } from "../../../test/support/binary-arm64.ts";
import { mainConfig, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForEachTest } from "../../../test/support/platform.ts";
import { odbcInstDir, sqlite } from "./test/peers.ts";

const ARM64_SQLITE_DRIVER = "/usr/lib/aarch64-linux-gnu/odbc/libsqlite3odbc.so";
const canRun = runnerFor("linux-arm64").prefix !== undefined && existsSync(ARM64_SQLITE_DRIVER) && existsSync("/usr/lib/aarch64-linux-gnu/libodbc.so.2");
let bin: Arm64Binary | undefined;

beforeAll(() => {
  if (canRun) bin = arm64Binary("tbgw-odbc-arm64-");
}, 600_000);

const platform = platformForEachTest({ skip: !canRun });

test.skipIf(!canRun)("arm64 binary: rows from SQLite arrive once through the embedded arm64 binding", async () => {
  const db = join(mkdtempSync(join(tmpdir(), "tbgw-odbc-arm64-")), "a.db");
  sqlite(db, "CREATE TABLE r (id BIGINT, ts BIGINT, v REAL);");
  sqlite(db, "INSERT INTO r VALUES (?, ?, ?)", [
    [1, 1765000000001, 1.5],
    [2, 1765000000002, 2.5],
  ]);
  const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "odbc", name: "Arm DB", configuration: "odbc.json" }]), {
    "odbc.json": { connection: { str: `Driver={SQLite3};Database=${db};` }, polling: { query: "SELECT id, ts, v FROM r WHERE id > ? ORDER BY id", period: 1, iterator: { column: "id", value: 0 } }, mapping: { device: { name: "'arm ' + str(id % 1)" }, timeseries: [{ name: "v", column: "v" }] } },
  });
  const validate = bin!.command(["validate", files.configPath]);
  expect(Bun.spawnSync([validate[0], ...validate[1]]).exitCode).toBe(0);
  const gw = await startArm64Gateway(bin!, files.configPath, odbcInstDir("arm64"));
  try {
    const values = () => platform.harness.telemetry().filter((t) => t.device === "arm 0" && t.key === "v");
    await platform.harness.waitFor(() => values().length >= 2, 60_000, "the two rows");
    sqlite(db, "INSERT INTO r VALUES (?, ?, ?)", [[3, 1765000000003, 3.5]]);
    await platform.harness.waitFor(() => values().length >= 3, 60_000, "the row inserted while running");
    expect(values().map((t) => [t.ts, t.value])).toEqual([
      [1765000000001, 1.5],
      [1765000000002, 2.5],
      [1765000000003, 3.5],
    ]);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\ngateway output:\n${gw.output()}`);
  } finally {
    await gw.stop();
  }
}, 300_000);
