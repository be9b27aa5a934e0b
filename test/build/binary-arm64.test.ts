// The linux-arm64 executable (what a Raspberry Pi runs), under qemu-user on this x64 machine and
// natively on an arm64 one: the checks the x64 binary gets (version, validate, the demo) and the
// MQTT path end to end — device broker → gateway → platform broker — with a restart on sqlite
// storage that must deliver what was stored while the platform was away. node_modules is hidden
// as for the x64 binary, so everything comes from the executable: embedded files, connectors
// loaded lazily from their chunks. Emulated start-up takes seconds, not ~100 ms: the bounds on a
// hang are generous, every wait is on an event.

import { Database } from "bun:sqlite";
import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { odbcAddonPath } from "../../build/odbc-addon.ts";
import { elfMachineOf, TARGETS } from "../../build/targets.ts";
import { firstOccurrences, sensorConnector, seqByDevice, startWorld, type World } from "../gateway/fixtures.ts";
import { arm64Binary, startArm64Gateway, type Arm64Binary } from "../support/binary-arm64.ts";
import { mainConfig, ROOT, writeGatewayConfig } from "../support/gateway.ts";
import { startProcess, type Started } from "../support/process.ts";

const SAMPLES = join(ROOT, "../shared/reference/python-gateway-configs");
let bin: Arm64Binary;
const runSync = (args: string[]) => {
  const [cmd, argv] = bin.command(args);
  return spawnSync(cmd, argv, { cwd: bin.dir, encoding: "utf8", timeout: 60000 });
};

beforeAll(() => {
  bin = arm64Binary();
}, 180000);

test("--version names linux-arm64, and the file is an AArch64 executable", () => {
  expect(elfMachineOf(bin.path)).toBe(TARGETS["linux-arm64"].elfMachine);
  const r = runSync(["--version"]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  expect(r.stdout.trim()).toBe(`${pkg.version} (linux-arm64)`);
});

test("validate: the upstream main config with every registered connector's sample (each connector loaded from its chunk); ODBC's sample too, or that ODBC is not in this build", () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-arm64-validate-"));
  const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
  const samples: Array<[string, string]> = [["mqtt", "mqtt.json"], ["modbus", "modbus.json"], ["modbus", "modbus_serial.json"], ["opcua", "opcua.json"], ["bacnet", "bacnet.json"], ["snmp", "snmp.json"], ["ble", "ble.json"]];
  main.connectors = samples.map(([type, file]) => ({ name: `${file} sample`, type, configuration: join(SAMPLES, file) }));
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  const r = runSync(["validate", join(dir, "tb_gateway.json")]);
  // upstream's samples share device names on purpose: warnings, never errors
  expect(r.stdout + r.stderr).toContain(`${join(dir, "tb_gateway.json")} and 7 connector configs: valid`);
  expect(r.status).toBe(0);

  main.connectors = [{ name: "Database", type: "odbc", configuration: join(SAMPLES, "odbc.json") }];
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  const odbc = runSync(["validate", join(dir, "tb_gateway.json")]);
  // the build embeds the ODBC binding when the cross toolchain was there (build/odbc-addon.ts)
  if (existsSync(join(ROOT, odbcAddonPath("linux-arm64", ".")))) {
    expect(odbc.stdout + odbc.stderr).toContain("and 1 connector config: valid");
    expect(odbc.status).toBe(0);
  } else {
    expect(odbc.status).toBe(1);
    expect(odbc.stdout + odbc.stderr).toContain('error: connector type "odbc": ODBC is not available in this build of tb-gw');
  }
}, 60000);

test("run --demo delivers telemetry from the arm64 binary", async () => {
  const [cmd, args] = bin.command(["run", "--demo", "--demo-port", "0"]);
  const gw = await startProcess(cmd, args, {
    cwd: bin.dir,
    ready: /demo platform received [1-9]\d* datapoints/,
    timeoutMs: 60000,
    env: { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "tbgw-state-")), XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), "tbgw-run-")) },
  });
  const exited = new Promise<number | null>((r) => gw.proc.once("exit", (code) => r(code)));
  await gw.stop("SIGTERM");
  expect(await exited).toBe(0);
}, 90000);

/** Publish a warm-up message until the platform has it: the connector is subscribed and the platform connected. */
async function warmUp(world: World): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await world.deviceClient.publishAsync("sensors/warm-up", JSON.stringify({ seq: 0 }), { qos: 1 });
    try {
      await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === "warm-up"), 300, "warm-up telemetry");
      return;
    } catch {
      // not subscribed or not connected yet
    }
  }
  throw new Error("the arm64 gateway never delivered the warm-up message");
}

