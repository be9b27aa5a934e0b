// Offline: the upstream sample config through the schema, frame decoding (types, byte orders,
// lengths, commands), expressions (the shared evaluator) with Python's int and float, downlink
// payloads, and the slcan line codec. Expected values are what the Python gateway computes for the same bytes.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { buildPayload, buildRoutes, convertFrame, decodeValue, fromJson, mergeRpcRule, parseSetParams, toJson } from "./converter.ts";
import { parseCommandLayout, parseHex, parseValueLayout, type ValueLayout } from "./layout.ts";
import { CanConfigSchema } from "./schema.ts";
import { encodeFrame, LineSplitter, parseLine } from "./slcan.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { join } from "node:path";

const SAMPLE = JSON.parse(readFileSync(join(SAMPLES, "can.json"), "utf8"));
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ""), "hex"));
const layout = (s: string) => parseValueLayout(s) as ValueLayout;

describe("upstream can.json", () => {
  const cfg = CanConfigSchema.parse(SAMPLE);
  const routes = buildRoutes(cfg);

  test("loads unchanged with upstream's defaults", () => {
    expect(cfg).toMatchObject({ interface: "socketcan", channel: "vcan0", backend: { fd: true }, reconnect: true, reconnectPeriod: 5 });
    expect([...routes.keys()].sort((a, b) => a - b)).toEqual([41, 1918]);
    expect(cfg.devices[0]!.timeseries[0]!.polling).toEqual({ type: "always", period: 5, dataInHex: "aaaa bbbb aaaa bbbb" });
    expect(cfg.devices[0]!.attributes[0]!.command).toEqual({ start: 2, length: 2, byteorder: "big", value: 8717n });
  });

  test("door attribute: command 8717 at bytes 2-3, bit 2 of byte 4", () => {
    expect(convertFrame(routes.get(41)!, bytes("0000 220d 04"), 7).data).toEqual([{ deviceName: "Car", deviceType: "can", attributes: { isDriverDoorOpened: true } }]);
    expect(convertFrame(routes.get(41)!, bytes("0000 220d fb"), 7).data).toEqual([{ deviceName: "Car", deviceType: "can", attributes: { isDriverDoorOpened: false } }]);
    expect(convertFrame(routes.get(41)!, bytes("0000 220e 04"), 7)).toEqual({ data: [], errors: [], matched: 0 });
  });

  test("rpm (command 48059) and milliage (no command) on one id: both converted (upstream loses rpm)", () => {
    const r = convertFrame(routes.get(1918)!, bytes("0000 bbbb 0fa0 0000"), 7);
    expect(r.data).toEqual([{ deviceName: "Car", deviceType: "can", telemetry: [{ ts: 7, values: { rpm: 1000, milliage: 409750 } }] }]);
    // another command: only the key without one
    expect(convertFrame(routes.get(1918)!, bytes("0000 cccc 1027 0000"), 7).data[0]!.telemetry![0]!.values).toEqual({ milliage: 100000 });
  });
});

