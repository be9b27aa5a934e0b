// Connector against a real, separate-process OPC-UA server (peer/server.ts on node-opcua's server
// stack). One server process for the whole file: node-opcua start-up is the slow part.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ConvertedData } from "../../core/model.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { OpcuaConnector } from "./connector.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import { OpcuaConfigSchema, type OpcuaConfig } from "./schema.ts";
import { SAMPLES } from "../../../test/support/paths.ts";

setStderrLogging(process.env.TEST_VERBOSE === "1");
const SAMPLE = join(SAMPLES, "opcua.json");

let peer: OpcuaPeer;
beforeAll(async () => {
  peer = await startOpcuaPeer();
}, 40000);
afterAll(async () => {
  await peer?.stop();
});

/** Latest value of `key` for `device` across everything sent (telemetry or attributes). */
export function latest(sent: ConvertedData[], device: string, key: string): unknown {
  let v: unknown;
  for (const d of sent) {
    if (d.deviceName !== device) continue;
    if (d.attributes && key in d.attributes) v = d.attributes[key];
    for (const t of d.telemetry ?? []) if (key in t.values) v = t.values[key];
  }
  return v;
}

const has = (device: string, keys: string[]) => (sent: ConvertedData[]) => keys.every((k) => latest(sent, device, k) !== undefined);

async function withConnector(raw: unknown, body: (c: OpcuaConnector, ctx: RecordingContext) => Promise<void>): Promise<void> {
  const config = OpcuaConfigSchema.parse(raw) as OpcuaConfig;
  const ctx = recordingContext({ name: "OPC-UA", type: "opcua" });
  const c = new OpcuaConnector(config, ctx);
  try {
    await c.start();
    await body(c, ctx);
  } finally {
    await c.stop();
  }
}

const TYPES = ["Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double", "String", "DateTime", "Guid", "ByteString", "XmlElement", "NodeId", "StatusCode", "LocalizedText", "QualifiedName", "BooleanArray", "Int32Array", "DoubleArray", "StringArray"];

function typesConfig(enableSubscriptions: boolean) {
  return {
    server: { url: peer.url, enableSubscriptions, pollPeriodInMillis: 200, subDataMinBatchCreationTimeMs: 50 },
    mapping: [
      {
        deviceNodeSource: "path",
        deviceNodePattern: "Root\\.Objects\\.Types",
        deviceInfo: { deviceNameExpressionSource: "path", deviceNameExpression: "${DeviceName}", deviceProfileExpressionSource: "constant", deviceProfileExpression: "types" },
        attributes: [
          { key: "byNumber", type: "identifier", value: "${ns=1;i=2001}" },
          { key: "byGuid", type: "identifier", value: "${ns=1;g=1E14849E-3744-470D-8C7B-5F9110C2FA32}" },
          { key: "byBytes", type: "identifier", value: "${ns=1;b=Ynl0ZXM=}" },
          { key: "absolute", type: "path", value: "${Root\\.Objects\\.MyObject\\.Power}" },
          { key: "fixed", type: "constant", value: "abc" },
        ],
        timeseries: TYPES.map((t) => ({ key: t, type: "path", value: `\${${t}}` })),
      },
    ],
  };
}

const EXPECTED: Record<string, unknown> = {
  Boolean: true,
  SByte: -5,
  Byte: 200,
  Int16: -3000,
  UInt16: 60000,
  Int32: -100000,
  UInt32: 4000000000,
  Int64: -9007199254740993n,
  UInt64: 18446744073709551615n,
  Float: 1.5,
  Double: 3.14159,
  String: "hello",
  DateTime: "2024-05-06T07:08:09.123Z",
  Guid: "72962B91-FA75-4AE6-8D28-B404DC7DAF63",
  ByteString: "deadbeef",
  XmlElement: "<a>b</a>",
  NodeId: "ns=1;s=Foo",
  StatusCode: "BadTimeout",
  LocalizedText: "Hallo",
  QualifiedName: "1:Qn",
  BooleanArray: ["True", "False"],
  Int32Array: ["1", "-2", "3"],
  DoubleArray: ["1", "2.5"],
  StringArray: ["a", "b"],
  byNumber: 42,
  byGuid: 43,
  byBytes: 44,
  absolute: 1500,
  fixed: "abc",
};

