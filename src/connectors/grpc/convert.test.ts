// Conversions between the protocol's key/values and converted data, and the auto-key file.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attributeNotification, int64Value, kvValue, rpcParamsText, rpcReplyValue, toKv, uplinkRecords } from "./convert.ts";
import { autoKey, KEYS_FILE } from "./keys.ts";
import { loadServiceDefinition } from "./proto.ts";

describe("key/value conversion", () => {
  test("uplink values by type; absent type is BOOLEAN_V (proto3 zero); json_v parsed, raw text when it is not JSON", () => {
    expect(kvValue({ key: "a" })).toBe(false);
    expect(kvValue({ key: "a", bool_v: true })).toBe(true);
    expect(kvValue({ key: "a", type: "LONG_V", long_v: "-42" })).toBe(-42);
    expect(kvValue({ key: "a", type: "LONG_V", long_v: "9223372036854775807" })).toBe("9223372036854775807");
    expect(kvValue({ key: "a", type: "DOUBLE_V" })).toBe(0);
    expect(kvValue({ key: "a", type: "STRING_V", string_v: "x" })).toBe("x");
    expect(kvValue({ key: "a", type: "JSON_V", json_v: '{"b":[1]}' })).toEqual({ b: [1] });
    expect(kvValue({ key: "a", type: "JSON_V", json_v: "{not json" })).toBe("{not json");
    expect(kvValue({ key: "a", type: 9 })).toBeUndefined();
    expect(int64Value("9007199254740991")).toBe(9007199254740991);
    expect(int64Value("9007199254740992")).toBe("9007199254740992");
  });

  test("one record per device; ts 0 = now; nameless and empty entries dropped and named", () => {
    const dropped: string[] = [];
    const recs = uplinkRecords(
      [
        { deviceName: "d1", msg: { tsKvList: [{ ts: "1000", kv: [{ key: "t", type: "LONG_V", long_v: "1" }] }, { ts: "0", kv: [{ key: "t", type: "LONG_V", long_v: "2" }] }] } },
        { deviceName: "", msg: { tsKvList: [{ kv: [{ key: "t", type: "LONG_V", long_v: "3" }] }] } },
        { deviceName: "d2", msg: { tsKvList: [{ kv: [] }] } },
      ],
      [{ deviceName: "d1", msg: { kv: [{ key: "fw", type: "STRING_V", string_v: "1" }, { key: "odd", type: 7 }] } }],
      dropped,
    );
    expect(recs).toEqual([
      { deviceName: "d1", telemetry: [{ ts: 1000, values: { t: 1 } }, { values: { t: 2 } }] },
      { deviceName: "d1", attributes: { fw: "1" } },
    ]);
    expect(dropped).toEqual(["telemetry without deviceName", "telemetry of d2 without values", "odd (type 7)"]);
  });

  test("downlink values: arrays and null as JSON_V (upstream sends a typeless entry), RPC params as JSON text", () => {
    expect(toKv("b", false)).toEqual({ key: "b", type: "BOOLEAN_V", bool_v: false });
    expect(toKv("n", 3)).toEqual({ key: "n", type: "LONG_V", long_v: "3" });
    expect(toKv("d", 3.5)).toEqual({ key: "d", type: "DOUBLE_V", double_v: 3.5 });
    expect(toKv("a", [1, "x"])).toEqual({ key: "a", type: "JSON_V", json_v: '[1,"x"]' });
    expect(toKv("z", null)).toEqual({ key: "z", type: "JSON_V", json_v: "null" });
    expect(attributeNotification({ deleted: ["a", "b"] })).toEqual({ sharedDeleted: ["a", "b"] });
    expect(attributeNotification({ x: 1 }, 5)).toEqual({ sharedUpdated: [{ ts: "5", kv: { key: "x", type: "LONG_V", long_v: "1" } }] });
    expect(rpcParamsText("on")).toBe("on");
    expect(rpcParamsText(true)).toBe("true");
    expect(rpcParamsText(["a", 1])).toBe('["a",1]');
    expect(rpcReplyValue('{"ok":1}')).toEqual({ ok: 1 });
    expect(rpcReplyValue("plain")).toBe("plain");
  });

  test("wire: the empty reply is 0a 00; a register request decodes; int64 survives as text", () => {
    const m = loadServiceDefinition().stream!;
    expect(Buffer.from(m.responseSerialize({ response: {} })).toString("hex")).toBe("0a00");
    expect(m.requestDeserialize(Buffer.from("2a050a03616263", "hex"))).toEqual({ registerConnectorMsg: { connectorKey: "abc" } });
    const bytes = m.responseSerialize({ gatewayAttributeUpdateNotificationMsg: { deviceName: "d", notificationMsg: { sharedUpdated: [{ ts: "9223372036854775807", kv: { key: "k" } }] } } });
    const back = (loadServiceDefinition().stream as any).responseDeserialize(bytes);
    expect(back.gatewayAttributeUpdateNotificationMsg.notificationMsg.sharedUpdated[0].ts).toBe("9223372036854775807");
  });
});

describe("auto keys (persistent_keys.json)", () => {
  test("generated once per name, kept, file sorted; other names' keys untouched", () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-keys-"));
    writeFileSync(join(dir, KEYS_FILE), JSON.stringify({ zeta: "0123456789" }));
    const a = autoKey(dir, "alpha");
    expect(a.generated).toBe(true);
    expect(a.key).toMatch(/^[0-9a-f]{10}$/);
    expect(autoKey(dir, "alpha")).toEqual({ key: a.key, generated: false });
    const text = readFileSync(join(dir, KEYS_FILE), "utf8");
    expect(Object.keys(JSON.parse(text))).toEqual(["alpha", "zeta"]);
    expect(JSON.parse(text).zeta).toBe("0123456789");
  });

  test("a broken file is a clear error naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-keys-"));
    writeFileSync(join(dir, KEYS_FILE), "{broken");
    expect(() => autoKey(dir, "x")).toThrow(/persistent_keys.json is not valid JSON/);
  });
});
