// The adapter-less paths for real: no system D-Bus at all, and a real dbus-daemon without
// bluetoothd. `tb-gw scan ble` and the connector's start must say what is missing and fail; a
// gateway (from source and from the compiled binary) with the upstream ble.json says it once and
// runs on without the connector.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { FROM_BOTH, gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForEachTest } from "../../../test/support/platform.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { sample, upstreamMain } from "../../../test/support/upstream.ts";
import { BleUnavailableError } from "./bluez.ts";
import { BleConnector } from "./connector.ts";
import { BleConfigSchema } from "./schema.ts";

const root = join(import.meta.dir, "../../..");
const bun = join(root, "node_modules/.bin/bun");
let dir: string;
let bus: Started;
let busAddress: string;

beforeAll(async () => {
  gatewayBinary();
  dir = mkdtempSync(join(tmpdir(), "tbgw-dbus-"));
  // A private D-Bus daemon stands in for the system bus: real D-Bus, but no org.bluez on it.
  bus = await startProcess("dbus-daemon", ["--session", "--nofork", "--print-address", `--address=unix:path=${join(dir, "bus")}`], { ready: /unix:path=/ });
  busAddress = /unix:path=[^\s]+/.exec(bus.output())![0];
}, 240000);
afterAll(async () => {
  await bus?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function scanBle(env: Record<string, string>) {
  return spawnSync(bun, ["cli/main.ts", "scan", "ble", "--timeout", "1"], { cwd: root, encoding: "utf8", env: { ...process.env, ...env }, timeout: 20000 });
}

async function startConnector(address: string): Promise<unknown> {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = address;
  const c = new BleConnector(BleConfigSchema.parse({ devices: [] }), recordingContext({ type: "ble" }));
  try {
    await c.start();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    await c.stop();
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
}

describe("BLE without an adapter", () => {
  test("scan: no system bus socket → clear message, exit 1, nothing on stdout", () => {
    const r = scanBle({ DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, "missing")}` });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`the system D-Bus socket ${join(dir, "missing")} does not exist`);
  }, 20000);

  test("scan: D-Bus up but no bluetoothd → clear message, exit 1", () => {
    const r = scanBle({ DBUS_SYSTEM_BUS_ADDRESS: busAddress });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("bluetoothd (BlueZ) is not running");
  }, 20000);

  test("scan: bad --timeout is a usage error (exit 2)", () => {
    const r = spawnSync(bun, ["cli/main.ts", "scan", "ble", "--timeout", "soon"], { cwd: root, encoding: "utf8", timeout: 20000 });
    expect(r.status).toBe(2);
  }, 20000);

  test("connector start rejects with the same explanation in both cases", async () => {
    const noBus = await startConnector(`unix:path=${join(dir, "missing")}`);
    expect(noBus).toBeInstanceOf(BleUnavailableError);
    expect((noBus as Error).message).toContain("does not exist");
    const noBluez = await startConnector(busAddress);
    expect(noBluez).toBeInstanceOf(BleUnavailableError);
    expect((noBluez as Error).message).toContain("bluetoothd (BlueZ) is not running");
  }, 20000);
});

describe("BLE without an adapter in the running gateway", () => {
  const platform = platformForEachTest();
  const cases = [
    { what: "no system bus socket", bus: () => `unix:path=${join(dir, "missing")}`, says: () => `the system D-Bus socket ${join(dir, "missing")} does not exist` },
    { what: "no bluetoothd", bus: () => busAddress, says: () => "bluetoothd (BlueZ) is not running" },
  ];
  for (const from of FROM_BOTH)
    for (const c of cases)
      test(`upstream ble.json (${from}, ${c.what}): one clear error, the gateway runs on and stops cleanly`, async () => {
        let gw: Started | undefined;
        try {
          const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "ble", name: "BLE Connector", configuration: "ble.json" }]), { "ble.json": sample("ble.json") });
          gw = await startGatewayFrom(from, files.configPath, { env: { DBUS_SYSTEM_BUS_ADDRESS: c.bus() } });
          // the gateway is up without the connector and serves the platform
          await platform.harness.waitFor((h) => h.received.some((r) => r.topic === "v1/devices/me/attributes" && r.body.active_connectors), 15000, "the gateway's configuration attributes");
          const out = gw.output();
          expect(out).toContain("gateway started");
          expect(out).toContain("0/1 connectors running");
          const errors = out.split("\n").filter((l) => l.includes("BLE Connector not started"));
          expect(errors.length).toBe(1);
          expect(errors[0]).toContain(c.says());
          const exited = new Promise<number | null>((r) => gw!.proc.once("exit", (code) => r(code)));
          expect(gw.proc.exitCode).toBeNull();
          gw.proc.kill("SIGTERM");
          expect(await exited).toBe(0);
        } finally {
          await gw?.stop();
        }
      }, 30000);
});
