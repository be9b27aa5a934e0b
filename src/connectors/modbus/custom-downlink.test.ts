// A custom Modbus downlink converter (upstream's `slaves[].downlinkConverter`) from
// <config folder>/extensions/modbus/, against the pymodbus peer: built with the slave entry, called
// as upstream's connector calls it (`convert({...keyConfig, byteOrder, wordOrder, unitId},
// {device, data: {method, params}})`), its coil values / registers / bytes written as they are; a
// converter that throws or returns something unusable fails that write with the reason (the RPC
// reply carries it) and nothing reaches the device; a missing class is one error at start and the
// slave's writes fail with it. Then the upstream sample modbus.json through the compiled binary.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startMosquitto } from "../../../test/support/mosquitto.ts";
import { deviceRpcReply, startPlatformHarness } from "../../../test/support/platform.ts";
import { freePort } from "../../../test/support/ports.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { modbusSample, upstreamMain } from "../../../test/support/upstream.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { peerWrites, startPeer, waitForOutput } from "./test/peer.ts";

let peer: Started;
let port: number;
beforeAll(async () => {
  gatewayBinary();
  port = await freePort();
  peer = await startPeer({ port, units: [1, 2], co: { 1: 1 } });
}, 240_000);
afterAll(async () => {
  await peer?.stop();
});

// Writes values the built-in encoding would not: a setpoint ×100 as 4 big-endian bytes, a level
// offset by the byte order it was told, inverted coils (asynchronously), and refuses on demand.
const CONVERTER = `
export class SetpointDownlink {
  constructor(config, log) { this.slave = config.deviceName; }
  convert(config, content) {
    const p = content.data.params;
    if (p === "boom") throw new Error("refused for a test");
    if (p === "garbage") return ["x"];
    if (p === "nothing") return undefined;
    switch (config.functionCode) {
      case 16: { const b = Buffer.alloc(4); b.writeInt32BE(Math.round(p * 100)); return b; }
      case 6: return [p + (config.byteOrder === "BIG" ? 1000 : 2000) + config.unitId];
      case 5: return Promise.resolve(!p);
      case 15: return p.map((b) => (b ? 0 : 1)).reverse();
    }
  }
}
`;

test("slaves[].downlinkConverter: its registers, bytes and coils reach the device; a throwing or unusable result fails the write with the reason; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-modbus-dl-"));
  mkdirSync(join(dir, "extensions", "modbus"), { recursive: true });
  writeFileSync(join(dir, "extensions", "modbus", "setpoint.js"), CONVERTER);
  const slave = (deviceName: string, unitId: number, downlinkConverter: string) => ({
    deviceName, host: "127.0.0.1", port, type: "tcp", method: "socket", unitId, pollPeriod: 60_000, timeout: 2, byteOrder: "BIG", downlinkConverter,
    attributeUpdates: [{ tag: "setpoint", type: "32int", functionCode: 16, objectsCount: 2, address: 20 }],
    rpc: [
      { tag: "setLevel", type: "16uint", functionCode: 6, objectsCount: 1, address: 30 },
      { tag: "setRelay", type: "bits", functionCode: 5, objectsCount: 1, address: 1 },
      { tag: "setFlags", type: "bits", functionCode: 15, objectsCount: 3, address: 40 },
      { tag: "getLevel", type: "16uint", functionCode: 3, objectsCount: 1, address: 30 },
    ],
  });
  const ctx = recordingContext({ type: "modbus", name: "Modbus downlink", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("Modbus downlink") && logs.push(r));
  const c = new ModbusConnector(ModbusConfigSchema.parse({ master: { slaves: [slave("custom", 1, "SetpointDownlink"), slave("ghost", 2, "NoSuchDownlink")] } }), ctx);
  const rpc = (device: string, id: number, method: string, params: unknown) => c.onRpc({ device, id, method, params });
  const writesSince = (mark: number) => peerWrites(peer.output().slice(mark));
  try {
    await c.start();
    let mark = peer.output().length;
    await c.onAttributeUpdate({ device: "custom", data: { setpoint: 21.5 } });
    await waitForOutput(peer, (o) => peerWrites(o.slice(mark)).length >= 1, 10_000, "the setpoint write");
    // 2150 as the converter's four bytes; the built-in 32int (wordOrder LITTLE) would write [21, 0]
    expect(writesSince(mark)).toEqual([{ unit: 1, table: "hr", address: 20, values: [0, 2150] }]);

    mark = peer.output().length;
    expect(await rpc("custom", 1, "setLevel", 7)).toEqual({ result: { value: 7 } });
    expect(await rpc("custom", 2, "setRelay", true)).toEqual({ result: { value: true } });
    expect(await rpc("custom", 3, "setFlags", [1, 1, 0])).toEqual({ result: { value: [1, 1, 0] } });
    await waitForOutput(peer, (o) => peerWrites(o.slice(mark)).length >= 3, 10_000, "three RPC writes");
    expect(writesSince(mark)).toEqual([
      { unit: 1, table: "hr", address: 30, values: [1008] },
      { unit: 1, table: "co", address: 1, values: [0] },
      { unit: 1, table: "co", address: 40, values: [1, 0, 0] },
    ]);
    expect(await rpc("custom", 4, "getLevel", null)).toEqual({ result: { value: 1008 } });
    // the reserved set: the class gets the value parsed from the text
    mark = peer.output().length;
    expect(await rpc("custom", 10, "set", "type=16uint;functionCode=6;objectsCount=1;address=31;value=4;")).toEqual({ result: { value: 4 } });
    await waitForOutput(peer, (o) => peerWrites(o.slice(mark)).length >= 1, 10_000, "the reserved set's write");
    expect(writesSince(mark)).toEqual([{ unit: 1, table: "hr", address: 31, values: [1005] }]);

    // refusals: the reply carries the reason and the device sees nothing (the next good write is the first it sees)
    mark = peer.output().length;
    expect(await rpc("custom", 5, "setLevel", "boom")).toEqual({ result: { error: "custom downlink converter SetpointDownlink failed: refused for a test" } });
    expect(await rpc("custom", 6, "setLevel", "garbage")).toEqual({
      result: { error: 'custom downlink converter SetpointDownlink returned ["x"], which cannot be written: register 0 is "x"; give integers 0..65535' },
    });
    expect(await rpc("custom", 7, "setRelay", "nothing")).toEqual({
      result: { error: "custom downlink converter SetpointDownlink returned nothing, which cannot be written: coil 0 is undefined; give true/false or 0/1" },
    });
    await c.onAttributeUpdate({ device: "custom", data: { setpoint: "boom" } });
    expect(await rpc("custom", 8, "setLevel", 9)).toEqual({ result: { value: 9 } });
    await waitForOutput(peer, (o) => peerWrites(o.slice(mark)).length >= 1, 10_000, "the good write");
    expect(writesSince(mark)).toEqual([{ unit: 1, table: "hr", address: 30, values: [1010] }]);

    // the slave whose class is missing: its writes fail with the reason, never with the built-in encoding
    const ghost = (await rpc("ghost", 9, "setLevel", 5)) as { result: { error: string } };
    expect(ghost.result.error).toMatch(/^custom downlink converter NoSuchDownlink failed: it could not be loaded \(custom converter class NoSuchDownlink not found in .*extensions\/modbus; the folder exports: SetpointDownlink \(setpoint\.js\)\)$/);
    expect(writesSince(mark)).toHaveLength(1);

    await waitUntil(() => logs.some((l) => l.message.includes("writing setpoint")), 10_000, "the failed attribute update's log line");
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^ghost: downlink converter NoSuchDownlink cannot be used \(custom converter class NoSuchDownlink not found in .*extensions\/modbus; the folder exports: SetpointDownlink \(setpoint\.js\)\); attribute updates and RPC writes to this slave fail until it is fixed$/);
    expect(errors[1]).toBe("custom: writing setpoint (fc 16 address 20) failed: custom downlink converter SetpointDownlink failed: refused for a test");
  } finally {
    off();
    await c.stop();
  }
}, 60_000);

