// A custom OPC-UA uplink converter (upstream's `mapping[].converter`) from
// <config folder>/extensions/opcua/, against the node-opcua server process the other tests use
// (peer/server.ts): built per device with the mapping entry plus deviceName/deviceType, called per
// poll (and per notification batch with subscriptions) with one config per node (nodeId, key,
// section, timestampLocation) and a plain DataValue at the same index (type names as text, Int64
// exact, arrays plain); batches it throws on are dropped and logged once until it works again; a
// mapping whose class is missing is one error and its devices' values go through the built-in
// conversion. Then the upstream sample opcua.json through the compiled binary to the platform harness.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForEachTest } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { opcuaSample, upstreamMain } from "../../../test/support/upstream.ts";
import type { ConvertedData } from "../../core/model.ts";
import { addLogSink, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { OpcuaConnector } from "./connector.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import { OpcuaConfigSchema } from "./schema.ts";

let peer: OpcuaPeer;
beforeAll(async () => {
  setStderrLogging(process.env.TEST_VERBOSE === "1");
  peer = await startOpcuaPeer();
}, 40_000);
afterAll(async () => {
  await peer?.stop();
  setStderrLogging(true);
});

// TypeScript, as a user would write it; calls 2 and 3 are rejected to show the error handling.
const CELSIUS_TS = `
interface NodeConfig { nodeId: string; key: string; section: "attributes" | "timeseries"; timestampLocation: string }
interface Value { value: { dataType: string; arrayType: string; value: any }; statusCode: { name: string; isGood(): boolean } }
export class CelsiusOpcUaConverter {
  private calls = 0;
  constructor(private readonly config: any, log: { info(m: string): void }) {
    log.info(\`built for \${config.deviceName} (\${config.deviceType}) from \${config.deviceNodePattern}\`);
  }
  convert(configs: NodeConfig[], values: Value[]) {
    this.calls++;
    if (this.calls === 2 || this.calls === 3) throw new Error("batch rejected for a test");
    const telemetry: Record<string, unknown> = { call: this.calls };
    const attributes: Record<string, unknown> = {};
    configs.forEach((c, i) => {
      const dv = values[i]!;
      const v = dv.value.value;
      if (c.section === "attributes") {
        attributes[c.key + "Type"] = [dv.value.dataType, dv.value.arrayType, dv.statusCode.name, dv.statusCode.isGood(), c.nodeId].join("/");
        attributes[c.key + "Kw"] = v / 1000;
      } else if (c.key === "temperature") {
        telemetry.celsius = v;
        telemetry.fahrenheit = v * 9 / 5 + 32;
      } else {
        telemetry[c.key] = v;
        telemetry[c.key + "Is"] = (Array.isArray(v) ? "array" : typeof v) + "/" + c.timestampLocation;
      }
    });
    return { deviceName: this.config.deviceName, deviceType: this.config.deviceType, attributes, telemetry: [{ values: telemetry }] };
  }
}
`;

function extensionsWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-opcua-ext-"));
  mkdirSync(join(dir, "extensions", "opcua"), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, "extensions", "opcua", name), text);
  return dir;
}

