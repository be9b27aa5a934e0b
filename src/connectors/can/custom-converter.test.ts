// A custom CAN uplink converter (upstream's `devices[].converters.uplink`) from
// <config folder>/extensions/can/, on an slcan line with python-can as the device: built with the
// device entry, called per frame as upstream calls it (the configs of the device's keys on that id
// whose command matches, and the frame's bytes); a result without a device name gets the device's;
// frames it throws on are dropped and logged once until the error changes; a device whose class is
// missing is one error and the built-in devices on the same id still convert.

import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { CanConnector } from "./connector.ts";
import { CanConfigSchema } from "./schema.ts";
import { startCanPeer } from "./test/peer.ts";

const CONVERTER = `
export class SumCanConverter {
  constructor(config) { this.device = config.name; }
  convert(configs, data) {
    if (data[0] === 0xee) throw new Error("error frame from " + this.device);
    const telemetry = {};
    for (const c of configs) telemetry[c.key] = data.subarray(c.start, c.length < 0 ? undefined : c.start + c.length).reduce((a, b) => a + b, 0);
    return { telemetry: [telemetry], attributes: [{ keys: configs.map((c) => c.key + (c.is_ts ? ":ts" : ":attr")).join(",") }] };
  }
}
`;

test("converters.uplink names a class in extensions/can: frames through it; errors once; a missing class is one error and the built-in converter takes its keys", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-can-ext-"));
  mkdirSync(join(dir, "extensions", "can"), { recursive: true });
  writeFileSync(join(dir, "extensions", "can", "sum.ts"), CONVERTER);
  const peer = await startCanPeer();
  const ctx = recordingContext({ type: "can", name: "CAN custom", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("CAN custom") && logs.push(r));
  const c = new CanConnector(
    CanConfigSchema.parse({
      interface: "slcan",
      channel: peer.gatewayPath,
      reconnectPeriod: 0.2,
      devices: [
        { name: "Summer", converters: { uplink: "SumCanConverter" }, timeseries: [{ key: "sum", nodeId: 100, value: "0:-1:raw" }, { key: "other", nodeId: 100, command: "0:1:1", value: "1:2:int" }] },
        { name: "Plain", timeseries: [{ key: "temp", nodeId: 100, value: "0:2:little:int:signed" }] },
        { name: "Ghost", converters: { uplink: "NoSuchCanConverter" }, timeseries: [{ key: "x", nodeId: 100, value: "0:1:int" }] },
      ],
    }),
    ctx,
  );
  try {
    await c.start();
    await peer.send(100, false, "0203");
    await peer.send(100, false, "ee01");
    await peer.send(100, false, "ee02");
    await peer.send(100, false, "010203");
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "Summer").length >= 2 && s.filter((d) => d.deviceName === "Plain").length >= 4, 15_000, "both good frames through the class, all four through the built-in");
    const summer = ctx.sent.filter((d) => d.deviceName === "Summer");
    expect(summer).toEqual([
      { deviceName: "Summer", deviceType: "can", attributes: { keys: "sum:ts" }, telemetry: [{ values: { sum: 5 } }] },
      // the second key's command (first byte 1) matches this frame: both configs handed over
      { deviceName: "Summer", deviceType: "can", attributes: { keys: "sum:ts,other:ts" }, telemetry: [{ values: { sum: 6, other: 5 } }] },
    ]);
    expect(ctx.sent.filter((d) => d.deviceName === "Plain").map((d) => d.telemetry![0]!.values.temp)).toEqual([0x0302, 0x01ee, 0x02ee, 0x0201]);
    // its class is missing, its keys are configured: the built-in converter reads them (one rule for every connector)
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "Ghost").length >= 4, 10_000, "Ghost's frames through the built-in converter");
    expect(ctx.sent.filter((d) => d.deviceName === "Ghost").map((d) => d.telemetry![0]!.values.x)).toEqual([2, 0xee, 0xee, 1]);
    await waitUntil(() => logs.some((l) => l.message.includes("SumCanConverter works again")), 10_000, "the recovery line");
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^device "Ghost": converter NoSuchCanConverter cannot be used \(custom converter class NoSuchCanConverter not found in .*extensions\/can; the folder exports: SumCanConverter \(sum\.ts\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/);
    expect(errors[1]).toBe('device "Summer": custom converter SumCanConverter failed: error frame from Summer; this message is dropped, the connector goes on (logged again only when the error changes)');
  } finally {
    off();
    await c.stop();
    await peer.stop();
  }
}, 40_000);
