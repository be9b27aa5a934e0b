// The compiled binary on a machine without unixODBC: libodbc.so.2 is hidden (an empty file bound
// over it in a private mount namespace), so loading the embedded binding fails. The ODBC connector
// says what is missing and which Debian package gives it; the gateway itself starts and connects.

import { beforeAll, expect, test } from "bun:test";
import { existsSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import { canHideNodeModules } from "../../../test/support/binary.ts";
import { gatewayBinary, mainConfig, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { startProcess } from "../../../test/support/process.ts";

const LIBODBC = ["/usr/lib/x86_64-linux-gnu/libodbc.so.2", "/usr/lib/aarch64-linux-gnu/libodbc.so.2"].find((p) => existsSync(p));

const platform = platformForFile();
beforeAll(() => {
  gatewayBinary();
}, 600_000);

test.skipIf(!canHideNodeModules || !LIBODBC)("without libodbc.so.2 the ODBC connector names the missing library and its package; the gateway runs", async () => {
  const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "odbc", name: "Database", configuration: "odbc.json" }]), {
    "odbc.json": { connection: { str: "Driver={SQLite3};Database=/nonexistent.db;" }, polling: { query: "SELECT id FROM t WHERE id > ?", iterator: { column: "id", value: 0 } }, mapping: { device: { name: "'x'" }, timeseries: "*" } },
  });
  const bin = gatewayBinary();
  const hide = realpathSync(LIBODBC!);
  const script = `mount --bind /dev/null '${hide}' && exec '${bin.path}' run --config '${files.configPath}'`;
  const gw = await startProcess("unshare", ["-m", "sh", "-c", script], { cwd: dirname(files.configPath), ready: /gateway started/, timeoutMs: 60_000, env: { TB_GW_LOG_LEVEL: "INFO" } });
  try {
    expect(gw.output()).toContain("connector Database not started: the system's ODBC library libodbc.so.2 (unixODBC) could not be loaded: install Debian package unixodbc (or just libodbc2)");
    expect(gw.output()).toContain("0/1 connectors running");
    // the rest of the gateway works: it talks to the platform
    await platform.harness.waitFor((h) => h.received.find((r) => r.topic.startsWith("v1/devices/me/rpc/request/") && r.body.method === "getSessionLimits"), 30_000, "the gateway on the platform");
  } finally {
    await gw.stop();
  }
}, 120_000);
