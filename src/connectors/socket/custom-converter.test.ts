// A custom Socket uplink converter from <config>/extensions/socket/ (upstream's devices[].converter),
// with Python's socket module (test/peer.py) as the device: built with {deviceName, deviceType},
// handed the device config and the frame's bytes; a device whose converter is missing is one error
// and the others still convert.

import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { freePort } from "../../../test/support/ports.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { SocketConnector } from "./connector.ts";
import { SocketConfigSchema } from "./schema.ts";
import { startPyPeer } from "./test/peer.ts";

test("devices[].converter names a class in extensions/socket: it converts the bytes; a missing one is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-socket-ext-"));
  mkdirSync(join(dir, "extensions", "socket"), { recursive: true });
  writeFileSync(
    join(dir, "extensions", "socket", "counter_converter.ts"),
    `export class CounterSocketUplinkConverter {
      constructor(config) { this.device = config; }
      convert(deviceConfig, data) {
        return { deviceName: this.device.deviceName, deviceType: this.device.deviceType, telemetry: [{ count: data.readUInt16BE(0), from: deviceConfig.address }] };
      }
    }`,
  );
  const port = await freePort();
  const config = SocketConfigSchema.parse({
    socket: { port, framing: { type: "fixed", length: 2 } },
    devices: [
      { address: "127.0.0.1:*", deviceName: "counter", deviceType: "pulses", converter: "CounterSocketUplinkConverter" },
      { address: "127.0.0.1:*", deviceName: "ghost", converter: "NoSuchConverter" },
      { address: "127.0.0.1:*", deviceName: "plain", telemetry: [{ key: "hex", byteFrom: 0, byteTo: -1 }], encoding: "hex" },
    ],
  });
  const ctx = recordingContext({ type: "socket", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  const c = new SocketConnector(config, ctx);
  try {
    await c.start();
    await waitUntil(() => logs.some((l) => /socket is up/.test(l.message)), 10_000, "the socket listening");
    const { peer } = await startPyPeer(["tcp-client", "127.0.0.1", String(port)]);
    try {
      await peer.cmd("send 01f4");
      await ctx.waitFor((s) => s.length >= 2, 10_000, "the frame converted by both usable devices");
    } finally {
      await peer.stop();
    }
    expect(ctx.sent.find((d) => d.deviceName === "counter")).toEqual({ deviceName: "counter", deviceType: "pulses", telemetry: [{ values: { count: 500, from: "127.0.0.1:*" } }] });
    expect(ctx.sent.find((d) => d.deviceName === "plain")?.telemetry?.[0]?.values.hex).toBe("01f4");
    expect(ctx.sent.some((d) => d.deviceName === "ghost")).toBe(false);
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^ghost: converter NoSuchConverter cannot be used \(custom converter class NoSuchConverter not found in .*extensions\/socket; the folder exports: CounterSocketUplinkConverter \(counter_converter\.ts\)\); this device's data is dropped$/);
  } finally {
    await c.stop();
    off();
  }
}, 30_000);
