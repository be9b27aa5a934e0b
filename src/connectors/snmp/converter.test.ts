// Offline checks: the upstream sample loads unchanged, conversion rules, table shaping, decoding.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { decodeOctets, encodeForSet, tablify } from "./client.ts";
import { parseReservedParams } from "./connector.ts";
import { convertResult, toConvertedData } from "./converter.ts";
import { SnmpConfigSchema } from "./schema.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { join } from "node:path";

const SAMPLE = join(SAMPLES, "snmp.json");

describe("snmp schema", () => {
  test("the upstream sample loads unchanged with upstream defaults", () => {
    const cfg = SnmpConfigSchema.parse(JSON.parse(readFileSync(SAMPLE, "utf8")));
    expect(cfg.devices.length).toBe(2);
    const [first, second] = cfg.devices;
    expect(first!.attributes.map((a) => a.method)).toEqual(["get", "multiget", "getnext", "multiwalk", "bulkwalk", "bulkget"]);
    expect(first!.attributeUpdateRequests[1]!.mappings).toEqual({ "1.2.3": "10", "2.3.4": "${attribute}" });
    expect(second!.port).toBe(161);
    expect(second!.timeout).toBe(6);
    expect(second!.pollPeriod).toBe(5000);
  });

  test("the config template loads", () => {
    const cfg = SnmpConfigSchema.parse(JSON.parse(readFileSync(new URL("../../../config-templates/snmp.json", import.meta.url), "utf8")));
    expect(cfg.devices.map((d) => d.version)).toEqual(["2c", "3"]);
  });

  test("bad input names the place and the fix", () => {
    const r = SnmpConfigSchema.safeParse({ devices: [{ deviceName: "x", ip: "h", attributes: [{ key: "k", method: "fetch", oid: "1.3" }] }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues[0]!.path)).toBe('["devices",0,"attributes",0,"method"]');
    const v3 = SnmpConfigSchema.safeParse({ devices: [{ deviceName: "x", ip: "h", version: "v3" }] });
    expect(v3.success).toBe(false);
    expect(v3.error!.issues[0]!.message).toContain('"v3" block');
    const oid = SnmpConfigSchema.safeParse({ devices: [{ deviceName: "x", ip: "h", telemetry: [{ key: "k", method: "get", oid: "sysDescr.0" }] }] });
    expect(oid.error!.issues[0]!.message).toContain("MIB names are not resolved");
  });
});

describe("snmp conversion (upstream rules)", () => {
  test("dicts stringified, scalar lists comma-joined, row lists merged, falsy dropped", () => {
    expect(convertResult({ "1.3.6": 5, "1.3.7": "a" })).toEqual({ "1.3.6": "5", "1.3.7": "a" });
    expect(convertResult(["a", 2, "c"])).toBe("a,2,c");
    expect(convertResult([{ "0": "1", "2": "lo" }, { "0": "2", "2": "eth0", "3": 6 }])).toEqual({ "0": "2", "2": "eth0", "3": "6" });
    expect(convertResult(12.5)).toBe(12.5);
    for (const falsy of [0, "", null, {}, [], false]) expect(convertResult(falsy as never)).toBeUndefined();
  });

  test("one ConvertedData per poll with the device strategy", () => {
    const d = toConvertedData(
      { deviceName: "r", deviceType: "snmp", reportStrategy: { type: "ON_CHANGE" } },
      { attributes: { a: "x", zero: 0 }, telemetry: { t: 3, missing: undefined } },
    );
    expect(d).toEqual({ deviceName: "r", deviceType: "snmp", attributes: { a: "x" }, telemetry: [{ values: { t: 3 } }], deviceStrategy: { type: "ON_CHANGE" } });
  });

  test("table rows from the table OID or the entry OID", () => {
    const vbs: Array<[string, string | number]> = [
      ["1.3.6.1.2.1.2.2.1.1.1", 1],
      ["1.3.6.1.2.1.2.2.1.1.2", 2],
      ["1.3.6.1.2.1.2.2.1.2.1", "lo"],
      ["1.3.6.1.2.1.2.2.1.2.2", "eth0"],
    ];
    const rows = [
      { "0": "1", "1": 1, "2": "lo" },
      { "0": "2", "1": 2, "2": "eth0" },
    ];
    expect(tablify("1.3.6.1.2.1.2.2", vbs)).toEqual(rows);
    expect(tablify("1.3.6.1.2.1.2.2.1", vbs)).toEqual(rows);
  });

  test("octet strings: text when printable UTF-8, colon hex otherwise", () => {
    expect(decodeOctets(Buffer.from("Linux box"))).toBe("Linux box");
    expect(decodeOctets(Buffer.from([0x02, 0xfc, 0x00, 0x00, 0x00, 0x01]))).toBe("02:fc:00:00:00:01");
    expect(decodeOctets(Buffer.from([0xff, 0x41]))).toBe("ff:41");
  });

  test("SET value types and reserved RPC params", () => {
    expect(encodeForSet("1.2", 7)).toEqual({ oid: "1.2", type: 2, value: 7 });
    expect(encodeForSet("1.2", "7")).toEqual({ oid: "1.2", type: 4, value: "7" });
    expect(encodeForSet("1.2", { type: "Gauge", value: "9" })).toEqual({ oid: "1.2", type: 66, value: 9 });
    expect(() => encodeForSet("1.2", { type: "Float", value: 1 })).toThrow(/unknown SNMP type "Float"/);
    expect(parseReservedParams("method=get;oid=1.3.6.1.2.1.1.1.0;")).toEqual({ op: { method: "get", oid: "1.3.6.1.2.1.1.1.0" }, value: undefined });
    expect(parseReservedParams("method=SET;oid=1.3.6;value=abc;").value).toBe("abc");
    expect(() => parseReservedParams("oid=1.3")).toThrow(/unknown SNMP method/);
  });
});
