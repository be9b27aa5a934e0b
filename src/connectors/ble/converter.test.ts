// BLE conversion on recorded-format payloads (testdata/frames.json), the upstream sample, compute.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { compileCompute } from "./compute.ts";
import { manufacturerBytes, parseReservedParams } from "./connector.ts";
import { bytesConvert, convertKeys, hexConvert, type KeyValue } from "./converter.ts";
import { fullUuid } from "./bluez.ts";
import { BleConfigSchema } from "./schema.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { join } from "node:path";

const frames = JSON.parse(readFileSync(new URL("./testdata/frames.json", import.meta.url), "utf8"));
const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
const sample = BleConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "ble.json"), "utf8")));

describe("ble schema", () => {
  test("the upstream sample loads unchanged with upstream defaults", () => {
    expect(sample.passiveScanMode).toBe(true);
    expect(sample.scannerPollPeriod).toBe(5000);
    const d = sample.devices[0]!;
    expect(d.MACAddress).toBe("4C:65:A8:DF:85:C0");
    expect(d.deviceType).toBe("default");
    expect(d.telemetry.map((k) => [k.key, k.method, k.dataSourceType])).toEqual([
      ["temperature", "notify", "characteristic"],
      ["humidity", "notify", "characteristic"],
    ]);
    expect(d.serverSideRpc.map((r) => r.methodProcessing)).toEqual(["read", "write", "scan"]);
  });

  test("the config template loads", () => {
    const t = BleConfigSchema.parse(JSON.parse(readFileSync(new URL("../../../config-templates/ble.json", import.meta.url), "utf8")));
    expect(t.devices.length).toBeGreaterThan(0);
  });

  test("errors name the place", () => {
    const r = BleConfigSchema.safeParse({ devices: [{ name: "x", MACAddress: "4C-65", telemetry: [{ key: "t", method: "read" }] }] });
    expect(r.success).toBe(false);
    const msgs = r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(msgs).toContain("devices.0.MACAddress: MACAddress must look like 4C:65:A8:DF:85:C0");
    expect(msgs.some((m) => m.startsWith("devices.0.telemetry.0.characteristicUUID:"))).toBe(true);
  });
});

describe("bytes converter (characteristics)", () => {
  test("sample expressions on the recorded name characteristic", () => {
    const data = hex(frames.deviceName.hex); // "Sensor" = 83 101 110 115 111 114
    expect(bytesConvert("[0:2]cm [2:]A", data)).toBe("83101cm 110115111114A");
    expect(bytesConvert("All values: [:]", data)).toBe("All values: 83101110115111114");
    expect(bytesConvert("[-1]", data)).toBe("114");
    expect(() => bytesConvert("[9]", data)).toThrow(/outside the 6 received byte/);
  });

  test("the sample device's notify keys on a MiJia notification give one ConvertedData", () => {
    const d = sample.devices[0]!;
    const keys: KeyValue[] = d.telemetry.map((key) => ({ section: "telemetry", key }));
    const errors: string[] = [];
    const out = convertKeys(d, keys, hex(frames.mijiaNotify.hex), (k) => errors.push(k));
    // "[2]" is byte 2 ('2' = 50) and "[0]" byte 0 ('T' = 84): upstream's byte semantics, kept.
    expect(out).toEqual({ deviceName: "Temperature and humidity sensor", deviceType: "default", telemetry: [{ values: { temperature: "50", humidity: "84" } }] });
    expect(errors).toEqual([]);
  });

  test("a key that does not fit the payload is reported and dropped, the others are sent", () => {
    const errors: string[] = [];
    const keys: KeyValue[] = [
      { section: "attributes", key: { key: "ok", valueExpression: "[0]", dataSourceType: "characteristic" } },
      { section: "attributes", key: { key: "bad", valueExpression: "[40]", dataSourceType: "characteristic" } },
    ];
    expect(convertKeys({ name: "n", deviceType: "t" }, keys, hex("2a"), (k) => errors.push(k))).toEqual({ deviceName: "n", deviceType: "t", attributes: { ok: "42" } });
    expect(errors).toEqual(["bad"]);
  });
});

