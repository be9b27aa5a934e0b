// A custom BACnet uplink converter (upstream's `devices[].uplinkConverter`) from
// <config folder>/extensions/bacnet/, against the BACnet device processes the other tests use
// (test-peer.ts on 127.0.0.2): built per discovered device with the device entry plus upstream's
// UplinkConverterConfig fields (deviceName, deviceType, deviceDetails, objectsToRead), called per
// poll with the items read and the read results as (objectIdentifier, propertyIdentifier,
// arrayIndex, value) tuples, values unrounded and a failed property as an Error; polls it throws on
// are dropped and logged once until it works again; a device whose class is missing is one error
// and its values go through the built-in conversion. Then the same through the compiled binary
// with the upstream sample bacnet.json and the platform harness.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForEachTest } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { freeUdpPort } from "../../../test/support/ports.ts";
import type { Started } from "../../../test/support/process.ts";
import { bacnetSample, upstreamMain } from "../../../test/support/upstream.ts";
import { addLogSink, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { BacnetConnector } from "./connector.ts";
import { PEER_HOST, startPeer } from "./peer-process.ts";
import { BacnetConfigSchema } from "./schema.ts";

type Peer = Awaited<ReturnType<typeof startPeer>>;

// TypeScript, as a user would write it; polls 2 and 3 are rejected to show the error handling.
const COMFORT_TS = `
type Result = [[string, number], string, number | null, unknown];
export class ComfortBacnetConverter {
  private polls = 0;
  private readonly built: string;
  constructor(private readonly config: any, log: { info(m: string): void }) {
    const d = config.deviceDetails;
    this.built = \`\${config.deviceName}/\${config.deviceType} device \${d.objectId} vendor \${d.vendorId}; reads \${config.objectsToRead.map((o: any) => o.key + ":" + o.type + ":" + o.objectType + ":" + o.objectId).join(",")}; poll \${config.pollPeriod}\`;
    log.info("built for " + config.deviceName);
  }
  convert(objects: any[], results: Result[]) {
    this.polls++;
    if (this.polls === 2 || this.polls === 3) throw new Error("poll rejected for a test");
    const telemetry: Record<string, unknown> = { poll: this.polls, reads: results.length };
    const attributes: Record<string, unknown>[] = [{ built: this.built }];
    for (const [[type, instance], property, index, value] of results) {
      const item = objects.find((o) => o.objectType === type && o.objectId === instance && [o.propertyId].flat().includes(property));
      if (!item) continue;
      if (value instanceof Error) attributes.push({ [item.key + "Error"]: property + ": " + value.message });
      else if (item.key === "temperature") telemetry.temperatureF = (value as number) * 9 / 5 + 32;
      else if (item.key === "state") telemetry.stateIsOne = value === 1;
      else telemetry[item.key + "Raw"] = value;
    }
    return { deviceName: this.config.deviceName, deviceType: "comfort", attributes, telemetry: [telemetry] };
  }
}
`;

function device(peer: Peer, name: string, uplinkConverter: string) {
  return {
    deviceInfo: { deviceNameExpression: name, deviceProfileExpressionSource: "constant", deviceProfileExpression: "hvac" },
    host: PEER_HOST,
    port: peer.port,
    pollPeriod: 300,
    uplinkConverter,
    attributes: [{ key: "temperature", objectType: "analogInput", objectId: 1, propertyId: "presentValue" }],
    timeseries: [
      { key: "state", objectType: "binaryValue", objectId: 1, propertyId: "presentValue" },
      { key: "setpoint", objectType: "analogOutput", objectId: 2, propertyId: "presentValue" },
      { key: "missing", objectType: "analogInput", objectId: 1, propertyId: "description" },
    ],
  };
}

describe("bacnet custom uplink converter", () => {
  let comfortPeer: Peer;
  let plainPeer: Peer;
  beforeAll(async () => {
    setStderrLogging(process.env.TEST_VERBOSE === "1");
    [comfortPeer, plainPeer] = await Promise.all([startPeer(4731), startPeer(4732)]);
  }, 30_000);
  afterAll(async () => {
    await comfortPeer?.stop();
    await plainPeer?.stop();
    setStderrLogging(true);
  });

  test("uplinkConverter names a class in extensions/bacnet: polls through it; its errors once; a missing class is one error and the built-in conversion", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-bacnet-ext-"));
    mkdirSync(join(dir, "extensions", "bacnet"), { recursive: true });
    writeFileSync(join(dir, "extensions", "bacnet", "comfort.ts"), COMFORT_TS);
    const config = BacnetConfigSchema.parse({
      application: { objectName: "gw", host: "127.0.0.1", port: await freeUdpPort("127.0.0.1"), objectIdentifier: 599 },
      devices: [device(comfortPeer, "Comfort ${objectId}", "ComfortBacnetConverter"), device(plainPeer, "Plain ${objectId}", "NoSuchBacnetConverter")],
    });
    const ctx = recordingContext({ type: "bacnet", name: "BACnet custom", configDir: dir });
    const logs: LogRecord[] = [];
    const off = addLogSink((r) => r.scope.includes("BACnet custom") && logs.push(r));
    const c = new BacnetConnector(config, ctx);
    try {
      await c.start();
      await ctx.waitFor((s) => s.filter((d) => d.deviceName === "Comfort 4731").length >= 2, 20_000, "a poll before and one after the rejected ones");
      const sent = ctx.sent.filter((d) => d.deviceName === "Comfort 4731");
      expect(sent[0]).toEqual({
        deviceName: "Comfort 4731",
        deviceType: "comfort",
        attributes: {
          built: "Comfort 4731/hvac device 4731 vendor 260; reads temperature:attributes:analogInput:1,state:timeseries:binaryValue:1,setpoint:timeseries:analogOutput:2,missing:timeseries:analogInput:1; poll 300",
          // the peer has no description property: the tuple carries the BACnet error (class PROPERTY, code UNKNOWN_PROPERTY)
          missingError: "description: BACnet error class 2 code 32",
        },
        // unrounded values, the enumeration as a number: upstream hands its converter the decoded value
        telemetry: [{ values: { poll: 1, reads: 4, temperatureF: 70.7, stateIsOne: true, setpointRaw: 18.25 } }],
      });
      expect(sent[1]!.telemetry![0]!.values.poll).toBe(4);
      await waitUntil(() => logs.some((l) => l.message === "Comfort 4731: custom converter ComfortBacnetConverter works again"), 10_000, "the recovery line");
      // the device whose class is missing: the built-in conversion
      await ctx.waitFor((s) => s.some((d) => d.deviceName === "Plain 4732" && d.attributes?.temperature === 21.5), 20_000, "the built-in conversion for the other device");
      expect(ctx.sent.find((d) => d.deviceName === "Plain 4732" && d.telemetry)?.telemetry![0]!.values).toEqual({ state: "1", setpoint: 18.25 });
      // (only converter lines: a poll that fails on a loaded machine is a different, unrelated error)
      const errors = logs.filter((l) => l.level === "ERROR" && l.message.includes("converter")).map((l) => l.message);
      expect(errors).toHaveLength(2);
      expect(errors).toContain("Comfort 4731: custom converter ComfortBacnetConverter failed: poll rejected for a test; this message is dropped, the connector goes on (logged again only when the error changes)");
      expect(errors.find((e) => e.startsWith("Plain 4732"))).toMatch(
        /^Plain 4732: uplinkConverter NoSuchBacnetConverter cannot be used \(custom converter class NoSuchBacnetConverter not found in .*extensions\/bacnet; the folder exports: ComfortBacnetConverter \(comfort\.ts\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/,
      );
      expect(logs.some((l) => l.message === "built for Comfort 4731")).toBe(true);
    } finally {
      off();
      await c.stop();
    }
  }, 45_000);
});

describe("bacnet custom uplink converter in the compiled binary", () => {
  const platform = platformForEachTest();
  let comfortPeer: Peer;
  let plainPeer: Peer;
  beforeAll(async () => {
    gatewayBinary();
    [comfortPeer, plainPeer] = await Promise.all([startPeer(4733), startPeer(4734)]);
  }, 240_000);
  afterAll(async () => {
    await comfortPeer?.stop();
    await plainPeer?.stop();
  });

  test("upstream bacnet.json with uplinkConverter set: the class's keys reach the platform; a device with a missing class still delivers", async () => {
    let gw: Started | undefined;
    try {
      const bacnet = bacnetSample(await freeUdpPort("127.0.0.1"), PEER_HOST, comfortPeer.port, 300);
      const sampleDevice = bacnet.devices[0];
      sampleDevice.uplinkConverter = "SampleBacnetConverter";
      bacnet.devices.push({ ...structuredClone(sampleDevice), port: String(plainPeer.port), uplinkConverter: "NoSuchBacnetConverter", deviceInfo: { ...sampleDevice.deviceInfo, deviceNameExpression: "Fallback ${objectId}" } });
      const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "bacnet", name: "BACnet Connector", configuration: "bacnet.json" }]), { "bacnet.json": bacnet });
      mkdirSync(join(files.dir, "extensions", "bacnet"), { recursive: true });
      writeFileSync(
        join(files.dir, "extensions", "bacnet", "sample_converter.js"),
        `
export class SampleBacnetConverter {
  constructor(config) { this.config = config; }
  convert(objects, results) {
    const attributes = [];
    const telemetry = [];
    for (const [[type, instance], property, , value] of results) {
      const item = objects.find((o) => o.objectType === type && o.objectId === instance);
      if (item.key === "temperature") attributes.push({ temperatureF: value * 9 / 5 + 32, at: this.config.deviceDetails.address });
      if (item.key === "state") telemetry.push({ stateText: value === 1 ? "on" : "off", property });
    }
    return { deviceName: this.config.deviceName, deviceType: "via-class", attributes, telemetry };
  }
}`,
      );
      gw = await startGatewayFrom("binary", files.configPath);
      const DEVICE = "BACnet Device TestDevice";
      const tel = (device: string, key: string) => platform.harness.telemetry().filter((r) => r.device === device && r.key === key);
      await platform.harness.waitFor(() => tel(DEVICE, "stateText").length > 0, 20_000, "telemetry through the class");
      expect(tel(DEVICE, "stateText")[0]!.value).toBe("on");
      expect(tel(DEVICE, "property")[0]!.value).toBe("presentValue");
      expect(tel(DEVICE, "state")).toEqual([]);
      const attrs = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.temperatureF !== undefined), 15_000, "attributes through the class");
      expect(attrs.body).toEqual({ [DEVICE]: { temperatureF: 70.7, at: comfortPeer.address } });
      await platform.harness.waitFor(() => tel("Fallback 4734", "state").length > 0, 15_000, "the built-in conversion of the device whose class is missing");
      expect(tel("Fallback 4734", "state")[0]!.value).toBe("1");
      const out = gw.output();
      expect(out).toMatch(/Fallback 4734: uplinkConverter NoSuchBacnetConverter cannot be used \(custom converter class NoSuchBacnetConverter not found in .*extensions\/bacnet; the folder exports: SampleBacnetConverter \(sample_converter\.js\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)/);
      expect(out.match(/cannot be used/g)).toHaveLength(1);
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await gw?.stop();
    }
  }, 60_000);
});