describe("opcua connector uplink", () => {
  test("the upstream sample opcua.json loads unchanged and polls MyObject", async () => {
    const sample = JSON.parse(readFileSync(SAMPLE, "utf8"));
    const parsed = OpcuaConfigSchema.parse(sample);
    expect(parsed.server.enableSubscriptions).toBe(false);
    expect(parsed.mapping[0]!.rpc_methods.map((m) => m.method)).toEqual(["multiply", "get_relay", "set_relay"]);
    sample.server.url = peer.url;
    sample.server.pollPeriodInMillis = 200;
    await withConnector(sample, async (_c, ctx) => {
      await ctx.waitFor(has("Demo Device", ["frequency", "power", "temperature", "humidity", "relay"]), 10000, "Demo Device keys");
      expect(ctx.added).toContainEqual({ name: "Demo Device", deviceType: "default" });
      const d = ctx.sent.find((x) => x.deviceName === "Demo Device")!;
      expect(d.attributes).toEqual({ frequency: 50, power: 1500 });
      expect(Object.keys(d.telemetry![0]!.values).sort()).toEqual(["humidity", "relay", "temperature"]);
      expect(latest(ctx.sent, "Demo Device", "humidity")).toBe(40.5);
      // Polling repeats: temperature keeps changing on the server.
      const t1 = latest(ctx.sent, "Demo Device", "temperature") as number;
      await ctx.waitFor((s) => (latest(s, "Demo Device", "temperature") as number) > t1, 5000, "a later temperature");
    });
  }, 20000);

  test("config-templates/opcua.json runs against the test peer (url swapped for the free port)", async () => {
    const tpl = JSON.parse(readFileSync(join(import.meta.dir, "../../../config-templates/opcua.json"), "utf8"));
    tpl.server.url = peer.url;
    await withConnector(tpl, async (_c, ctx) => {
      await ctx.waitFor(has("Demo Device", ["frequency", "power", "temperature", "humidity", "relay"]), 10000, "template device data");
    });
  }, 20000);

  for (const subscribe of [true, false]) {
    test(`every data type by ${subscribe ? "subscription" : "polling"}`, async () => {
      await withConnector(typesConfig(subscribe), async (_c, ctx) => {
        await ctx.waitFor(has("Types Device", Object.keys(EXPECTED)), 10000, "all typed keys");
        for (const [k, v] of Object.entries(EXPECTED)) expect({ k, v: latest(ctx.sent, "Types Device", k) }).toEqual({ k, v });
        expect(ctx.added).toContainEqual({ name: "Types Device", deviceType: "types" });
      });
    }, 20000);
  }

  test("subscription delivers changes with source timestamps when asked", async () => {
    const cfg = {
      server: { url: peer.url, enableSubscriptions: true, subDataMinBatchCreationTimeMs: 20 },
      mapping: [
        {
          deviceNodePattern: "Root\\.Objects\\.MyObject",
          deviceInfo: { deviceNameExpression: "Sub Device" },
          timeseries: [{ key: "t", type: "path", value: "${Temperature}", timestampLocation: "SourceTimestamp" }],
        },
      ],
    };
    await withConnector(cfg, async (_c, ctx) => {
      const values = () => ctx.sent.flatMap((d) => d.telemetry ?? []).filter((t) => "t" in t.values);
      await ctx.waitFor(() => new Set(values().map((t) => t.values.t)).size >= 3, 10000, "3 distinct temperatures");
      const first = values()[0]!;
      expect(typeof first.ts).toBe("number");
      expect(Math.abs(first.ts! - Date.now())).toBeLessThan(10000);
    });
  }, 20000);
});

