// A custom BLE converter (upstream's device `extension`, one class for both sources) from
// <config folder>/extensions/ble/. There is no Bluetooth adapter here, so, as recorded.test.ts, the
// data are payloads recorded from real devices (testdata/recorded.json) handed to the device's
// conversion, the path the connector's read, notification and advertisement loops take
// (conversion.ts); what is NOT tested is BlueZ delivering them. Checked: the class gets upstream's
// config and data shapes and its results (legacy dicts) get the device; a payload it throws on is
// dropped and logged once per source, then "works again"; a missing class is one error listing the
// folder's classes, and the built-in converters convert instead; upstream's built-in class names
// select those converters. Through the compiled binary (no BlueZ, as unavailable.test.ts): the
// upstream ble.json with `extension` passes validate, and `run` loads the class from the folder
// (a module loaded inside the executable), reports a missing one, then says BLE is unavailable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForEachTest } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { sample, upstreamMain } from "../../../test/support/upstream.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { manufacturerBytes } from "./connector.ts";
import { BleDeviceConversion, keysOf } from "./conversion.ts";
import { BleConfigSchema, type BleDevice } from "./schema.ts";

const rec = JSON.parse(readFileSync(new URL("./testdata/recorded.json", import.meta.url), "utf8"));
const md = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Buffer.from(v, "hex")]));
const MIJIA = "ebe0ccc1-7a0a-4b0c-8a1a-6ff2997da3a6";

// What a user would write: Xiaomi notifications (int16 LE 0.01 °C, humidity byte) and Govee H5075
// advertisements (3 bytes big-endian: bit 23 below zero, |T| × 10000 + H × 10, then battery).
const CONVERTER = `
export class SensorBleConverter {
  private readonly label: string;
  constructor(config: { deviceName: string; MACAddress: string }) { this.label = config.deviceName + "@" + config.MACAddress; }
  convert(config: { telemetry: Array<{ key: string }>; attributes: Array<{ key: string }> }, data: any) {
    if (Buffer.isBuffer(data)) {
      if (data.length < 5) throw new Error("advertisement too short: " + data.length + " bytes");
      const raw = data.readUIntBE(1, 3);
      const v = raw & 0x7fffff;
      return { telemetry: [{ temperature: (raw & 0x800000 ? -1 : 1) * v / 10000, humidity: (v % 1000) / 10, battery: data[4] }], attributes: [{ advertisementKeys: config.telemetry.map((k) => k.key).join(",") }] };
    }
    const values: Record<string, number> = {};
    for (const item of data.telemetry) {
      if (item.data.length < 3) throw new Error("notification too short: " + item.data.length + " bytes");
      values[item.key] = item.key === "temperature" ? item.data.readInt16LE(0) / 100 : item.data[2];
    }
    return { deviceName: this.label, telemetry: [values], attributes: [{ characteristicKeys: [...config.telemetry, ...config.attributes].map((k) => k.key).join(",") }] };
  }
}
`;

function device(over: Record<string, unknown>): BleDevice {
  return BleConfigSchema.parse({
    devices: [
      {
        name: "Sensor",
        MACAddress: "A4:C1:38:00:00:03",
        telemetry: [
          { key: "temperature", method: "notify", characteristicUUID: MIJIA, valueExpression: "[0:2]" },
          { key: "humidity", method: "notify", characteristicUUID: MIJIA, valueExpression: "[2:3]" },
          { key: "packed", dataSourceType: "advertisement", valueExpression: "[1:4]" },
        ],
        attributes: [{ key: "model", method: "read", characteristicUUID: "2A24" }],
        ...over,
      },
    ],
  }).devices[0]!;
}

/** The keys the connector groups on the notified characteristic. */
const notifyKeys = (d: BleDevice) => keysOf(d).filter((k) => k.key.characteristicUUID === MIJIA);

function extensionsFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-ble-ext-"));
  mkdirSync(join(dir, "extensions", "ble"), { recursive: true });
  writeFileSync(join(dir, "extensions", "ble", "sensor.ts"), CONVERTER);
  return dir;
}

