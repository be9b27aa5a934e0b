// A custom KNX uplink converter (upstream's `devices[].uplinkConverter`) from
// <config folder>/extensions/knx/, against Debian's knxd (the existing helper): built with the
// device entry, called per poll with upstream's shape (group address → {type, response, keys});
// its legacy dict reaches storage; polls it throws on are dropped and logged once until the error
// changes, then polling goes on; a device whose class is missing is one error, the others are polled.

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { KnxConnector } from "./connector.ts";
import { KnxConfigSchema } from "./schema.ts";
import { startKnxd, type Knxd } from "./test/knxd.ts";

let knxd: Knxd | undefined;
let connector: KnxConnector | undefined;
afterEach(async () => {
  await connector?.stop();
  await knxd?.stop();
  connector = knxd = undefined;
});

const CONVERTER = `
export class RoomKnxConverter {
  constructor(config) { this.polls = 0; this.unit = config.deviceInfo.deviceProfileNameExpression; }
  convert(config, data) {
    this.polls++;
    if (this.polls === 2 || this.polls === 3) throw new Error("poll rejected for a test");
    const name = Object.values(data).find((e) => e.keys.includes("deviceName")).response;
    const telemetry = [];
    const attributes = [];
    for (const [ga, e] of Object.entries(data)) {
      for (const k of e.keys) if (k !== "deviceName") telemetry.push({ [k]: e.response });
      attributes.push({ ["type_" + ga]: e.type });
    }
    telemetry.push({ poll: this.polls });
    return { deviceName: "Custom " + name, deviceType: this.unit, attributes, telemetry };
  }
}
`;

test("devices[].uplinkConverter names a class in extensions/knx: polls through it; its errors once; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-knx-ext-"));
  mkdirSync(join(dir, "extensions", "knx"), { recursive: true });
  writeFileSync(join(dir, "extensions", "knx", "room.js"), CONVERTER);
  knxd = await startKnxd({ "1/0/6": "0c33", "1/0/7": "0fd0", "2/0/1": "4b4e5820310000000000000000" });
  const config = KnxConfigSchema.parse({
    client: { type: "TUNNELING", gatewayIp: knxd.host, gatewayPort: knxd.port, readTimeout: 10 },
    devices: [
      {
        deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "${2/0/1}", deviceNameDataType: "string", deviceProfileExpressionSource: "constant", deviceProfileNameExpression: "room" },
        pollPeriod: 300,
        uplinkConverter: "RoomKnxConverter",
        timeseries: [{ key: "temperature", type: "temperature", groupAddress: "1/0/6" }, { key: "humidity", type: "humidity", groupAddress: "1/0/7" }],
      },
      { deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "Ghost" }, uplinkConverter: "NoSuchKnxConverter", timeseries: [{ key: "t", type: "temperature", groupAddress: "1/0/6" }] },
    ],
  });
  const ctx = recordingContext({ type: "knx", name: "KNX custom", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("KNX custom") && logs.push(r));
  try {
    connector = new KnxConnector(config, ctx);
    await connector.start();
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "Custom KNX 1").length >= 2, 60_000, "a poll before and one after the rejected ones");
    const sent = ctx.sent.filter((d) => d.deviceName === "Custom KNX 1");
    expect(sent[0]).toEqual({
      deviceName: "Custom KNX 1",
      deviceType: "room",
      attributes: { "type_1/0/6": "temperature", "type_1/0/7": "humidity", "type_2/0/1": "string" },
      telemetry: [{ values: { temperature: 21.5 } }, { values: { humidity: 40 } }, { values: { poll: 1 } }],
    });
    expect(sent[1]!.telemetry!.at(-1)!.values.poll).toBe(4);
    // its class is missing, its keys are configured: the built-in converter reads them (one rule for every connector)
    await ctx.waitFor((s) => s.some((d) => d.deviceName === "Ghost"), 30_000, "Ghost polled with the built-in converter");
    expect(ctx.sent.find((d) => d.deviceName === "Ghost")!.telemetry![0]!.values).toEqual({ t: 21.5 });
    await waitUntil(() => logs.some((l) => l.message.includes("RoomKnxConverter works again")), 10_000, "the recovery line");
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^device #1 \("Ghost"\): converter NoSuchKnxConverter cannot be used \(custom converter class NoSuchKnxConverter not found in .*extensions\/knx; the folder exports: RoomKnxConverter \(room\.js\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/);
    expect(errors[1]).toBe('device #0 ("${2/0/1}"): custom converter RoomKnxConverter failed: poll rejected for a test; this message is dropped, the connector goes on (logged again only when the error changes)');
  } finally {
    off();
  }
}, 90_000);
