// A custom CAN downlink converter (upstream's `devices[].converters.downlink`) from
// <config folder>/extensions/can/, on an slcan line with python-can as the device: built with the
// device entry, called as upstream calls it (`convert(rule, {value})` for an attribute update,
// `convert(rule, params)` for an RPC), its bytes become the frame's data; a converter that throws
// or returns something unusable fails that update / RPC with the reason and no frame is written; a
// device whose class is missing is one error at start and its writes fail with it. Then the
// upstream sample can.json with a TypeScript class through the compiled binary.

beforeAll(() => {
  gatewayBinary();
}, 240_000);

import { beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startMosquitto } from "../../../test/support/mosquitto.ts";
import { deviceRpcReply, startPlatformHarness } from "../../../test/support/platform.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import type { Started } from "../../../test/support/process.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { CanConnector } from "./connector.ts";
import { CanConfigSchema } from "./schema.ts";
import { startCanPeer } from "./test/peer.ts";

// A frame the built-in encoding would not make: a marker byte, the rule's nodeId low byte, and the
// value as a 16-bit big-endian number ×10 with a checksum byte; refuses and misbehaves on demand.
const CONVERTER = `
export class ChecksumCanDownlink {
  constructor(config) { this.device = config.name; }
  async convert(rule, data) {
    const v = data.value;
    if (v === "boom") throw new Error("refused by " + this.device);
    if (v === "wide") return [1, 2, 3, 4, 5, 6, 7, 8, 9];
    if (v === "text") return "0102";
    if (v === "empty") return [];
    const n = Math.round(Number(v) * 10);
    const bytes = [0xa5, rule.nodeId & 0xff, (n >> 8) & 0xff, n & 0xff];
    bytes.push(bytes.reduce((a, b) => a ^ b, 0));
    return data.asBuffer ? Buffer.from(bytes) : bytes;
  }
}
`;

test("converters.downlink names a class in extensions/can: its bytes are the frame; a throwing or unusable result fails with the reason and writes nothing; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-can-dl-"));
  mkdirSync(join(dir, "extensions", "can"), { recursive: true });
  writeFileSync(join(dir, "extensions", "can", "checksum.js"), CONVERTER);
  const peer = await startCanPeer();
  const ctx = recordingContext({ type: "can", name: "CAN downlink", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("CAN downlink") && logs.push(r));
  const c = new CanConnector(
    CanConfigSchema.parse({
      interface: "slcan",
      channel: peer.gatewayPath,
      reconnectPeriod: 0.2,
      devices: [
        {
          name: "Heater",
          converters: { downlink: "ChecksumCanDownlink" },
          attributeUpdates: [{ attributeOnThingsBoard: "setpoint", nodeId: 0x123, dataLength: 2 }],
          serverSideRpc: [{ method: "setLevel", nodeId: 0x1abcde, isExtendedId: true, dataLength: 1 }],
        },
        { name: "Ghost", converters: { downlink: "NoSuchCanDownlink" }, serverSideRpc: [{ method: "setLevel", nodeId: 9, dataLength: 1 }] },
      ],
    }),
    ctx,
  );
  try {
    await c.start();
    await c.onAttributeUpdate({ device: "Heater", data: { setpoint: 21.5 } });
    // 215 = 0x00d7; the built-in (float, 4 bytes IEEE) would write 41ac0000
    await peer.until((f) => f.find((x) => x.id === 0x123), "the setpoint frame");
    expect(peer.received()).toEqual([{ id: 0x123, extended: false, data: "a52300d7" + (0xa5 ^ 0x23 ^ 0x00 ^ 0xd7).toString(16).padStart(2, "0") }]);

    expect(await c.onRpc({ device: "Heater", id: 1, method: "setLevel", params: { value: 3, asBuffer: true } })).toEqual({ success: true });
    await peer.until((f) => (f.length >= 2 ? f : undefined), "the RPC frame");
    expect(peer.received()[1]).toEqual({ id: 0x1abcde, extended: true, data: "a5de001e" + (0xa5 ^ 0xde ^ 0x00 ^ 0x1e).toString(16).padStart(2, "0") });

    const fail = (method: string, params: unknown) => c.onRpc({ device: "Heater", id: 2, method, params });
    expect(await fail("setLevel", { value: "boom" })).toEqual({ success: false, error: "custom downlink converter ChecksumCanDownlink failed: refused by Heater" });
    expect(await fail("setLevel", { value: "wide" })).toEqual({
      success: false,
      error: "custom downlink converter ChecksumCanDownlink returned [1,2,3,4,5,6,7,8,9], which cannot be written: 9 bytes do not fit in a classic CAN frame (at most 8; set isFd for CAN FD)",
    });
    expect(await fail("setLevel", { value: "text" })).toEqual({
      success: false,
      error: 'custom downlink converter ChecksumCanDownlink returned "0102", which cannot be written: give the frame data as a list of integers 0..255 or a byte array',
    });
    expect(await fail("setLevel", { value: "empty" })).toEqual({ success: false, error: "custom downlink converter ChecksumCanDownlink returned [], which cannot be written: Converted data is empty." });
    await c.onAttributeUpdate({ device: "Heater", data: { setpoint: "boom" } });
    const ghost = (await c.onRpc({ device: "Ghost", id: 3, method: "setLevel", params: { value: 1 } })) as { success: boolean; error: string };
    expect(ghost.success).toBe(false);
    expect(ghost.error).toMatch(/^custom downlink converter NoSuchCanDownlink failed: it could not be loaded \(custom converter class NoSuchCanDownlink not found in .*extensions\/can; the folder exports: ChecksumCanDownlink \(checksum\.js\)\)$/);

    // none of the refusals reached the bus: the next good write is the third frame
    expect(await c.onRpc({ device: "Heater", id: 4, method: "setLevel", params: { value: 0.1 } })).toEqual({ success: true });
    await peer.until((f) => (f.length >= 3 ? f : undefined), "the good frame after the refusals");
    expect(peer.received().slice(2)).toEqual([{ id: 0x1abcde, extended: true, data: "a5de0001" + (0xa5 ^ 0xde ^ 0x01).toString(16).padStart(2, "0") }]);
    expect(c.counters.sent).toBe(3);

    await waitUntil(() => logs.some((l) => l.message.includes('writing attribute "setpoint" failed')), 10_000, "the failed attribute update's log line");
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors[0]).toMatch(/^device "Ghost": downlink converter NoSuchCanDownlink cannot be used \(custom converter class NoSuchCanDownlink not found in .*extensions\/can; the folder exports: ChecksumCanDownlink \(checksum\.js\)\); its attribute updates and RPC fail until it is fixed$/);
    expect(errors).toContain('Heater: writing attribute "setpoint" failed: custom downlink converter ChecksumCanDownlink failed: refused by Heater');
  } finally {
    off();
    await c.stop();
    await peer.stop();
  }
}, 40_000);

