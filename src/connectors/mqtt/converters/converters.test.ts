import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "../../../observe/logger.ts";
import { MappingSchema, type ConverterConfig } from "../schema.ts";
import { BytesUplinkConverter } from "./bytes.ts";
import { loadCustomConverter } from "./custom.ts";
import { JsonUplinkConverter } from "./json.ts";

const conv = (c: unknown) => MappingSchema.parse({ topicFilter: "t", converter: c }).converter as ConverterConfig;
const json = (c: unknown) => new JsonUplinkConverter(conv(c), "test");
const run = (c: JsonUplinkConverter | BytesUplinkConverter, topic: string, payload: unknown, now = 1000) =>
  c.convert(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload)), now);

describe("json converter", () => {
  test("device name and type from the message", () => {
    const c = json({
      type: "json",
      deviceInfo: { deviceNameExpressionSource: "message", deviceNameExpression: "${serialNumber}", deviceProfileExpressionSource: "message", deviceProfileExpression: "${sensorType}" },
      attributes: [{ type: "string", key: "model", value: "${sensorModel}" }],
      timeseries: [{ type: "double", key: "temperature", value: "${temp}" }],
    });
    expect(run(c, "t", { serialNumber: "SN-1", sensorType: "Thermometer", sensorModel: "T1000", temp: "42.5" })).toEqual([
      { deviceName: "SN-1", deviceType: "Thermometer", attributes: { model: "T1000" }, telemetry: [{ values: { temperature: 42.5 } }] },
    ]);
  });

  test("device name and type from the topic (regex, last group or whole match)", () => {
    const c = json({
      deviceInfo: {
        deviceNameExpressionSource: "topic",
        deviceNameExpression: "(?<=sensor/)(.*?)(?=/data)",
        deviceProfileExpressionSource: "topic",
        deviceProfileExpression: "(?P<kind>sensor)/(.*?)/data",
      },
      timeseries: [{ type: "integer", key: "v", value: "${v}" }],
    });
    const out = run(c, "sensor/SN-7/data", { v: "12.9" }) as any[];
    expect(out[0].deviceName).toBe("SN-7");
    // profile regex has two groups: the last one wins
    expect(out[0].deviceType).toBe("SN-7");
    expect(out[0].telemetry[0].values).toEqual({ v: 12 });
  });

  test("topic regex without a match uses the expression itself (upstream)", () => {
    const c = json({ deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "nomatch/(.*)" }, timeseries: [{ type: "string", key: "v", value: "${v}" }] });
    expect((run(c, "a/b", { v: 1 }) as any[])[0].deviceName).toBe("nomatch/(.*)");
  });

  test("'*' forwards the whole object as attributes / one telemetry entry", () => {
    const c = json({ deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" }, attributes: "*", timeseries: ["*"] });
    const out = run(c, "t", { a: 1, b: "x" }) as any[];
    expect(out[0].attributes).toEqual({ a: 1, b: "x" });
    expect(out[0].telemetry).toEqual([{ values: { a: 1, b: "x" } }]);
  });

  test("array payloads are converted item by item and merged per device", () => {
    const c = json({
      deviceInfo: { deviceNameExpressionSource: "message", deviceNameExpression: "${name}" },
      timeseries: [{ type: "double", key: "t", value: "${t}" }],
    });
    const out = run(c, "t", [
      { name: "A", t: 1, ts: 100 },
      { name: "B", t: 2, ts: 100 },
      { name: "A", t: 3, ts: 200 },
    ]) as any[];
    expect(out).toEqual([
      { deviceName: "A", deviceType: "default", telemetry: [{ ts: 100, values: { t: 1 } }, { ts: 200, values: { t: 3 } }] },
      { deviceName: "B", deviceType: "default", telemetry: [{ ts: 100, values: { t: 2 } }] },
    ]);
  });

  test("keys with spaces and templated keys", () => {
    const c = json({
      deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" },
      timeseries: [
        { type: "double", key: "Total Power", value: "${Total Power}" },
        { type: "string", key: "${name}_state", value: "${nested.deep value}" },
      ],
    });
    const out = run(c, "t", { "Total Power": "7.5", name: "pump", nested: { "deep value": "on" } }) as any[];
    expect(out[0].telemetry[0].values).toEqual({ "Total Power": 7.5, pump_state: "on" });
  });

  test("type conversions; failures keep the text; missing values are skipped", () => {
    const c = json({
      deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" },
      timeseries: [
        { type: "integer", key: "i", value: "${i}" },
        { type: "boolean", key: "b", value: "${b}" },
        { type: "double", key: "bad", value: "${bad}" },
        { type: "string", key: "s", value: "${n}" },
        { type: "double", key: "missing", value: "${nope}" },
        { type: "string", key: "mixed", value: "${i} of ${nope}" },
      ],
    });
    const out = run(c, "t", { i: "12.7", b: "on", bad: "n/a", n: 5 }) as any[];
    expect(out[0].telemetry[0].values).toEqual({ i: 12, b: true, bad: "n/a", s: "5", mixed: "12.7 of None" });
  });

  test("useEval: the rendered value text is evaluated as a Python expression before type conversion (upstream test_convert_data_from_string_to_int_with_eval)", () => {
    const keys = (useEval: boolean) =>
      json({
        useEval,
        deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" },
        attributes: [
          { type: "int", key: "twice", value: "${test_key} + ${test_key}" },
          { type: "double", key: "scaled", value: "${raw} / 10" },
          { type: "bool", key: "bit", value: "${flags} & 4 != 0" },
          { type: "string", key: "text", value: "${test_key} + 1" },
          { type: "int", key: "bad", value: "${word}" },
          { type: "int", key: "plain", value: "${raw}" },
        ],
      });
    const msg = { test_key: "21.420000", raw: 523, flags: 6, word: "open" };
    expect((run(keys(true), "t", msg) as any[])[0].attributes).toEqual({ twice: 42, scaled: 52.3, bit: true, text: "21.420000 + 1", bad: "open", plain: 523 });
    // without useEval the same text is not a number and stays text
    expect((run(keys(false), "t", msg) as any[])[0].attributes).toEqual({ twice: "21.420000 + 21.420000", scaled: "523 / 10", bit: "6 & 4 != 0", text: "21.420000 + 1", bad: "open", plain: 523 });
  });

  test("useEval cannot reach the process: a device sending code gets its text back", () => {
    const c = json({ useEval: true, deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" }, timeseries: [{ type: "int", key: "v", value: "${v}" }] });
    for (const v of ["__import__('os').system('id')", "().__class__", "process.exit(1)", "'x' * 10 ** 9"])
      expect((run(c, "t", { v }) as any[])[0].telemetry[0].values.v).toBe(v);
  });

  test("message ts, tsField and useReceivedTs", () => {
    const base = { deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" } };
    const a = json({ ...base, timeseries: [{ type: "double", key: "v", value: "${v}" }, { type: "double", key: "w", value: "${w}", tsField: "wTime" }] });
    expect((run(a, "t", { v: 1, w: 2, ts: 5000, wTime: "2024-01-01T00:00:00Z" }) as any[])[0].telemetry).toEqual([
      { ts: 5000, values: { v: 1 } },
      { ts: Date.UTC(2024, 0, 1), values: { w: 2 } },
    ]);
    const b = json({ ...base, useReceivedTs: true, timeseries: [{ type: "double", key: "v", value: "${v}" }] });
    expect((run(b, "t", { v: 1, ts: 5000 }, 777) as any[])[0].telemetry).toEqual([{ ts: 777, values: { v: 1 } }]);
  });

  test("report strategies: device level and per key", () => {
    const c = json({
      deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" },
      reportStrategy: { type: "ON_REPORT_PERIOD", reportPeriod: 5000 },
      timeseries: [{ type: "double", key: "v", value: "${v}", reportStrategy: { type: "ON_CHANGE" } }],
    });
    const out = (run(c, "t", { v: 1 }) as any[])[0];
    expect(out.deviceStrategy).toEqual({ type: "ON_REPORT_PERIOD", reportPeriod: 5000 });
    expect(out.keyStrategies).toEqual({ v: { type: "ON_CHANGE" } });
    const legacy = json({ deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" }, sendDataOnlyOnChange: true, attributes: "*" });
    expect((run(legacy, "t", { a: 1 }) as any[])[0].deviceStrategy).toEqual({ type: "ON_CHANGE" });
  });

  test("malformed messages give a reason instead of data", () => {
    const c = json({ deviceInfo: { deviceNameExpressionSource: "message", deviceNameExpression: "${name}" }, timeseries: [{ type: "double", key: "v", value: "${v}" }] });
    expect(run(c, "t", "{not json")).toBe("payload is not valid JSON");
    expect(run(c, "t", { v: 1 })).toBe("device name not found (${name})");
    expect(run(c, "t", { name: "A" })).toBe("none of the configured keys found in the message");
  });
});

describe("bytes converter", () => {
  const c = new BytesUplinkConverter(
    conv({
      type: "bytes",
      deviceInfo: { deviceNameExpressionSource: "message", deviceNameExpression: "[0:4]", deviceProfileExpressionSource: "constant", deviceProfileExpression: "default" },
      attributes: [
        { type: "raw", key: "rawData", value: "[:]" },
        { type: "raw", key: "hex", value: "[4:6]", hexMode: true },
      ],
      timeseries: [
        { type: "raw", key: "temp", value: "[4:]" },
        { type: "raw", key: "last", value: "[-1]" },
        { type: "integer", key: "num", value: "[4:6]" },
        { type: "raw", key: "tpl", value: "v=[4:6]!" },
      ],
    }),
    "test",
  );
  test("slices, negative index, hex and templates", () => {
    const out = run(c, "sensor/raw_data", Buffer.from("SN0142.5"), 99) as any[];
    expect(out).toEqual([
      {
        deviceName: "SN01",
        deviceType: "default",
        attributes: { rawData: "SN0142.5", hex: "3432" },
        telemetry: [{ ts: 99, values: { temp: "42.5", last: "5", num: 42, tpl: "v=42!" } }],
      },
    ]);
  });
  test("empty payload has no device name", () => {
    expect(run(c, "t", Buffer.alloc(0))).toBe("device name not found ([0:4])");
  });
});

describe("custom converter", () => {
  const entry = (converter: ReturnType<typeof conv>) => ({ topicFilter: "custom/#", subscriptionQos: 1 as const, converter });
  const dir = mkdtempSync(join(tmpdir(), "tbgw-mqtt-ext-"));
  mkdirSync(join(dir, "extensions", "mqtt"), { recursive: true });
  writeFileSync(
    join(dir, "extensions", "mqtt", "custom_mqtt_uplink_converter.ts"),
    `export class CustomMqttUplinkConverter {
      constructor(config) { this.sizes = config.extensionConfig; }
      convert(topic, payload) {
        const values = {}; let at = 0;
        for (const [k, n] of Object.entries(this.sizes)) { values[k] = payload.readUIntBE(at, n); at += n; }
        return { deviceName: topic.split("/").pop(), deviceType: "custom", telemetry: [values] };
      }
    }`,
  );
  test("class name looked up in extensions/mqtt, legacy telemetry list accepted", async () => {
    const c = await loadCustomConverter(
      entry(conv({ type: "custom", extension: "CustomMqttUplinkConverter", extensionConfig: { temperature: 2, humidity: 2, batteryLevel: 1 } })),
      dir,
      new Logger("t"),
    );
    const out = await c.convert("custom/sensors/S1", Buffer.from([0x01, 0x02, 0x00, 0x30, 0x55]), 0);
    expect(out).toEqual([{ deviceName: "S1", deviceType: "custom", telemetry: [{ values: { temperature: 258, humidity: 48, batteryLevel: 85 } }] }]);
  });
  test("a missing class is a clear error", async () => {
    await expect(loadCustomConverter(entry(conv({ type: "custom", extension: "Nope" })), dir, new Logger("t"))).rejects.toThrow(
      /custom converter class Nope not found in .*extensions\/mqtt; the folder exports: CustomMqttUplinkConverter \(custom_mqtt_uplink_converter.ts\), DeclaredBytesConverter \(upstream_shapes.ts\), HexTextConverter/,
    );
  });
  // upstream's shape: built with the whole mapping entry, handed decoded text (here hex, as
  // upstream's custom_mqtt_uplink_converter.py expects) or the JSON value
  writeFileSync(
    join(dir, "extensions", "mqtt", "upstream_shapes.ts"),
    `export class HexTextConverter {
      constructor(config, log) { this.config = config.converter; this.topic = config.topicFilter; }
      convert(topic, body) {
        const bytes = Buffer.from(body.replace("0x", ""), "hex");
        const telemetry = []; let at = 0;
        for (const [k, n] of Object.entries(this.config.extensionConfig)) { let v = 0; for (let i = 0; i < n; i++) v = v * 256 + bytes[at++]; telemetry.push({ [k]: v }); }
        return { deviceName: topic.split("/").pop(), deviceType: this.topic, telemetry };
      }
    }
    export class JsonBodyConverter {
      convert(topic, body) { return { deviceName: body.name, attributes: [{ kind: typeof body }] }; }
    }
    export class DeclaredBytesConverter {
      static SUPPORTS_BYTES_PAYLOAD = true;
      convert(topic, body) { return { deviceName: "B", telemetry: [{ isBytes: body instanceof Uint8Array, n: body.length }] }; }
    }`,
  );
  const load = (extension: string, extensionConfig?: Record<string, unknown>) =>
    loadCustomConverter({ topicFilter: "sensors/+", subscriptionQos: 1, converter: conv({ type: "custom", extension, extensionConfig }) }, dir, new Logger("t"));
  test("upstream shape: mapping entry as config, hex text payload decoded", async () => {
    const c = await load("HexTextConverter", { temperature: 2, humidity: 1 });
    expect(await c.convert("sensors/S2", Buffer.from("0x00fa2c"), 0)).toEqual([
      { deviceName: "S2", deviceType: "sensors/+", telemetry: [{ values: { temperature: 250 } }, { values: { humidity: 44 } }] },
    ]);
  });
  test("upstream shape: a JSON payload arrives parsed; SUPPORTS_BYTES_PAYLOAD gets the bytes", async () => {
    expect(await (await load("JsonBodyConverter")).convert("t", Buffer.from('{"name":"J1"}'), 0)).toEqual([{ deviceName: "J1", deviceType: "default", attributes: { kind: "object" } }]);
    expect(await (await load("DeclaredBytesConverter")).convert("t", Buffer.from("123"), 0)).toEqual([{ deviceName: "B", deviceType: "default", telemetry: [{ values: { isBytes: true, n: 3 } }] }]);
  });
});