describe("hex converter (advertisements)", () => {
  const adv = manufacturerBytes(Object.fromEntries(Object.entries(frames.goveeH5075.manufacturerData).map(([k, v]) => [k, Buffer.from(v as string, "hex")])))!;

  test("manufacturer data as node-ble returns it (company id → bytes)", () => {
    expect(Buffer.from(adv).toString("hex")).toBe("00035b2e64");
    expect(manufacturerBytes({ "76": { value: Buffer.from("0102", "hex") } })).toEqual(Buffer.from("0102", "hex"));
    expect(manufacturerBytes({})).toBeUndefined();
  });

  test("Govee H5075 temperature, humidity and battery with compute", () => {
    expect(hexConvert("[1:4]", adv, "value / 10000")).toBeCloseTo(21.995, 6); // 0x035b2e = 219950 → 21.995 °C, 95.0 %;
    expect(hexConvert("[1:4]", adv, "value % 1000 / 10")).toBeCloseTo(95.0, 6);
    expect(hexConvert("[4:5]", adv)).toBe(100);
    // [i] takes only the first hex digit of byte i (upstream quirk): byte 2 = 0x5b → 5.
    expect(hexConvert("[2]", adv)).toBe(5);
    expect(hexConvert("no selector", adv)).toBeUndefined();
  });

  test("advertisement keys default to the hex converter", () => {
    const keys: KeyValue[] = [{ section: "telemetry", key: { key: "battery", valueExpression: "[4:5]", dataSourceType: "advertisement" } }];
    expect(convertKeys({ name: "g", deviceType: "t", type: "hex" }, keys, adv, () => {})!.telemetry).toEqual([{ values: { battery: 100 } }]);
  });
});

describe("compute expressions", () => {
  test("arithmetic only", () => {
    expect(compileCompute("value * 2 + 1")(3)).toBe(7);
    expect(compileCompute("(value - 32) / 1.8")(212)).toBeCloseTo(100, 9);
    expect(compileCompute("-value ** 2")(3)).toBe(-9);
    expect(compileCompute("value // 10 % 7")(123)).toBe(5);
    expect(() => compileCompute("__import__('os')")).toThrow(/compute: "__import__": names starting with "__" are not accessible at offset 0/);
    expect(() => compileCompute("value +")).toThrow(/ends too early at offset 7/);
    expect(() => compileCompute("value * scale")).toThrow(/compute: unknown name "scale"; the variables here are value at offset 8/);
  });
  test("Python semantics from the shared evaluator", () => {
    expect(compileCompute("value / 4")(10)).toBe(2.5);
    expect(compileCompute("-value // 4")(10)).toBe(-3);
    expect(compileCompute("value - 65536 if value > 32767 else value")(0xfff6)).toBe(-10);
    expect(compileCompute("round(value * 0.1, 1)")(523)).toBe(52.3);
    expect(compileCompute("bool(value & 0b100)")(4)).toBe(true);
    expect(() => compileCompute("100 / value")(0)).toThrow('compute "100 / value" with value 0: ZeroDivisionError: division by zero');
  });
});

describe("helpers", () => {
  test("short UUIDs expand, reserved RPC params parse", () => {
    expect(fullUuid("2A00")).toBe("00002a00-0000-1000-8000-00805f9b34fb");
    expect(fullUuid("226CAA55-6476-4566-7562-66734470666D")).toBe("226caa55-6476-4566-7562-66734470666d");
    expect(parseReservedParams("characteristicUUID=2A00;value=hi;")).toEqual({ uuid: "2A00", value: "hi" });
    expect(() => parseReservedParams("value=1;")).toThrow(/characteristicUUID/);
  });
});
