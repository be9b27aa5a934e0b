// Offline checks: the upstream sample loads unchanged, the old format converts, byte-position
// conversion and address matching follow upstream, text codecs behave as Python's.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { decodeSlice, encodeText, normalizeEncoding, pyBytesRepr, pyJsonDumps } from "./codec.ts";
import { parseSetParams } from "./connector.ts";
import { addressMatcher, compileDevice, compileRequest, convertFrame, requestedNames, sampleData } from "./converter.ts";
import { SocketConfigSchema, type SocketConfig } from "./schema.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { join } from "node:path";

const SAMPLE = join(SAMPLES, "socket.json");
const sample = (): SocketConfig => SocketConfigSchema.parse(JSON.parse(readFileSync(SAMPLE, "utf8")));

describe("socket schema", () => {
  test("the upstream sample loads unchanged with upstream defaults", () => {
    const cfg = sample();
    expect(cfg.socket).toEqual({ type: "TCP", address: "127.0.0.1", port: 50000, bufferSize: 1024, mode: "server" });
    const d = cfg.devices[0]!;
    expect(d.address).toBe("*:*");
    expect(d.serverSideRpc[0]).toEqual({ methodRPC: "rpcMethod1", withResponse: true, methodProcessing: "write", encoding: "utf-8" });
    expect(d.attributeUpdates[0]).toEqual({ attributeOnThingsBoard: "sharedName", encoding: "utf-16" });
  });

  test("old format (settings at the top, addressFilter) converts as upstream's adapter", () => {
    const current = sample();
    const { socket, devices } = JSON.parse(readFileSync(SAMPLE, "utf8"));
    const old = { ...socket, devices: devices.map(({ address: _a, ...d }: Record<string, unknown>) => d) };
    expect(SocketConfigSchema.parse(old)).toEqual(current);
    expect(SocketConfigSchema.parse({}).socket).toEqual({ type: "TCP", address: "127.0.0.1", port: 50000, bufferSize: 1024, mode: "server" });
  });

  test("addressFilter wins over address; buffer_size (what upstream reads) applies without bufferSize", () => {
    const cfg = SocketConfigSchema.parse({ socket: { type: "udp", buffer_size: 64 }, devices: [{ address: "1.2.3.4:5", addressFilter: "*:7", deviceName: "d" }] });
    expect(cfg.devices[0]!.address).toBe("*:7");
    expect(cfg.socket.type).toBe("UDP");
    expect(cfg.socket.bufferSize).toBe(64);
    expect(SocketConfigSchema.parse({ socket: { bufferSize: 10, buffer_size: 64 }, devices: [] }).socket.bufferSize).toBe(10);
  });

  test("errors name the place and the fix", () => {
    const issues = (v: unknown) => SocketConfigSchema.safeParse(v).error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues({ socket: { type: "UDP", mode: "client" }, devices: [] })).toEqual(["socket.mode: client mode is for TCP; UDP always listens on socket.address:port (and answers from it)"]);
    expect(issues({ socket: { mode: "client" }, devices: [{ address: "*:*", deviceName: "d" }] })).toEqual([
      'devices.0.address: client mode connects to each device: the address must be "host:port" without *, got "*:*"',
    ]);
    expect(issues({ socket: { framing: { type: "fixed" } }, devices: [] })).toEqual(['socket.framing.length: fixed framing needs "length" (bytes per message)']);
    expect(issues({ socket: { type: "UDP", framing: { type: "delimiter", delimiter: "\n" } }, devices: [] })).toEqual([
      "socket.framing: framing cuts TCP streams; a UDP datagram is always one message",
    ]);
    expect(issues({ devices: [{ deviceName: "d" }] })).toEqual(['devices.0.address: a device needs "address" (peer "ip:port", * allowed)']);
    expect(issues({ devices: [{ address: "*:*", deviceName: "d", encoding: "cp1252" }] })[0]).toContain("supported encodings: utf-8, utf-16");
    // a custom converter class is accepted (loaded from extensions/socket/ at start: custom-converter.test.ts)
    expect(SocketConfigSchema.safeParse({ devices: [{ address: "*:*", deviceName: "d", converter: "MyConverter" }] }).success).toBe(true);
  });

  test("the README's tables name every field of the schema", () => {
    const names = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== "object") return;
      const o = node as Record<string, unknown>;
      if (o.properties && typeof o.properties === "object") for (const k of Object.keys(o.properties)) names.add(k);
      Object.values(o).forEach(walk);
    };
    walk(JSON.parse(readFileSync(new URL("../../../config-templates/schemas/socket.schema.json", import.meta.url), "utf8")));
    const readme = readFileSync(new URL("./README.md", import.meta.url), "utf8");
    // fields every connector file has (the gateway's, not this connector's)
    const common = new Set(["$schema", "id", "name", "logLevel", "enableRemoteLogging", "configVersion", "reportPeriod", "aggregationFunction", "ttl"]);
    expect([...names].filter((n) => !common.has(n) && !readme.includes("`" + n + "`") && !readme.includes("`" + n + "[]`"))).toEqual([]);
  });

  test("the config template loads", () => {
    const cfg = SocketConfigSchema.parse(JSON.parse(readFileSync(new URL("../../../config-templates/socket.json", import.meta.url), "utf8")));
    expect(cfg.socket.framing?.type).toBe("delimiter");
  });
});

