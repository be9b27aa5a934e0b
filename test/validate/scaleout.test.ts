// `tb-gw validate` on several configs (paths, or one config as --instance 1,2,3) warns when two
// of them poll one device, at the second entry with the first one's place; configs split by
// device list (one connector file per instance) pass.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runValidate } from "../../src/config/validate-command.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-validate-scaleout-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const slave = (deviceName: string, host: string, unitId: number) => ({ deviceName, type: "tcp", host, port: 502, unitId, pollPeriod: 5000, timeseries: [{ tag: "t", type: "16int", functionCode: 3, objectsCount: 1, address: 0 }] });

function site(connectors: Array<{ name: string; type: string; configuration: string }>, files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(work, "site-"));
  const main = { thingsboard: { host: "127.0.0.1", port: 1883, security: { accessToken: "gw-${instance}" } }, storage: { type: "memory" }, connectors };
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), JSON.stringify(v, null, 2));
  return join(dir, "tb_gateway.json");
}

async function validate(paths: string[], instance: string): Promise<{ code: number; out: string }> {
  let out = "";
  const io = { out: (s: string) => void (out += `${s}\n`), err: (s: string) => void (out += `${s}\n`) };
  const code = await runValidate(paths, { instance }, io, { env: {} });
  return { code, out };
}

test("one config as instances 1,2 with one Modbus file for both: each slave polled twice is a warning with both places", async () => {
  const main = site([{ name: "PLCs", type: "modbus", configuration: "modbus.json" }], { "modbus.json": { master: { slaves: [slave("Boiler", "10.0.0.5", 1), slave("Pump", "10.0.0.6", 2)] } } });
  const r = await validate([main], "1,2");
  expect(r.code).toBe(0);
  const warnings = r.out.split("\n").filter((l) => l.includes("polls modbus"));
  expect(warnings).toHaveLength(2);
  expect(warnings[0]).toMatch(/modbus\.json:4:7: warning: connector "PLCs" polls modbus tcp 10\.0\.0\.5:502 unit 1, and so does connector "PLCs" of .*tb_gateway\.json \(instance 1\) \(.*modbus\.json:4:7\): run together, they read the device twice/);
  expect(r.out).toContain("tb_gateway.json (instance 2) and 1 connector config: valid (2 warnings)");
  expect(await validate([main], "1,2").then((x) => x.out)).toBe(r.out); // deterministic
});

test("split by device list (modbus-${instance}.json) passes; across two configs a repeated SNMP agent or OPC-UA node is a warning, different ones are not", async () => {
  const files = {
    "modbus-1.json": { master: { slaves: [slave("Boiler", "10.0.0.5", 1)] } },
    "modbus-2.json": { master: { slaves: [slave("Pump", "10.0.0.6", 2)] } },
  };
  const split = site([{ name: "PLCs", type: "modbus", configuration: "modbus-${instance}.json" }], files);
  const ok = await validate([split], "1,2");
  expect(ok.out).not.toContain("polls");
  expect(ok.code).toBe(0);

  const opcua = (node: string) => ({ server: { url: "opc.tcp://plc:4840" }, mapping: [{ deviceNodePattern: node, deviceInfo: { deviceNameExpression: "Dev", deviceProfileExpression: "d" }, timeseries: [] }] });
  const snmp = { devices: [{ deviceName: "Router", ip: "10.0.0.1", attributes: [], telemetry: [] }] };
  const a = site([{ name: "UA", type: "opcua", configuration: "ua.json" }, { name: "Agents", type: "snmp", configuration: "snmp.json" }], { "ua.json": opcua("Root\\.Objects\\.Boiler"), "snmp.json": snmp });
  const b = site([{ name: "UA", type: "opcua", configuration: "ua.json" }, { name: "Agents", type: "snmp", configuration: "snmp.json" }], { "ua.json": opcua("Root\\.Objects\\.Pump"), "snmp.json": snmp });
  const r = await validate([a, b], "1");
  const polls = r.out.split("\n").filter((l) => / polls /.test(l));
  expect(polls).toHaveLength(1);
  expect(polls[0]).toContain('connector "Agents" polls snmp 10.0.0.1:161, and so does connector "Agents" of');
  expect(r.code).toBe(0); // both configs valid: the OPC-UA files were read, their nodes differ
  const same = await validate([a, site([{ name: "UA2", type: "opcua", configuration: "ua.json" }], { "ua.json": opcua("Root\\.Objects\\.Boiler") })], "1");
  expect(same.out).toMatch(/connector "UA2" polls opcua opc\.tcp:\/\/plc:4840 node Root\\\.Objects\\\.Boiler, and so does connector "UA" of/);
});

test("what each polling connector names as its device", async () => {
  const { loadDescriptor } = await import("../../src/connectors/index.ts");
  const bacnet = await loadDescriptor("bacnet");
  expect(bacnet!.pollTargets!({ devices: [{ address: "192.168.1.20:47808", deviceId: 5 }, { host: "192.168.1.21" }] }).map((t) => t.target)).toEqual([
    "bacnet 192.168.1.20:47808 device 5",
    "bacnet 192.168.1.21:47808 device *",
  ]);
  const modbus = await loadDescriptor("modbus");
  expect(modbus!.pollTargets!({ master: { slaves: [{ type: "serial", port: "/dev/ttyUSB0", unitId: 3 }, { host: "h", port: 5020, unitIds: [1, 2] }] } }).map((t) => t.target)).toEqual([
    "modbus serial /dev/ttyUSB0 unit 3",
    "modbus tcp h:5020 unit 1",
    "modbus tcp h:5020 unit 2",
  ]);
});
