// `tb-gw new connector NAME` from the compiled binary: the skeleton's own test passes when run by the
// binary itself (BUN_BE_BUN=1, no node_modules), and a gateway run from the binary on the config
// folder it completed sends the skeleton's data and answers its RPC. `schema --types` prints the
// types file shipped in config-templates/extensions/.

import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayBinary, mainConfig, ROOT, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { deviceRpcReply, platformForFile } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";

const platform = platformForFile();
beforeAll(() => {
  gatewayBinary();
}, 240_000);

function binary(args: string[], cwd: string, env: Record<string, string> = {}) {
  const [cmd, argv] = gatewayBinary().command(args);
  return spawnSync(cmd, argv, { cwd, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
}

test("new connector: skeleton written, its test passes under the binary, the gateway runs it", async () => {
  const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, []));
  const made = binary(["new", "connector", "thermo-probe", "--dir", files.dir], files.dir);
  expect(made.stderr).toBe("");
  expect(made.status).toBe(0);
  expect(made.stdout).toContain(`added connector "thermo-probe connector" to ${files.configPath}`);
  expect(existsSync(join(files.dir, "extensions", "thermo-probe", "thermo_probe_connector.ts"))).toBe(true);
  expect(JSON.parse(readFileSync(files.configPath, "utf8")).connectors).toEqual([
    { type: "thermo-probe", class: "ThermoProbeConnector", name: "thermo-probe connector", configuration: "thermo-probe.json" },
  ]);
  // a second run refuses to overwrite
  expect(binary(["new", "connector", "thermo-probe", "--dir", files.dir], files.dir).status).not.toBe(0);

  const tested = binary(["test", "./extensions/thermo-probe/thermo_probe_connector.test.ts"], files.dir, { BUN_BE_BUN: "1" });
  expect(`${tested.stdout}${tested.stderr}`).toMatch(/2 pass\s+0 fail/);
  expect(tested.status).toBe(0);

  let gw: Started | undefined;
  try {
    gw = await startGatewayFrom("binary", files.configPath, { timeoutMs: 60_000 });
    const device = "thermo-probe device";
    await platform.harness.waitFor((h) => h.telemetry().find((t) => t.device === device && t.key === "counter"), 20_000, "the skeleton's counter");
    await platform.harness.sendDeviceRpc(device, 90, "ping", {});
    expect((await platform.harness.waitFor((h) => deviceRpcReply(h, 90), 20_000, "ping reply")).body.data).toEqual({ pong: true, device });
  } finally {
    await gw?.stop();
  }
}, 120_000);

test("new connector refuses a built-in type or a bad name; schema --types prints the shipped types file", () => {
  const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, []));
  const builtIn = binary(["new", "connector", "modbus", "--dir", files.dir], files.dir);
  expect(builtIn.status).toBe(2);
  expect(builtIn.stderr).toContain('"modbus" is a built-in connector type');
  expect(binary(["new", "connector", "My Sensor", "--dir", files.dir], files.dir).status).toBe(2);
  const types = binary(["schema", "--types"], files.dir);
  expect(types.status).toBe(0);
  expect(types.stdout).toBe(readFileSync(join(ROOT, "config-templates", "extensions", "tb-gw-extension.d.ts"), "utf8"));
}, 60_000);