describe("opcua connector downlink", () => {
  const cfg = () => {
    const sample = JSON.parse(readFileSync(SAMPLE, "utf8"));
    sample.server.url = peer.url;
    sample.server.enableSubscriptions = true;
    sample.server.subDataMinBatchCreationTimeMs = 20;
    sample.mapping[0].rpc_methods.push({ method: "concat", arguments: [{ type: "string", value: "x" }, { type: "double", value: 1.5 }, { type: "boolean", value: true }] });
    sample.mapping[0].attributes_updates.push({ key: "hum", type: "path", value: "${Humidity}" }, { key: "pw", type: "identifier", value: "ns=1;s=MyObject.Power" });
    sample.mapping.push({
      deviceNodeSource: "identifier",
      deviceNodePattern: "ns=1;s=Control",
      deviceInfo: { deviceNameExpression: "Control" },
      rpc_methods: [{ method: "ToggleVolatile", arguments: [] }],
    });
    sample.mapping[0].timeseries.push({ key: "volatile", type: "path", value: "${Volatile}" });
    return sample;
  };

  test("attribute updates write with the node's type and read back", async () => {
    await withConnector(cfg(), async (c, ctx) => {
      await ctx.waitFor(has("Demo Device", ["relay", "humidity"]), 10000);
      await c.onAttributeUpdate({ device: "Demo Device", data: { relay: true, hum: "55.5", pw: 1234, unknownKey: 1 } });
      await ctx.waitFor((s) => latest(s, "Demo Device", "relay") === true && latest(s, "Demo Device", "humidity") === 55.5, 5000, "written values");
      expect(await c.onRpc({ device: "Demo Device", id: 1, method: "get", params: "ns=1;s=MyObject.Power" })).toEqual({ result: { value: 1234 } });
      await c.onAttributeUpdate({ device: "Demo Device", data: { relay: false } });
      await ctx.waitFor((s) => latest(s, "Demo Device", "relay") === false, 5000, "relay back to false");
    });
  }, 20000);

  test("reserved get/set with node ids, relative and absolute paths", async () => {
    await withConnector(cfg(), async (c, ctx) => {
      await ctx.waitFor(has("Demo Device", ["relay"]), 10000);
      const rpc = (method: string, params: unknown) => c.onRpc({ device: "Demo Device", id: 2, method, params });
      expect(await rpc("set", "ns=1;s=MyObject.Frequency 60.5")).toEqual({ result: { value: 60.5 } });
      expect(await rpc("get", "ns=1;s=MyObject.Frequency;")).toEqual({ result: { value: 60.5 } });
      expect(await rpc("set", "Frequency=49")).toEqual({ result: { value: 49 } });
      expect(await rpc("get", "Root.Objects.MyObject.Frequency")).toEqual({ result: { value: 49 } });
      expect(await rpc("set", "Relay; true")).toEqual({ result: { value: true } });
      expect(await rpc("get", "relay")).toEqual({ result: { value: true } });
      expect(await rpc("set", "Root.Objects.MyObject.Relay false")).toEqual({ result: { value: false } });
      expect(await rpc("get", "NoSuchNode")).toEqual({ error: "Could not find identifier in string NoSuchNode" });
      expect(await c.onRpc({ device: "Ghost", id: 3, method: "get", params: "x" })).toEqual({ result: { error: "Device not found" } });
    });
  }, 20000);

  test("method calls with configured and request arguments; connector RPC", async () => {
    await withConnector(cfg(), async (c, ctx) => {
      await ctx.waitFor(has("Demo Device", ["relay"]), 10000);
      const rpc = (method: string, params: unknown) => c.onRpc({ device: "Demo Device", id: 4, method, params });
      expect(await rpc("multiply", undefined)).toEqual({ result: { result: 8 } });
      expect(await rpc("multiply", [6, 7])).toEqual({ result: { result: 42 } });
      expect(await rpc("multiply", [6])).toEqual({ result: { error: "Expected 2 arguments, but got 1" } });
      expect(await rpc("multiply", "6,7")).toEqual({ result: { error: "The arguments must be specified in the square quotes []" } });
      expect(await rpc("concat", ["a", 2.25, false])).toEqual({ result: { result: "a|2.25|false" } });
      expect(await rpc("nope", [])).toEqual({ result: { error: "Requested rpc method is not found in config" } });
      expect(await rpc("get_relay", [])).toEqual({ result: { result: false } });
      // set_relay is configured without arguments but the server's method needs one: its error comes back.
      expect(await rpc("set_relay", [])).toEqual({ result: { error: "call set_relay: BadArgumentsMissing" } });
      const all = (await c.onRpc({ id: 5, method: "opcua_multiply", params: { arguments: [{ type: "integer", value: 3 }, { type: "integer", value: 5 }] } })) as Array<Record<string, unknown>>;
      expect(all.find((r) => r.device_name === "Demo Device")).toEqual({ result: 15, device_name: "Demo Device" });
      expect(all.find((r) => r.device_name === "Control")!.error).toBeDefined();
    });
  }, 20000);

  test("a node that disappears is reported once and picked up when it returns", async () => {
    const raw = cfg();
    raw.server.pollPeriodInMillis = 200;
    await withConnector(raw, async (c, ctx) => {
      await ctx.waitFor(has("Demo Device", ["volatile"]), 10000);
      const warnings: string[] = [];
      const log = ctx.log as unknown as { warn: (m: string) => void; info: (m: string) => void };
      const origWarn = log.warn.bind(log);
      const origInfo = log.info.bind(log);
      log.warn = (m) => (warnings.push(m), origWarn(m));
      log.info = (m) => (warnings.push(m), origInfo(m));
      try {
        expect(await c.onRpc({ device: "Control", id: 6, method: "ToggleVolatile", params: [] })).toEqual({ result: { result: false } });
        const until = async (pred: () => boolean, what: string) => {
          const t0 = Date.now();
          while (!pred()) {
            if (Date.now() - t0 > 8000) throw new Error(`timed out: ${what}; log: ${warnings.join(" | ")}`);
            await ctx.waitFor(() => true, 10).catch(() => undefined);
            await new Promise((r) => setImmediate(r));
            await Bun.sleep(20);
          }
        };
        await until(() => warnings.some((w) => w.includes("Volatile") || w.includes('"volatile"')), "gone warning");
        const sentBefore = ctx.sent.length;
        expect(await c.onRpc({ device: "Control", id: 7, method: "ToggleVolatile", params: [] })).toEqual({ result: { result: true } });
        await until(() => warnings.some((w) => /back|found again/.test(w)), "back notice");
        const goneWarnings = warnings.filter((w) => /gone|cannot find/.test(w));
        expect(goneWarnings.length).toBe(1);
        expect(sentBefore).toBeGreaterThan(0);
      } finally {
        log.warn = origWarn;
        log.info = origInfo;
      }
    });
  }, 25000);
});