async function withConnector(raw: unknown, configDir: string, body: (ctx: ReturnType<typeof recordingContext>, logs: LogRecord[]) => Promise<void>): Promise<void> {
  const ctx = recordingContext({ name: "OPC-UA custom", type: "opcua", configDir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("OPC-UA custom") && logs.push(r));
  const c = new OpcuaConnector(OpcuaConfigSchema.parse(raw), ctx);
  try {
    await c.start();
    await body(ctx, logs);
  } finally {
    off();
    await c.stop();
  }
}

const ofDevice = (sent: ConvertedData[], name: string) => sent.filter((d) => d.deviceName === name);

describe("opcua custom uplink converter", () => {
  test("mapping converter names a class in extensions/opcua: polls through it; its errors once; a missing class is one error and the built-in conversion", async () => {
    const dir = extensionsWith({ "celsius.ts": CELSIUS_TS });
    const raw = {
      server: { url: peer.url, enableSubscriptions: false, pollPeriodInMillis: 200 },
      mapping: [
        {
          deviceNodePattern: "Root\\.Objects\\.MyObject",
          deviceInfo: { deviceNameExpression: "Custom Device", deviceProfileExpression: "celsius" },
          converter: "CelsiusOpcUaConverter",
          attributes: [{ key: "power", type: "path", value: "${Power}" }],
          timeseries: [
            { key: "temperature", type: "path", value: "${Temperature}" },
            { key: "big", type: "path", value: "${Root\\.Objects\\.Types\\.Int64Large}" },
            { key: "arr", type: "path", value: "${Root\\.Objects\\.Types\\.DoubleArray}", timestampLocation: "SourceTimestamp" },
            { key: "fixed", type: "constant", value: "never reaches the class" },
          ],
        },
        {
          deviceNodePattern: "Root\\.Objects\\.MyObject",
          deviceInfo: { deviceNameExpression: "Plain Device" },
          converter: "NoSuchOpcUaConverter",
          timeseries: [{ key: "humidity", type: "path", value: "${Humidity}" }],
        },
      ],
    };
    await withConnector(raw, dir, async (ctx, logs) => {
      await ctx.waitFor((s) => ofDevice(s, "Custom Device").length >= 2, 20_000, "a poll before and one after the rejected ones");
      const [first, second] = ofDevice(ctx.sent, "Custom Device");
      const values = first!.telemetry![0]!.values;
      expect(typeof values.celsius).toBe("number");
      expect(values.fahrenheit).toBeCloseTo((values.celsius as number) * 1.8 + 32, 9);
      expect(first).toEqual({
        deviceName: "Custom Device",
        deviceType: "celsius",
        attributes: { powerType: "Int32/Scalar/Good/true/ns=1;s=MyObject.Power", powerKw: 1.5 },
        telemetry: [
          {
            values: {
              call: 1,
              celsius: values.celsius,
              fahrenheit: values.fahrenheit,
              // 2^60 + 1 exact (node-opcua's [high, low] pair made an integer), a Double array as a plain array
              big: 2n ** 60n + 1n,
              bigIs: "bigint/gateway",
              arr: [1, 2.5],
              arrIs: "array/sourcetimestamp",
            },
          },
        ],
      });
      expect(second!.telemetry![0]!.values.call).toBe(4);
      await waitUntil(() => logs.some((l) => l.message === 'device "Custom Device": custom converter CelsiusOpcUaConverter works again'), 10_000, "the recovery line");
      await ctx.waitFor((s) => ofDevice(s, "Plain Device").length >= 1, 10_000, "the built-in conversion for the other mapping");
      expect(ofDevice(ctx.sent, "Plain Device")[0]!.telemetry![0]!.values).toEqual({ humidity: 40.5 });
      const errors = logs.filter((l) => l.level === "ERROR" && l.message.includes("converter")).map((l) => l.message);
      expect(errors).toHaveLength(2);
      expect(errors).toContain('device "Custom Device": custom converter CelsiusOpcUaConverter failed: batch rejected for a test; this message is dropped, the connector goes on (logged again only when the error changes)');
      expect(errors.find((e) => e.includes("Plain Device"))).toMatch(
        /^device "Plain Device" \(mapping "Root\\\.Objects\\\.MyObject"\): converter NoSuchOpcUaConverter cannot be used \(custom converter class NoSuchOpcUaConverter not found in .*extensions\/opcua; the folder exports: CelsiusOpcUaConverter \(celsius\.ts\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/,
      );
      expect(logs.some((l) => l.message === "built for Custom Device (celsius) from Root\\.Objects\\.MyObject")).toBe(true);
    });
  }, 45_000);

  test("with subscriptions every notification batch goes through a .js class; results without a device name get the device's", async () => {
    const dir = extensionsWith({
      "trend.js": `
export class TrendOpcUaConverter {
  convert(configs, values) {
    return { telemetry: configs.map((c, i) => ({ values: { [c.key + "Trend"]: values[i].value.value } })) };
  }
}`,
    });
    const raw = {
      // a minute between polls: changes can only arrive as notifications
      server: { url: peer.url, enableSubscriptions: true, pollPeriodInMillis: 60_000, subDataMinBatchCreationTimeMs: 50 },
      mapping: [{ deviceNodePattern: "Root\\.Objects\\.MyObject", deviceInfo: { deviceNameExpression: "Trend Device", deviceProfileExpression: "trend" }, converter: "TrendOpcUaConverter", timeseries: [{ key: "temperature", type: "path", value: "${Temperature}" }] }],
    };
    await withConnector(raw, dir, async (ctx, logs) => {
      const trend = () => new Set(ctx.sent.flatMap((d) => (d.telemetry ?? []).map((t) => t.values.temperatureTrend)).filter((v) => v !== undefined));
      await ctx.waitFor(() => trend().size >= 3, 20_000, "three distinct temperatures through the class");
      expect(ctx.sent.every((d) => d.deviceName === "Trend Device" && d.deviceType === "trend")).toBe(true);
      expect(logs.filter((l) => l.level === "ERROR" && l.message.includes("converter"))).toEqual([]);
    });
  }, 45_000);
});

describe("opcua custom uplink converter in the compiled binary", () => {
  const platform = platformForEachTest();
  beforeAll(() => {
    gatewayBinary();
  }, 240_000);

  test("upstream opcua.json with converter set: the class's keys reach the platform; a mapping with a missing class still delivers", async () => {
    let gw: Started | undefined;
    try {
      const opcua = opcuaSample(peer.url, 300);
      opcua.mapping[0].converter = "SampleOpcUaConverter";
      opcua.mapping.push({ ...structuredClone(opcua.mapping[0]), converter: "NoSuchOpcUaConverter", deviceInfo: { ...opcua.mapping[0].deviceInfo, deviceNameExpression: "Fallback Device" } });
      const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "opcua", name: "OPC-UA Connector", configuration: "opcua.json" }]), { "opcua.json": opcua });
      mkdirSync(join(files.dir, "extensions", "opcua"), { recursive: true });
      writeFileSync(
        join(files.dir, "extensions", "opcua", "sample_converter.js"),
        `
export class SampleOpcUaConverter {
  constructor(config) { this.name = config.deviceName; }
  convert(configs, values) {
    const attributes = [];
    const telemetry = [];
    configs.forEach((c, i) => {
      const v = values[i].value.value;
      if (c.section === "attributes") attributes.push({ [c.key + "Via"]: values[i].value.dataType + ":" + v });
      else telemetry.push({ [c.key + "Via"]: typeof v === "number" ? Math.round(v * 10) : String(v) });
    });
    return { deviceName: this.name, deviceType: "via-class", attributes, telemetry };
  }
}`,
      );
      gw = await startGatewayFrom("binary", files.configPath);
      const tel = (device: string, key: string) => platform.harness.telemetry().filter((r) => r.device === device && r.key === key);
      await platform.harness.waitFor(() => tel("Demo Device", "humidityVia").length > 0 && tel("Demo Device", "relayVia").length > 0, 30_000, "telemetry through the class");
      expect(tel("Demo Device", "humidityVia")[0]!.value).toBe(405);
      expect(tel("Demo Device", "relayVia")[0]!.value).toBe("false");
      expect(tel("Demo Device", "humidity")).toEqual([]);
      const attrs = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body["Demo Device"]?.powerVia !== undefined), 15_000, "attributes through the class");
      expect(attrs.body).toEqual({ "Demo Device": { frequencyVia: "Double:50", powerVia: "Int32:1500" } });
      await platform.harness.waitFor(() => tel("Fallback Device", "humidity").length > 0, 15_000, "the built-in conversion of the mapping whose class is missing");
      expect(tel("Fallback Device", "humidity")[0]!.value).toBe(40.5);
      const out = gw.output();
      expect(out).toMatch(/device "Fallback Device" \(mapping "Root\\\.Objects\\\.MyObject"\): converter NoSuchOpcUaConverter cannot be used \(custom converter class NoSuchOpcUaConverter not found in .*extensions\/opcua; the folder exports: SampleOpcUaConverter \(sample_converter\.js\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)/);
      expect(out.match(/cannot be used/g)).toHaveLength(1);
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await gw?.stop();
    }
  }, 60_000);
});