describe("value layouts and decoding", () => {
  test("string and object forms", () => {
    expect(parseValueLayout("4:1:int")).toEqual({ start: 4, length: 1, byteorder: "big", type: "int", signed: false, encoding: "ascii" });
    expect(parseValueLayout("0:-1:string:utf-8")).toMatchObject({ start: 0, length: -1, type: "string", encoding: "utf-8" });
    expect(parseValueLayout("0::little:long:signed")).toMatchObject({ length: -1, byteorder: "little", signed: true });
    expect(parseValueLayout({ start: 1, length: 4, byteorder: "little", type: "float" })).toMatchObject({ start: 1, length: 4, byteorder: "little", type: "float" });
    expect(parseValueLayout("4:2:big:integer")).toBe("type must be one of bool, boolean, int, long, float, double, string, raw, got \"integer\"");
    expect(parseValueLayout("70:1:int")).toBe('start must be a byte index 0..63, got "70"');
    expect(parseValueLayout("0:2:float")).toBe("a float needs 4 bytes, the length is 2");
    expect(parseCommandLayout("2:2:big:48059")).toEqual({ start: 2, length: 2, byteorder: "big", value: 48059n });
    expect(parseCommandLayout("0:1:300")).toBe("the command value 300 does not fit in 1 byte(s)");
  });

  test("types and byte orders as Python's int.from_bytes / struct", () => {
    expect(decodeValue(layout("0:2:big:int"), bytes("0102"))).toBe(0x0102n);
    expect(decodeValue(layout("0:2:little:int"), bytes("0102"))).toBe(0x0201n);
    expect(decodeValue(layout("0:2:big:int:signed"), bytes("fffe"))).toBe(-2n);
    expect(decodeValue(layout("0:8:big:long"), bytes("ffffffffffffffff"))).toBe(18446744073709551615n);
    expect(toJson(decodeValue(layout("0:8:big:long"), bytes("ffffffffffffffff")))).toBe(18446744073709551615n);
    expect(decodeValue(layout("1:4:big:float"), bytes("00 41c80000"))).toBe(25);
    expect(decodeValue(layout("0:4:little:float"), bytes("0000c841"))).toBe(25);
    expect(decodeValue(layout("0:8:big:double"), bytes("400921fb54442d18"))).toBe(Math.PI);
    expect(decodeValue(layout("2:1:bool"), bytes("000000"))).toBe(false);
    expect(decodeValue(layout("0:-1:string:utf-8"), bytes("c3a9 74c3a9"))).toBe("été");
    expect(decodeValue(layout("1:-1:raw"), bytes("00ABcd"))).toBe("abcd");
    expect(() => decodeValue(layout("0:-1:string"), bytes("c3a9"))).toThrow("'ascii' codec can't decode byte 0xc3 in position 0");
  });

  test("a frame too short is an error, never a zero (Python's int.from_bytes(b'') is 0)", () => {
    expect(() => decodeValue(layout("4:2:int"), bytes("01020304"))).toThrow("the frame has 4 byte(s); the value needs bytes 4..5");
    expect(() => decodeValue(layout("4:-1:raw"), bytes("01020304"))).toThrow("the frame has 4 byte(s); the value needs at least byte 4");
    const rules = buildRoutes(CanConfigSchema.parse({ devices: [{ name: "d", timeseries: [{ key: "a", nodeId: 1, value: "0:1:int" }, { key: "b", nodeId: 1, value: "1:1:int" }] }] })).get(1)!;
    const r = convertFrame(rules, bytes("05"), 1);
    expect(r.data[0]!.telemetry![0]!.values).toEqual({ a: 5 });
    expect(r.errors.map((e) => [e.rule.key, e.error])).toEqual([["b", "the frame has 1 byte(s); the value needs bytes 1..1"]]);
  });

  test("keys of two devices on one id each reach their own device", () => {
    const cfg = CanConfigSchema.parse({
      devices: [
        { name: "A", type: "engine", timeseries: [{ key: "x", nodeId: 9, value: "0:1:int" }] },
        { name: "B", attributes: [{ key: "y", nodeId: 9, value: "1:1:int", expression: "can_data[0] + value" }] },
      ],
    });
    expect(convertFrame(buildRoutes(cfg).get(9)!, bytes("0102"), 3).data).toEqual([
      { deviceName: "A", deviceType: "engine", telemetry: [{ ts: 3, values: { x: 1 } }] },
      { deviceName: "B", deviceType: "can", attributes: { y: 3 } },
    ]);
  });
});

