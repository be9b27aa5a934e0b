// `tb-gw run --check` as a user runs it, from source and from the compiled binary, on a copy of the
// upstream samples (one connector of each type): the config is checked as `run` checks it, every
// connector is built without being started (nothing connects: the samples' brokers and servers
// point at a listener here that must see no connection), nothing is written, one line per
// connector, exit 0 when all is well and 1 with file:line:col when not.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { knownConnectorTypes } from "../../src/connectors/index.ts";
import { BUN, CLI, FROM_BOTH, gatewayBinary, type GatewayFrom } from "../support/gateway.ts";
import { SAMPLES } from "../support/paths.ts";
import { freePort } from "../support/ports.ts";
import { writeSampleExtensions } from "../support/sample-extensions.ts";

let listener: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  port = await freePort();
  listener = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => listener.listen(port, "127.0.0.1", r));
});
afterAll(() => listener?.close());

/** A folder with the samples of every registered type (modbus twice: TCP and serial), pointed at the listener. */
function samplesCopy(): { dir: string; main: string } {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-runcheck-"));
  const names = knownConnectorTypes().flatMap((t) => (t === "modbus" ? [t, "modbus_serial"] : [t])).filter((n) => existsSync(join(SAMPLES, `${n}.json`)));
  for (const n of names) copyFileSync(join(SAMPLES, `${n}.json`), join(dir, `${n}.json`));
  const edit = (file: string, change: (c: any) => void) => {
    const c = JSON.parse(readFileSync(join(dir, file), "utf8"));
    change(c);
    writeFileSync(join(dir, file), JSON.stringify(c, null, 2));
  };
  edit("mqtt.json", (c) => (c.broker.port = port));
  edit("request.json", (c) => (c.host = `http://127.0.0.1:${port}`));
  edit("opcua.json", (c) => (c.server.url = `opc.tcp://127.0.0.1:${port}`));
  edit("xmpp.json", (c) => Object.assign(c.server, { host: "127.0.0.1", port }));
  edit("modbus.json", (c) => Object.assign(c.master.slaves[0], { host: "127.0.0.1", port }));
  const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
  main.thingsboard.host = "127.0.0.1";
  main.thingsboard.port = port;
  main.connectors = names.map((n) => ({ name: `sample ${n}`, type: n.replace("_serial", ""), configuration: `${n}.json` }));
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  return { dir, main: join(dir, "tb_gateway.json") };
}

function runCheck(from: GatewayFrom, main: string, cwd: string): Promise<{ code: number; out: string; err: string }> {
  return tbgw(from, ["run", "--check", "--config", main], cwd);
}

async function tbgw(from: GatewayFrom, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const [cmd, argv] = from === "binary" ? gatewayBinary().command(args) : [BUN, [CLI, ...args]];
  const p = Bun.spawn([cmd, ...argv], { cwd, env: { ...process.env, NO_COLOR: "1", TB_GW_LOG_LEVEL: "INFO", ...env }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill(), 60_000);
  try {
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  } finally {
    clearTimeout(timer);
    p.kill();
  }
}

/** Every file and folder under `dir` with its content, to show that the check wrote nothing. */
const snapshot = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true })
      .map(String)
      .sort()
      .map((f) => [f, statSync(join(dir, f)).isDirectory() ? "<folder>" : readFileSync(join(dir, f), "utf8")]),
  );