// The sample's Car with `converters.downlink`: a version frame and a speed capped at 30, in TypeScript.
const CAR_CONVERTER = `
type Rule = { nodeId: number; dataExpression?: string };
export class CarCanDownlink {
  convert(rule: Rule, data: Record<string, number | string>): number[] {
    if ("value" in data) return [0x56, Number(data.value)];
    if (data.userSpeed === "refuse") throw new Error("speed " + data.userSpeed + " refused for node " + rule.nodeId);
    return [Math.min(Number(data.userSpeed), Number(data.maxAllowedSpeed), 30), 0xff];
  }
}
`;

test("upstream can.json with a TypeScript converters.downlink through the compiled binary: its frames reach the bus, a refusal is the RPC reply", async () => {
  const peer = await startCanPeer();
  const platform = await startMosquitto();
  const harness = await startPlatformHarness(platform.url);
  let gw: Started | undefined;
  try {
    const canCfg = JSON.parse(readFileSync(join(SAMPLES, "can.json"), "utf8"));
    canCfg.interface = "slcan";
    canCfg.channel = peer.gatewayPath;
    canCfg.devices[0].converters = { downlink: "CarCanDownlink" };
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "can", name: "CAN sample", configuration: "can.json" }]), { "can.json": canCfg });
    mkdirSync(join(files.dir, "extensions", "can"), { recursive: true });
    writeFileSync(join(files.dir, "extensions", "can", "car.ts"), CAR_CONVERTER);
    gw = await startGatewayFrom("binary", files.configPath);
    await harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === "Car"), 15_000, "device connect");

    // the built-in would write (10 + 5) as 0f000000
    await harness.sendAttributeUpdate("Car", { softwareVersion: 10 });
    expect(await peer.until((f) => f.find((x) => x.id === 64), "the version frame")).toEqual({ id: 64, extended: true, data: "560a" });
    // the built-in would write 280102 (40, then dataAfter)
    await harness.sendDeviceRpc("Car", 31, "setSpeed", { userSpeed: 50, maxAllowedSpeed: 40 });
    expect(await peer.until((f) => f.find((x) => x.id === 16), "the speed frame")).toEqual({ id: 16, extended: false, data: "1eff" });
    expect((await harness.waitFor((h) => deviceRpcReply(h, 31), 10_000, "setSpeed reply")).body.data).toEqual({ success: true });

    const frames = peer.received().length;
    await harness.sendDeviceRpc("Car", 32, "setSpeed", { userSpeed: "refuse", maxAllowedSpeed: 40 });
    expect((await harness.waitFor((h) => deviceRpcReply(h, 32), 10_000, "the refused reply")).body.data).toEqual({
      success: false,
      error: "custom downlink converter CarCanDownlink failed: speed refuse refused for node 16",
    });
    expect(peer.received().slice(frames).filter((f) => f.id === 16)).toEqual([]);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await harness.close().catch(() => undefined);
    await platform.dispose();
    await peer.stop();
  }
}, 120_000);