describe("expressions (the shared Python-expression evaluator)", () => {
  /** The key's value from one frame, or the error that left it out. */
  const key = (expression: string, value: string, hex: string) => {
    const cfg = CanConfigSchema.parse({ devices: [{ name: "d", timeseries: [{ key: "k", nodeId: 1, value, expression }] }] });
    const r = convertFrame(buildRoutes(cfg).get(1)!, bytes(hex), 1);
    return r.errors.length ? r.errors[0]!.error : r.data[0]!.telemetry![0]!.values.k;
  };

  test("over value and can_data, with Python's int and float", () => {
    expect(key("value / 4", "0:2:int", "0fa0")).toBe(1000); // Python: 1000.0; JSON cannot tell
    expect(key("str(value / 4)", "0:2:int", "0fa0")).toBe("1000.0");
    expect(key("str(value)", "0:4:float", "41c80000")).toBe("25.0"); // a float layout stays a float
    expect(key("str(value)", "0:1:int", "19")).toBe("25");
    expect(key("value // 4", "0:1:int:signed", "f9")).toBe(-2);
    expect(key("value % 4", "0:1:int:signed", "f9")).toBe(1);
    expect(key("bool(value & 0b00000100)", "0:1:int", "0c")).toBe(true);
    expect(key("'hi' if value else 'lo'", "0:1:bool", "00")).toBe("lo");
    expect(key("max(can_data)", "0:1:int", "0309")).toBe(9);
    expect(key("can_data[-1] + len(can_data[1:])", "0:1:int", "0309")).toBe(10);
    expect(key("can_data[0:2]", "0:1:int", "0309ff")).toEqual([3, 9]);
    expect(key("value * 2 ** 60", "0:8:long", "ffffffffffffffff")).toBe((2n ** 64n - 1n) * 2n ** 60n);
    expect(key("value.upper()", "0:-1:string", "6869")).toBe("HI");
  });

  test("an error leaves the key out of the message, with Python's error", () => {
    expect(key("value / 0", "0:1:int", "01")).toBe("ZeroDivisionError: division by zero");
    expect(key("can_data[9]", "0:1:int", "01")).toBe("IndexError: list index out of range");
    expect(key("10 ** 999999", "0:1:int", "01")).toMatch(/^OverflowError/);
  });

  test("a config that skipped validate fails at start naming the key", () => {
    const cfg = CanConfigSchema.parse({ devices: [{ name: "d", timeseries: [{ key: "k", nodeId: 1, value: "0:1:int", expression: "speed * 2" }] }] });
    expect(() => buildRoutes(cfg)).toThrow('d: key "k": expression "speed * 2": unknown name "speed"; the variables here are value, can_data at offset 0');
  });
});

describe("downlink payloads (upstream's bytes downlink converter)", () => {
  const cfg = CanConfigSchema.parse(SAMPLE);
  const d = cfg.devices[0]!;
  const rpc = (m: string) => d.serverSideRpc.find((r) => r.method === m)!;

  test("the sample's rules", () => {
    expect(buildPayload(d.attributeUpdates[0]!, { value: 10 })).toEqual(bytes("0f000000"));
    expect(buildPayload(rpc("setLightLevel"), { value: 300 })).toEqual(bytes("00aa 2c01"));
    expect(buildPayload(rpc("setSpeed"), { userSpeed: 50, maxAllowedSpeed: 40 })).toEqual(bytes("28 0102"));
    expect(buildPayload(rpc("setSpeed"), { userSpeed: 30, maxAllowedSpeed: 40 })).toEqual(bytes("1e 0102"));
    // upstream's sample hex has a lone "d": Python's bytes.fromhex refuses it too
    expect(() => buildPayload(rpc("sendSameData"), {})).toThrow('dataInHex: "aa bb cc dd ee ff    aa bb aa bb cc d ee ff" is not hex bytes: "d " at position 36');
  });

  test("value types, order of precedence, failures", () => {
    expect(buildPayload({}, { value: true })).toEqual(bytes("01"));
    expect(buildPayload({ dataLength: 2 }, { value: -2 })).toEqual(bytes("fffe"));
    expect(buildPayload({ dataByteorder: "little" }, { value: 1.5 })).toEqual(bytes("0000c03f"));
    expect(buildPayload({ dataEncoding: "utf-8" }, { value: "é" })).toEqual(bytes("c3a9"));
    expect(buildPayload({ dataInHex: "0102" }, { value: 5 })).toEqual(bytes("0102"));
    expect(buildPayload({}, { value: 5, dataInHex: "aa" })).toEqual(bytes("aa"));
    expect(buildPayload({ dataExpression: "value / 2" }, { value: 5 })).toEqual(bytes("40200000")); // a float: 4-byte IEEE
    expect(buildPayload({ dataExpression: "value / 2" }, { value: 4 })).toEqual(bytes("40000000")); // 2.0 is still a float
    expect(buildPayload({ dataExpression: "value // 2", dataLength: 2 }, { value: 5 })).toEqual(bytes("0002"));
    expect(buildPayload({ dataExpression: "p['x'] * len(l)" }, { p: { x: 3 }, l: [1, 2] })).toEqual(bytes("06")); // JSON objects and arrays as dicts and lists
    expect(buildPayload({ dataExpression: "2 ** 40", dataLength: 8 }, { value: 0 })).toEqual(bytes("0000010000000000"));
    expect(() => buildPayload({ dataExpression: "None" }, { value: 1 })).toThrow("the value is None and cannot be written");
    expect(() => buildPayload({ dataExpression: "[value]" }, { value: 1 })).toThrow("the value is a list and cannot be written");
    expect(() => buildPayload({}, {})).toThrow("the request data is empty or not an object");
    expect(() => buildPayload({}, { other: 1 })).toThrow('no "value" in the request data and no dataExpression');
    expect(() => buildPayload({}, { value: 256 })).toThrow("int 256 does not fit in 1 byte(s)");
    expect(() => buildPayload({ dataExpression: "a + b" }, { a: 1 })).toThrow(`dataExpression "a + b": NameError: name 'b' is not defined`);
    expect(() => buildPayload({ dataExpression: "a +* b" }, { a: 1 })).toThrow(`dataExpression "a +* b": unexpected "*" at offset 3`);
  });

  test("RPC params over a rule (overrideRpcConfig), reserved set params", () => {
    expect(mergeRpcRule({ nodeId: 5, dataLength: 2 }, { nodeId: 6, value: 1 })).toEqual({ nodeId: 6, dataLength: 2, response: true });
    expect(mergeRpcRule(undefined, parseSetParams("nodeId=41;isExtendedId=true;dataInHex=AB;"))).toEqual({ nodeId: 41, isExtendedId: true, dataInHex: "AB", response: true });
    expect(fromJson(2)).toBe(2n);
    expect(fromJson(2.5)).toBe(2.5);
    expect(fromJson({ a: [1, 1.5] })).toEqual({ a: [1n, 1.5] });
    expect(toJson([1n, { b: 2n ** 60n }])).toEqual([1, { b: 2n ** 60n }]);
  });
});