describe("socket conversion (upstream BytesSocketUplinkConverter)", () => {
  test("the sample device: every slice as text, byteTo -1 = to the end", () => {
    const [d] = sampleData(sample().devices, Buffer.from("21.5"), "127.0.0.1:40000");
    expect(d).toEqual({ deviceName: "Device Example", deviceType: "default", attributes: { name: "21.5", num: ".5" }, telemetry: [{ ts: expect.any(Number), values: { temp: "21.5", hum: "21" } }] });
  });

  test("Python slice bounds: open, negative, past the end", () => {
    const keys = [
      { key: "all", byteTo: -1 },
      { key: "open" },
      { key: "lastTwo", byteFrom: -2 },
      { key: "allButLast", byteFrom: 0, byteTo: -2 },
      { key: "past", byteFrom: 2, byteTo: 100 },
      { key: "empty", byteFrom: 5, byteTo: 2 },
    ];
    const { rule } = compileDevice(SocketConfigSchema.parse({ devices: [{ address: "*:*", deviceName: "d", telemetry: keys }] }).devices[0]!);
    expect(convertFrame(rule, Buffer.from("abcdef"), 1)!.telemetry![0]!.values).toEqual({ all: "abcdef", open: "abcdef", lastTwo: "ef", allButLast: "abcd", past: "cdef", empty: "" });
  });

  test("NUL padding removed, undecodable bytes as Python's b'..' text, hex, UTF-16", () => {
    expect(decodeSlice(Buffer.from("ab\0\0"), "utf-8")).toBe("ab");
    expect(decodeSlice(Buffer.from([0x41, 0xff, 0x00]), "utf-8")).toBe("b'A\\xff\\x00'");
    expect(decodeSlice(Buffer.from([0xff, 0x41]), "ascii")).toBe("b'\\xffA'");
    expect(decodeSlice(Buffer.from([0xe9]), "latin-1")).toBe("é");
    expect(decodeSlice(Buffer.from([0x01, 0xab]), "hex")).toBe("01ab");
    expect(decodeSlice(Buffer.from([0xfe, 0xff, 0, 0x41, 0, 0x42]), "utf-16")).toBe("AB");
    expect(decodeSlice(Buffer.from([0x41, 0, 0x42, 0, 0, 0]), "utf-16-le")).toBe("AB");
    expect(pyBytesRepr(Buffer.from("it's\t\\", "latin1"))).toBe('b"it\'s\\t\\\\"');
    expect(pyBytesRepr(Buffer.from("'\"", "latin1"))).toBe("b'\\'\"'");
  });

  test("per-key and device report strategies", () => {
    const dev = SocketConfigSchema.parse({
      devices: [{ address: "*:*", deviceName: "d", reportStrategy: { type: "ON_CHANGE" }, attributes: [{ key: "a", byteFrom: 0, byteTo: 1, reportStrategy: { type: "ON_REPORT_PERIOD", reportPeriod: 5000 } }] }],
    }).devices[0]!;
    const data = convertFrame(compileDevice(dev).rule, Buffer.from("x"), 1)!;
    expect(data.keyStrategies).toEqual({ a: { type: "ON_REPORT_PERIOD", reportPeriod: 5000 } });
    expect(data.deviceStrategy).toEqual({ type: "ON_CHANGE" });
    expect(data.telemetry).toBeUndefined();
  });

  test("address filters: * wildcard, exact ip:port, no match", () => {
    expect(addressMatcher("*:*")("10.1.2.3:4000")).toBe(true);
    expect(addressMatcher("127.0.0.1:*")("127.0.0.1:5")).toBe(true);
    expect(addressMatcher("127.0.0.1:*")("127.0.0.2:5")).toBe(false);
    expect(addressMatcher("127.0.0.1:5000")("127.0.0.1:5000")).toBe(true);
    expect(addressMatcher("127.0.0.1:5000")("127.0.0.1:50001")).toBe(false);
    expect(addressMatcher("10.0.0.(1|2):*")("10.0.0.2:9")).toBe(true);
    expect(addressMatcher("bad(:*")("bad(:.*")).toBe(true);
    expect(() => sampleData(sample().devices.map((d) => ({ ...d, address: "10.0.0.1:*" })), Buffer.from("x"), "10.0.0.2:1")).toThrow(/no device address matches 10\.0\.0\.2:1/);
  });
});