test("extension names a .ts class in extensions/ble: recorded notifications and advertisements through it; its errors once per source", async () => {
  const ctx = recordingContext({ type: "ble", name: "BLE custom", configDir: extensionsFolder() });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("BLE custom") && logs.push(r));
  try {
    const d = device({ extension: "SensorBleConverter", deviceType: "thermo" });
    const keyErrors: string[] = [];
    const conv = await BleDeviceConversion.load(d, ctx, (k) => keyErrors.push(k));
    expect(conv.isCustom).toBe(true);

    // a recorded LYWSD03MMC notification: the class names the device itself
    const notified = await conv.characteristic([{ keys: notifyKeys(d), data: Buffer.from(rec.lywsd03mmcNotify.hex, "hex") }]);
    expect(notified).toEqual([
      {
        deviceName: "Sensor@A4:C1:38:00:00:03",
        deviceType: "default",
        attributes: { characteristicKeys: "temperature,humidity,model" },
        telemetry: [{ values: { temperature: rec.lywsd03mmcNotify.stated.temperature, humidity: rec.lywsd03mmcNotify.stated.humidity } }],
      },
    ]);

    // recorded Govee H5075 advertisements: no name from the class, so the device's
    for (const frame of rec.goveeH5075.frames) {
      const [out, ...more] = await conv.advertisement(manufacturerBytes(md(frame.manufacturerData)));
      expect(more).toEqual([]);
      expect(out!.deviceName).toBe("Sensor");
      expect(out!.deviceType).toBe("thermo");
      expect(out!.attributes).toEqual({ advertisementKeys: "packed" });
      const v = out!.telemetry![0]!.values;
      expect(Math.abs((v.temperature as number) - frame.stated.tempc)).toBeLessThan(0.1);
      expect(v.humidity as number).toBeCloseTo(frame.stated.hum, 6);
      expect(v.battery).toBe(frame.stated.batt);
    }

    // truncated payloads: dropped, one error per source however often they come, then recovery
    const shortAdv = manufacturerBytes(md({ "60552": "000418" }));
    expect(await conv.advertisement(shortAdv)).toEqual([]);
    expect(await conv.advertisement(shortAdv)).toEqual([]);
    expect(await conv.characteristic([{ keys: notifyKeys(d), data: Buffer.from("ad08", "hex") }])).toEqual([]);
    expect(await conv.characteristic([{ keys: notifyKeys(d), data: Buffer.from("ad08", "hex") }])).toEqual([]);
    expect(await conv.advertisement(manufacturerBytes(md(rec.goveeH5075.frames[0].manufacturerData)))).toHaveLength(1);
    expect(keyErrors).toEqual([]);
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toEqual([
      "Sensor (A4:C1:38:00:00:03) advertisement: custom converter SensorBleConverter failed: advertisement too short: 3 bytes; this message is dropped, the connector goes on (logged again only when the error changes)",
      "Sensor (A4:C1:38:00:00:03) characteristic: custom converter SensorBleConverter failed: notification too short: 2 bytes; this message is dropped, the connector goes on (logged again only when the error changes)",
    ]);
    expect(logs.some((l) => l.message === "Sensor (A4:C1:38:00:00:03) advertisement: custom converter SensorBleConverter works again")).toBe(true);
  } finally {
    off();
  }
});

test("a missing class is one error listing the folder's classes; the built-in converters convert instead", async () => {
  const ctx = recordingContext({ type: "ble", name: "BLE ghost", configDir: extensionsFolder() });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("BLE ghost") && logs.push(r));
  try {
    const d = device({ name: "Ghost", extension: "NoSuchBleConverter" });
    const conv = await BleDeviceConversion.load(d, ctx, () => {});
    expect(conv.isCustom).toBe(false);
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^Ghost \(A4:C1:38:00:00:03\): converter NoSuchBleConverter cannot be used \(custom converter class NoSuchBleConverter not found in .*extensions\/ble; the folder exports: SensorBleConverter \(sensor\.ts\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/,
    );
    // built-in: the advertisement through the hex converter, the notification through the bytes one
    const [adv] = await conv.advertisement(manufacturerBytes(md(rec.goveeH5075.frames[0].manufacturerData)));
    expect(adv!.telemetry![0]!.values).toEqual({ packed: 0x0418ee });
    const [note] = await conv.characteristic([{ keys: notifyKeys(d), data: Buffer.from(rec.lywsd03mmcNotify.hex, "hex") }]);
    expect(note!.telemetry![0]!.values).toEqual({ temperature: "1738", humidity: "49" });
  } finally {
    off();
  }
});