describe("slcan lines", () => {
  test("frames both ways", () => {
    expect(encodeFrame({ id: 0x123, extended: false, data: bytes("0102") })).toBe("t12320102\r");
    expect(encodeFrame({ id: 1918, extended: true, data: bytes("aaaabbbb") })).toBe("T0000077E4AAAABBBB\r");
    expect(encodeFrame({ id: 4, extended: true, fd: true, brs: true, data: bytes("01".repeat(9)) })).toBe(`B000000049${"01".repeat(9)}${"00".repeat(3)}\r`);
    expect(() => encodeFrame({ id: 0x800, extended: false, data: bytes("") })).toThrow("arbitration id 2048 does not fit in 11 bits");
    expect(() => encodeFrame({ id: 1, extended: false, data: bytes("00".repeat(9)) })).toThrow("9 bytes do not fit in a classic CAN frame");
    expect(parseLine("t12320102")).toEqual({ kind: "frame", frame: { id: 0x123, extended: false, data: bytes("0102") } });
    expect(parseLine("T0000077E2AABB1234")).toEqual({ kind: "frame", frame: { id: 1918, extended: true, data: bytes("aabb") } }); // with a timestamp
    expect(parseLine("d0019" + "00".repeat(12))).toEqual({ kind: "frame", frame: { id: 1, extended: false, fd: true, data: bytes("00".repeat(12)) } });
    expect(parseLine("t1232AB")).toMatchObject({ kind: "bad", why: "2 data bytes announced, fewer given" });
    expect(parseLine("", true)).toEqual({ kind: "error" });
    expect(parseLine("z")).toEqual({ kind: "other", text: "z" });
  });

  test("a stream cut anywhere gives the same lines", () => {
    const got: string[] = [];
    const s = new LineSplitter((t, bell) => got.push(bell ? "<BEL>" : t));
    const text = "t1232AABB\rO\r\x07T0000000110\r\n";
    for (const ch of text) s.push(Buffer.from(ch, "latin1"));
    expect(got).toEqual(["t1232AABB", "O", "<BEL>", "T0000000110"]);
    expect(parseHex("aaaa bbbb")).toEqual(bytes("aaaabbbb"));
  });
});

describe("validate --sample", () => {
  test("a frame's bytes with its id as the topic", async () => {
    const { descriptor } = await import("./index.ts");
    const cfg = CanConfigSchema.parse(SAMPLE);
    const out = await descriptor.convertSample!(cfg, bytes("0000bbbb0fa00000"), { topic: "1918", configDir: "." });
    expect(out).toEqual([{ deviceName: "Car", deviceType: "can", telemetry: [{ ts: expect.any(Number), values: { rpm: 1000, milliage: 409750 } }] }]);
    expect(await descriptor.convertSample!(cfg, bytes("0000bbbb0fa00000"), { topic: "7", configDir: "." })).toEqual([]);
  });
});