const DEVICES = 5;
const PER_PHASE = 40;

/** Publish seq from..to for every device (QoS 1; the device broker has acknowledged each on return). */
async function publish(world: World, from: number, to: number): Promise<void> {
  for (let s = from; s <= to; s++) {
    for (let d = 0; d < DEVICES; d++) await world.deviceClient.publishAsync(`sensors/arm-${d}`, JSON.stringify({ seq: s, temperature: 20 + d, k1: s, k2: d, k3: 1, k4: 2 }), { qos: 1 });
  }
}

/** Every device's seqs 1..last have reached the platform (first occurrences; resends may repeat). */
const deliveredUpTo = (last: number) => (h: World["harness"]) => {
  const seqs = seqByDevice(h);
  for (let d = 0; d < DEVICES; d++) if (new Set(seqs.get(`arm-${d}`) ?? []).size < last) return false;
  return true;
};

/** seqs per device found in the sqlite storage's database (the records as the gateway stored them). */
function storedSeqs(db: string): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  if (!existsSync(db)) return out;
  const conn = new Database(db, { readonly: true });
  try {
    for (const { message } of conn.query<{ message: string }, []>("SELECT message FROM messages").all()) {
      const rec = JSON.parse(message) as { deviceName?: string; telemetry?: Array<{ values?: { seq?: number } }> };
      for (const t of rec.telemetry ?? []) {
        if (rec.deviceName === undefined || t.values?.seq === undefined) continue;
        let s = out.get(rec.deviceName);
        if (!s) out.set(rec.deviceName, (s = new Set()));
        s.add(t.values.seq);
      }
    }
  } catch {
    // the schema is created on first start; a busy moment is retried on the next change
  } finally {
    conn.close();
  }
  return out;
}

/** Resolves once the database holds seqs from..to of every device; checked on each change of the folder. */
function waitStored(folder: string, from: number, to: number, gw: Started, limitMs: number): Promise<void> {
  const complete = () => {
    const stored = storedSeqs(join(folder, "data.db"));
    for (let d = 0; d < DEVICES; d++) for (let s = from; s <= to; s++) if (!stored.get(`arm-${d}`)?.has(s)) return false;
    return true;
  };
  return new Promise((resolve, reject) => {
    const watcher = watch(folder, () => {
      if (complete()) done(resolve);
    });
    const timer = setTimeout(() => done(() => reject(new Error(`seqs ${from}..${to} not all in sqlite within ${limitMs / 1000} s:\n${gw.output().slice(-3000)}`))), limitMs);
    const done = (then: () => void) => {
      clearTimeout(timer);
      watcher.close();
      then();
    };
    if (complete()) done(resolve);
  });
}

test("MQTT end to end from the arm64 binary: live delivery, then the platform down, the gateway restarted on sqlite storage, and everything stored meanwhile delivered in order", async () => {
  const world = await startWorld({ persistent: true });
  let gw: Started | undefined;
  try {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-arm64-e2e-"));
    const connector = sensorConnector(world.device.port, { broker: { clientId: "tbgw-arm64-e2e", cleanSession: false } });
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "sqlite", data_file_path: "./data/" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": connector }, dir);
    const env = { XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), "tbgw-run-")) };
    gw = await startArm64Gateway(bin, files.configPath, env);
    await warmUp(world);

    // live: device → gateway → platform
    await publish(world, 1, PER_PHASE);
    await world.harness.waitFor(deliveredUpTo(PER_PHASE), 60000, `seq 1..${PER_PHASE} of ${DEVICES} devices, live`);

    // the platform goes away; what devices send now can only wait in sqlite
    await world.platform.stop();
    await publish(world, PER_PHASE + 1, 2 * PER_PHASE);
    await waitStored(join(dir, "data"), PER_PHASE + 1, 2 * PER_PHASE, gw, 60000);
    const exited = new Promise<number | null>((r) => gw!.proc.once("exit", (code) => r(code)));
    await gw.stop("SIGTERM");
    expect(await exited).toBe(0);

    // back: platform first, then the gateway on the same database
    await world.platform.start();
    gw = await startArm64Gateway(bin, files.configPath, env);
    await world.harness.waitFor(deliveredUpTo(2 * PER_PHASE), 60000, `seq ${PER_PHASE + 1}..${2 * PER_PHASE} from sqlite after the restart`);
    for (const [device, seqs] of seqByDevice(world.harness)) {
      if (device === "warm-up") continue;
      const first = firstOccurrences(seqs);
      expect(first, device).toEqual(Array.from({ length: 2 * PER_PHASE }, (_, i) => i + 1));
    }
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 240000);