describe("attribute requests from the device", () => {
  const req = (requestExpression: string, attributeNameExpression: string) => compileRequest({ type: "shared", requestExpression, attributeNameExpression });

  test('"${[0:3]==atr}" with names "[3:]": the sample\'s request', () => {
    const r = req("${[0:3]==atr}", "[3:]");
    if (typeof r === "string") throw new Error(r);
    expect(requestedNames(r, Buffer.from("atrsharedName"))).toEqual(["sharedName"]);
    expect(requestedNames(r, Buffer.from("21.5"))).toBeUndefined();
    expect(requestedNames(r, Buffer.from([0x61, 0x74, 0xff]))).toBeUndefined();
    // a sample frame that is a request gives no data
    expect(() => sampleData(sample().devices, Buffer.from("atrx"))).toThrow(/attribute request/);
  });

  test("open and single-byte slices (upstream fails on both), several names, literal names and expressions", () => {
    const open = req("${[:2]==rq}", "[2:4][4:]");
    if (typeof open === "string") throw new Error(open);
    expect(requestedNames(open, Buffer.from("rqabcd"))).toEqual(["ab", "cd"]);
    const single = req("${[0]==?}", "[1]");
    if (typeof single === "string") throw new Error(single);
    expect(requestedNames(single, Buffer.from("?k"))).toEqual(["k"]);
    const literal = req("GET", "firmware");
    if (typeof literal === "string") throw new Error(literal);
    expect(requestedNames(literal, Buffer.from("GET"))).toEqual(["firmware"]);
    expect(requestedNames(literal, Buffer.from("GETX"))).toBeUndefined();
    expect(req("${atr}", "[3:]")).toContain("expected ${[from:to]==text}");
  });
});

describe("downlink text", () => {
  test("encodings as Python writes them; hex reads hex digits", () => {
    expect(encodeText("hi", "utf-16")).toEqual(Buffer.from([0xff, 0xfe, 0x68, 0, 0x69, 0]));
    expect(encodeText("hi", "utf-16-be")).toEqual(Buffer.from([0, 0x68, 0, 0x69]));
    expect(encodeText("é", "latin-1")).toEqual(Buffer.from([0xe9]));
    expect(() => encodeText("é", "ascii")).toThrow(/'ascii' codec can't encode character 'é' in position 0/);
    expect(encodeText("01 ff", "hex")).toEqual(Buffer.from([1, 255]));
    expect(() => encodeText("xyz", "hex")).toThrow(/not hex text/);
    expect(normalizeEncoding("UTF_8")).toBe("utf-8");
    expect(normalizeEncoding("Latin1")).toBe("latin-1");
  });

  test("attribute request replies in simplejson's spelling", () => {
    expect(pyJsonDumps({ a: "é", b: [1, null, true], c: { d: 2.5 } })).toBe('{"a": "\\u00e9", "b": [1, null, true], "c": {"d": 2.5}}');
    expect(pyJsonDumps("x")).toBe('"x"');
    expect(pyJsonDumps(undefined)).toBe("null");
  });

  test("reserved set params and upstream's replies", () => {
    expect(parseSetParams("address=127.0.0.1;port=5000;value=a=b;")).toEqual({ address: "127.0.0.1:5000", value: "a=b" });
    expect(parseSetParams("address=127.0.0.1;value=x")).toEqual({ error: "Not enough params" });
    expect(parseSetParams("address=127.0.0.1;port=x;value=x")).toEqual({ error: 'Param "port" have to be int type' });
  });
});

test("validate refuses a requestExpression the connector cannot read, at its place (found by the config fuzz through run --check)", () => {
  const cfg = (requestExpression: string) => ({ socket: { type: "TCP", address: "127.0.0.1", port: 50000 }, devices: [{ address: "*:*", deviceName: "d", attributeRequests: [{ type: "shared", requestExpression, attributeNameExpression: "[3:]" }] }] });
  const bad = SocketConfigSchema.safeParse(cfg("${[0:3=atr}"));
  expect(bad.success).toBe(false);
  expect(bad.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([["devices.0.attributeRequests.0.requestExpression", 'requestExpression "${[0:3=atr}": expected ${[from:to]==text}, e.g. ${[0:3]==atr}']]);
  expect(SocketConfigSchema.safeParse(cfg("${[0:3]==atr}")).success).toBe(true);
  expect(SocketConfigSchema.safeParse(cfg("plain text")).success).toBe(true);
});