describe.each(FROM_BOTH)("tb-gw run --check (%s)", (from) => {
  beforeAll(() => {
    if (from === "binary") gatewayBinary(); // the build takes long: not on a test's clock
  }, 300_000);

  test("upstream samples: every connector built, none started; the custom converter classes the samples name are missing → exit 1 naming them with file:line:col; then present → exit 0", async () => {
    const { dir, main } = samplesCopy();
    try {
      const before = snapshot(dir);
      const bad = await runCheck(from, main, dir);
      expect(bad.code).toBe(1);
      const types = knownConnectorTypes().filter((t) => existsSync(join(SAMPLES, `${t}.json`)));
      for (const t of types) expect(bad.out).toMatch(new RegExp(`^  (ok    |ERRORS) sample ${t} \\(${t}\\)`, "m"));
      for (const t of ["mqtt", "request", "rest", "snmp"]) expect(bad.out).toMatch(new RegExp(`^  ERRORS sample ${t} \\(${t}\\): built, with 1 error`, "m"));
      // placed at the mapping entry the message names (mapping[3] of the sample), not at the file's start
      const mqttLine = readFileSync(join(dir, "mqtt.json"), "utf8").split("\n").findIndex((l) => l.includes('"topicFilter": "custom/sensors/+"'));
      const at = new RegExp(`^${join(dir, "mqtt.json")}:(\\d+):\\d+: error: connector "sample mqtt" \\(mqtt\\): mapping\\[3\\] \\(custom/sensors/\\+\\) skipped: custom converter CustomMqttUplinkConverter: folder .*extensions/mqtt does not exist`, "m").exec(bad.err);
      expect(at).not.toBeNull();
      expect(Number(at![1])).toBe(mqttLine); // the entry's "{" is the line before its topicFilter (1-based = index)
      expect(bad.err).toContain("tb-gw: 4 problems building the connectors");
      // nothing written: no connector ids, no state folders
      expect(snapshot(dir)).toEqual(before);

      writeSampleExtensions(dir);
      const good = await runCheck(from, main, dir);
      expect(good.err).not.toContain("error:");
      expect(good.code).toBe(0);
      expect(good.out.match(/^  ok     /gm)?.length).toBe(types.length + 1); // modbus twice
      expect(good.out).toContain("tb-gw: all is well");
      // built, never started: no connector connected to the brokers and servers the samples name
      expect(connections).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test("a config error is refused before any connector is built: exit 1 with file:line:col", async () => {
    const { dir, main } = samplesCopy();
    try {
      const text = readFileSync(join(dir, "modbus.json"), "utf8").replace('"unitId": 1', '"unitId": "one"');
      writeFileSync(join(dir, "modbus.json"), text);
      const r = await runCheck(from, main, dir);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`^${join(dir, "modbus.json")}:\\d+:\\d+: error: `, "m"));
      expect(r.err).toContain("tb-gw: the config has errors; `run` would start nothing");
      expect(r.out).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test("run and run --check start alike: an invalid instance id (flag or TB_GW_INSTANCE) is exit 2 with the same message; a config error is exit 1 naming what was not started", async () => {
    const { dir, main } = samplesCopy();
    try {
      for (const [args, env, says] of [
        [["--instance", "a/b"], {}, '--instance "a/b" is not a valid instance id'],
        [[], { TB_GW_INSTANCE: "../x" }, 'TB_GW_INSTANCE "../x" is not a valid instance id'],
      ] as const) {
        const check = await tbgw(from, ["run", "--check", "--config", main, ...args], dir, env);
        const run = await tbgw(from, ["run", "--config", main, ...args], dir, env);
        for (const r of [check, run]) {
          expect(r.code).toBe(2);
          expect(r.err).toContain(`tb-gw: ${says}`);
        }
        expect(run.err).toBe(check.err);
      }
      writeFileSync(join(dir, "modbus.json"), readFileSync(join(dir, "modbus.json"), "utf8").replace('"unitId": 1', '"unitId": "one"'));
      const run = await tbgw(from, ["run", "--config", main], dir);
      expect(run.code).toBe(1);
      expect(run.err).toMatch(new RegExp(`^${join(dir, "modbus.json")}:\\d+:\\d+: error: `, "m"));
      expect(run.err).toContain("tb-gw: the config has errors; nothing was started");
      expect(connections).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test("what start() builds before its first I/O is checked with start()'s own functions: a Request downlink class; SNMP's built-in downlink converter named, and a class with only convertDownlink; REST's TLS key file missing; a BLE device's extension class; a CAN device's and a Modbus slave's downlink class; an OPC-UA device node id that does not parse and an OPC-UA mapping's and a BACnet device's uplink converter class (built per device once connected: looked up); an ODBC row converter class; FTP's saved read positions unreadable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-runcheck-prepare-"));
    try {
      const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
      Object.assign(main.thingsboard, { host: "127.0.0.1", port });
      main.connectors = [
        { name: "req", type: "request", configuration: "request.json" },
        { name: "snmp", type: "snmp", configuration: "snmp.json" },
        { name: "rest", type: "rest", configuration: "rest.json" },
        { name: "ble", type: "ble", configuration: "ble.json" },
        { name: "can", type: "can", configuration: "can.json" },
        { name: "ua", type: "opcua", configuration: "opcua.json" },
        { name: "db", type: "odbc", configuration: "odbc.json" },
        { name: "files", type: "ftp", configuration: "ftp.json" },
        { name: "mb", type: "modbus", configuration: "modbus.json" },
        { name: "bac", type: "bacnet", configuration: "bacnet.json" },
      ];
      writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
      const rule = { deviceNameFilter: ".*", requestUrlExpression: "dev", httpMethod: "POST" };
      const request = {
        host: `http://127.0.0.1:${port}`,
        mapping: [{ url: "status", httpMethod: "GET", converter: { type: "json", deviceNameJsonExpression: "d", attributes: [], telemetry: [] } }],
        attributeUpdates: [],
        serverSideRpc: [{ ...rule, methodFilter: "spin", converter: "NoSuchDownlinkConverter" }],
      };
      writeFileSync(join(dir, "request.json"), JSON.stringify(request, null, 2));
      // start() skips the built-in downlink name and loads a downlink-only class for SETs only
      const agent = (deviceName: string, converter: string) => ({ deviceName, ip: "127.0.0.1", port, community: "public", converter, telemetry: [{ key: "d", method: "get", oid: "1.3.6.1.2.1.1.1.0" }] });
      writeFileSync(join(dir, "snmp.json"), JSON.stringify({ devices: [agent("a", "SNMPDownlinkConverter"), agent("b", "SetOnly")] }, null, 2));
      mkdirSync(join(dir, "extensions", "snmp"), { recursive: true });
      const endpoint = { endpoint: "/data", HTTPMethods: ["POST"], converter: { type: "json", deviceInfo: { deviceNameExpressionSource: "request", deviceNameExpression: "${name}" }, attributes: [], timeseries: [] } };
      writeFileSync(join(dir, "rest.json"), JSON.stringify({ server: { host: "127.0.0.1", port, SSL: true, security: { cert: "cert.pem", key: "key.pem" } }, mapping: [endpoint] }, null, 2));
      writeFileSync(join(dir, "cert.pem"), "not read further than the file\n");
      const key = { key: "t", method: "read", characteristicUUID: "226CAA55-6476-4566-7562-66734470666D", valueExpression: "[0]" };
      const frame = { key: "rpm", nodeId: 1918, value: "0:2:big:int" };
      writeFileSync(join(dir, "can.json"), JSON.stringify({ interface: "socketcan", channel: "vcan0", devices: [{ name: "Car", converters: { downlink: "NoSuchCanDownlink" }, timeseries: [frame] }] }, null, 2));
      const ua = JSON.parse(readFileSync(join(SAMPLES, "opcua.json"), "utf8"));
      ua.server.url = `opc.tcp://127.0.0.1:${port}`;
      ua.mapping = [{ ...ua.mapping[0], deviceNodeSource: "identifier", deviceNodePattern: "not a node id" }, { ...ua.mapping[0], converter: "NoSuchUaConverter" }];
      writeFileSync(join(dir, "opcua.json"), JSON.stringify(ua, null, 2));
      const bacnet = JSON.parse(readFileSync(join(SAMPLES, "bacnet.json"), "utf8"));
      bacnet.devices[0].uplinkConverter = "NoSuchBacnetConverter";
      writeFileSync(join(dir, "bacnet.json"), JSON.stringify(bacnet, null, 2));
      const odbc = JSON.parse(readFileSync(join(SAMPLES, "odbc.json"), "utf8"));
      writeFileSync(join(dir, "odbc.json"), JSON.stringify({ ...odbc, converter: "NoSuchRowConverter" }, null, 2));
      const ftp = JSON.parse(readFileSync(join(SAMPLES, "ftp.json"), "utf8"));
      Object.assign(ftp, { host: "127.0.0.1", port });
      writeFileSync(join(dir, "ftp.json"), JSON.stringify(ftp, null, 2));
      mkdirSync(join(dir, "ftp"));
      writeFileSync(join(dir, "ftp", "files.json"), "{ not the state file");
      const modbus = JSON.parse(readFileSync(join(SAMPLES, "modbus.json"), "utf8"));
      const slave = { ...modbus.master.slaves[0], host: "127.0.0.1", port, downlinkConverter: "NoSuchModbusDownlink" };
      writeFileSync(join(dir, "modbus.json"), JSON.stringify({ master: { slaves: [slave] } }, null, 2));
      writeFileSync(join(dir, "ble.json"), JSON.stringify({ devices: [{ name: "thermo", MACAddress: "4C:65:A8:DF:85:C0", extension: "NoSuchBleConverter", telemetry: [key] }] }, null, 2));
      writeFileSync(join(dir, "extensions", "snmp", "set-only.js"), "export class SetOnly {\n  convertDownlink(_config, data) { return data; }\n}\n");
      const r = await runCheck(from, join(dir, "tb_gateway.json"), dir);
      expect(r.out).toContain("  ERRORS req (request): built, with 1 error");
      expect(r.err).toMatch(/request\.json:\d+:\d+: error: connector "req" \(request\): serverSideRpc\[0\]: converter NoSuchDownlinkConverter not loaded: /);
      expect(r.out).toContain("  ok     snmp (snmp)");
      expect(r.out).toContain("  ERRORS ble (ble): built, with 1 error");
      expect(r.err).toMatch(/ble\.json:\d+:\d+: error: connector "ble" \(ble\): thermo \(4C:65:A8:DF:85:C0\): converter NoSuchBleConverter cannot be used \(/);
      expect(r.out).toContain("  ERRORS can (can): built, with 1 error");
      expect(r.err).toMatch(/can\.json:\d+:\d+: error: connector "can" \(can\): device "Car": downlink converter NoSuchCanDownlink cannot be used \(/);
      expect(r.out).toContain("  ERRORS mb (modbus): built, with 1 error");
      expect(r.err).toMatch(new RegExp(`modbus\\.json:\\d+:\\d+: error: connector "mb" \\(modbus\\): ${slave.deviceName}: downlink converter NoSuchModbusDownlink cannot be used \\(`));
      expect(r.out).toContain("  ERRORS ua (opcua): built, with 2 errors");
      expect(r.err).toContain('error: connector "ua" (opcua): mapping "not a node id": ');
      expect(r.err).toMatch(/opcua\.json:(?!1:1:)\d+:\d+: error: connector "ua" \(opcua\): mapping\[1\] \([^)]+\): converter NoSuchUaConverter cannot be used \(custom converter NoSuchUaConverter: folder .*extensions\/opcua does not exist; .*\); its data goes through the built-in converter/);
      expect(r.out).toContain("  ERRORS bac (bacnet): built, with 1 error");
      expect(r.err).toMatch(/bacnet\.json:\d+:\d+: error: connector "bac" \(bacnet\): devices\[0\] uplinkConverter: converter NoSuchBacnetConverter cannot be used \(custom converter NoSuchBacnetConverter: folder .*extensions\/bacnet does not exist; /);
      expect(r.out).toContain("  ERRORS db (odbc): built, with 1 error");
      expect(r.err).toContain('error: connector "db" (odbc): converter NoSuchRowConverter cannot be used (');
      expect(r.out).toContain("  ERRORS files (ftp): built, with 1 error");
      expect(r.err).toContain(`error: connector "files" (ftp): cannot read the saved read positions ${join(dir, "ftp", "files.json")} (`);
      expect(readFileSync(join(dir, "ftp", "files.json"), "utf8")).toBe("{ not the state file"); // read, never written
      expect(r.out).toMatch(/^  FAILED rest \(rest\): cannot read the server private key key\.pem: /m); // not in the config folder: left as written
      expect(r.code).toBe(1);
      expect(connections).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test('a gRPC connector with key "auto": built against a stand-in for the gRPC server (not started), its key not written', async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-runcheck-grpc-"));
    try {
      const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
      main.grpc = { enabled: true, serverPort: port };
      main.connectors = [{ name: "python side", type: "grpc", key: "auto", configuration: "grpc.json" }];
      writeFileSync(join(dir, "grpc.json"), JSON.stringify({ name: "python side" }));
      writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
      const before = snapshot(dir);
      const r = await runCheck(from, join(dir, "tb_gateway.json"), dir);
      expect(r.out).toContain("  ok     python side (grpc)");
      expect(r.code).toBe(0);
      expect(snapshot(dir)).toEqual(before); // no persistent_keys.json
      expect(connections).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

test("run --help teaches --check", async () => {
  const p = Bun.spawn([BUN, CLI, "run", "--help"], { stdout: "pipe" });
  const out = await new Response(p.stdout).text();
  expect(out).toContain("--check");
  expect(out).toContain("tb-gw run --check --config tb_gateway.json");
  expect(out).toMatch(/exit code 0\s+when run would start every connector cleanly, 1 otherwise/);
});