// The upstream sample with `downlinkConverter` added to its TCP slave; the class is TypeScript.
const RELAY_CONVERTER = `
export class InvertingRelayConverter {
  constructor(private readonly config: { deviceName: string }) {}
  convert(config: { functionCode: number; tag: string }, content: { device: string; data: { method: string; params: unknown } }): boolean[] {
    if (content.data.params === "refuse") throw new Error(\`\${content.device} refuses \${config.tag}\`);
    return [!content.data.params];
  }
}
`;

test("upstream modbus.json with a TypeScript downlinkConverter through the compiled binary: attribute update and RPC written inverted, a refusal in the RPC reply", async () => {
  const platform = await startMosquitto();
  const harness = await startPlatformHarness(platform.url);
  let gw: Started | undefined;
  try {
    const config = modbusSample(port, await freePort());
    config.master.slaves[0].downlinkConverter = "InvertingRelayConverter";
    const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "modbus", name: "Modbus TCP", configuration: "modbus.json" }]), { "modbus.json": config });
    mkdirSync(join(files.dir, "extensions", "modbus"), { recursive: true });
    writeFileSync(join(files.dir, "extensions", "modbus", "relay.ts"), RELAY_CONVERTER);
    gw = await startGatewayFrom("binary", files.configPath);
    await harness.waitFor((h) => h.telemetry().some((r) => r.device === "Demo Device"), 20_000, "the device's telemetry");

    let mark = peer.output().length;
    await harness.sendAttributeUpdate("Demo Device", { relay: false });
    await waitForOutput(peer, (o) => peerWrites(o.slice(mark)).length > 0, 10_000, "the relay write");
    expect(peerWrites(peer.output().slice(mark))).toEqual([{ unit: 1, table: "co", address: 1, values: [1] }]);

    mark = peer.output().length;
    await harness.sendDeviceRpc("Demo Device", 21, "setRelay", true);
    expect((await harness.waitFor((h) => deviceRpcReply(h, 21), 10_000, "setRelay reply")).body.data).toEqual({ value: true });
    await waitForOutput(peer, (o) => peerWrites(o.slice(mark)).length > 0, 10_000, "the setRelay write");
    expect(peerWrites(peer.output().slice(mark))).toEqual([{ unit: 1, table: "co", address: 1, values: [0] }]);

    await harness.sendDeviceRpc("Demo Device", 22, "setRelay", "refuse");
    expect((await harness.waitFor((h) => deviceRpcReply(h, 22), 10_000, "the refused reply")).body.data).toEqual({
      error: "custom downlink converter InvertingRelayConverter failed: Demo Device refuses setRelay",
    });
    await harness.sendDeviceRpc("Demo Device", 23, "getRelay", null);
    expect((await harness.waitFor((h) => deviceRpcReply(h, 23), 10_000, "getRelay reply")).body.data).toEqual({ value: false });
    expect(peerWrites(peer.output().slice(mark))).toHaveLength(1);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await harness.close().catch(() => undefined);
    await platform.dispose();
  }
}, 120_000);