test("extension naming upstream's built-in classes selects that converter for both sources", async () => {
  const ctx = recordingContext({ type: "ble", configDir: mkdtempSync(join(tmpdir(), "tbgw-ble-none-")) });
  const hex = await BleDeviceConversion.load(device({ extension: "HexBytesBLEUplinkConverter" }), ctx, () => {});
  const [note] = await hex.characteristic([{ keys: notifyKeys(device({})), data: Buffer.from(rec.lywsd03mmcNotify.hex, "hex") }]);
  expect(note!.telemetry![0]!.values).toEqual({ temperature: 0xad08, humidity: 0x31 });
  const bytes = await BleDeviceConversion.load(device({ extension: "BytesBLEUplinkConverter" }), ctx, () => {});
  const [adv] = await bytes.advertisement(manufacturerBytes(md(rec.goveeH5075.frames[0].manufacturerData)));
  expect(adv!.telemetry![0]!.values).toEqual({ packed: "424238" }); // 04 18 ee as decimal bytes
});

describe("through the compiled binary", () => {
  const platform = platformForEachTest();
  let dir: string;
  let bus: Started;
  let busAddress: string;
  beforeAll(async () => {
    gatewayBinary();
    dir = mkdtempSync(join(tmpdir(), "tbgw-ble-dbus-"));
    // a real D-Bus daemon standing in for the system bus, without BlueZ on it (as unavailable.test.ts)
    bus = await startProcess("dbus-daemon", ["--session", "--nofork", "--print-address", `--address=unix:path=${join(dir, "bus")}`], { ready: /unix:path=/ });
    busAddress = /unix:path=[^\s]+/.exec(bus.output())![0];
  }, 240_000);
  afterAll(async () => {
    await bus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("compiled binary, upstream ble.json with extension: validate accepts it; run loads the class, names a missing one, then says BLE is unavailable", async () => {
    let gw: Started | undefined;
    try {
      const ble = sample("ble.json");
      ble.devices[0].extension = "SensorBleConverter";
      ble.devices.push({ ...ble.devices[0], name: "Ghost sensor", MACAddress: "4C:65:A8:DF:85:C1", extension: "NoSuchBleConverter" });
      const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "ble", name: "BLE Connector", configuration: "ble.json" }]), { "ble.json": ble });
      mkdirSync(join(files.dir, "extensions", "ble"), { recursive: true });
      writeFileSync(join(files.dir, "extensions", "ble", "sensor.ts"), CONVERTER);
      const [cmd, args] = gatewayBinary().command(["validate", files.configPath]);
      const v = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
      expect(v.stdout + v.stderr).toContain("and 1 connector config: valid");
      expect(v.status).toBe(0);

      gw = await startGatewayFrom("binary", files.configPath, { env: { DBUS_SYSTEM_BUS_ADDRESS: busAddress } });
      await waitUntil(() => gw!.output().includes("BLE Connector not started"), 30_000, "the connector's start failing without BlueZ");
      const out = gw.output();
      expect(out).toContain("Temperature and humidity sensor (4C:65:A8:DF:85:C0): data converted by the custom converter SensorBleConverter");
      const missing = out.split("\n").filter((l) => l.includes("NoSuchBleConverter"));
      expect(missing).toHaveLength(1);
      expect(missing[0]).toContain("the folder exports: SensorBleConverter (sensor.ts)");
      expect(out.split("\n").filter((l) => l.includes("BLE Connector not started"))).toHaveLength(1);
      expect(out).toContain("bluetoothd (BlueZ) is not running");
      // the gateway runs on and serves the platform
      await platform.harness.waitFor((h) => h.received.some((r) => r.topic === "v1/devices/me/attributes" && r.body.active_connectors), 15_000, "the gateway's configuration attributes");
    } finally {
      await gw?.stop();
    }
  }, 60_000);
});
