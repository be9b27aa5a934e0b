// A custom Modbus uplink converter (upstream's `slaves[].uplinkConverter`) from
// <config folder>/extensions/modbus/, against the pymodbus peer: built with the slave entry, called
// per poll with upstream's shape ({attributes|timeseries: {tag: {data_sent, input_data}}}, the
// registers or bits undecoded, as pymodbus responses carry them); polls it throws on are dropped
// and logged once until the error changes; a slave whose class is missing is one error, the
// others are polled.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { freePort } from "../../../test/support/ports.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { startPeer } from "./test/peer.ts";

let peer: Started;
let port: number;
beforeAll(async () => {
  port = await freePort();
  peer = await startPeer({ port, units: [1], co: { 10: 1, 12: 1 }, ir: { 5: 77, 6: 0x0102 } });
});
afterAll(async () => {
  await peer?.stop();
});

const CONVERTER = `
export class ScaledModbusConverter {
  constructor(config, log) { this.scale = config.deviceType === "scaled" ? 10 : 1; this.polls = 0; }
  convert(config, data) {
    this.polls++;
    if (this.polls === 2 || this.polls === 3) throw new Error("poll rejected for a test");
    const telemetry = [];
    for (const [tag, r] of Object.entries(data.timeseries)) {
      const v = r.input_data.registers ? r.input_data.registers.reduce((a, x) => a * 65536 + x, 0) * this.scale : r.input_data.bits.map(Number).join("");
      telemetry.push({ [tag]: v });
    }
    telemetry.push({ poll: this.polls });
    const attributes = Object.entries(data.attributes).map(([tag, r]) => ({ [tag]: r.data_sent.functionCode }));
    return { deviceName: config.deviceName, deviceType: config.deviceType, attributes, telemetry };
  }
}
`;

test("slaves[].uplinkConverter names a class in extensions/modbus: raw registers and bits through it; errors once; a missing class is one error and the built-in converter takes its keys", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-modbus-ext-"));
  mkdirSync(join(dir, "extensions", "modbus"), { recursive: true });
  writeFileSync(join(dir, "extensions", "modbus", "scaled.js"), CONVERTER);
  const slave = (deviceName: string, uplinkConverter: string) => ({
    deviceName, deviceType: "scaled", host: "127.0.0.1", port, type: "tcp", method: "socket", unitId: 1, pollPeriod: 200, timeout: 1, uplinkConverter,
    attributes: [{ tag: "fc", type: "16uint", functionCode: 4, objectsCount: 1, address: 5 }],
    timeseries: [
      { tag: "level", type: "16uint", functionCode: 4, objectsCount: 1, address: 5 },
      { tag: "pair", type: "32uint", functionCode: 4, objectsCount: 2, address: 5 },
      { tag: "flags", type: "bits", functionCode: 1, objectsCount: 3, address: 10 },
    ],
  });
  const ctx = recordingContext({ type: "modbus", name: "Modbus custom", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("Modbus custom") && logs.push(r));
  const c = new ModbusConnector(ModbusConfigSchema.parse({ master: { slaves: [slave("custom", "ScaledModbusConverter"), slave("ghost", "NoSuchModbusConverter")] } }), ctx);
  try {
    await c.start();
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "custom").length >= 2, 30_000, "a poll before and one after the rejected ones");
    const sent = ctx.sent.filter((d) => d.deviceName === "custom");
    expect(sent[0]).toMatchObject({ deviceName: "custom", deviceType: "scaled", attributes: { fc: 4 } });
    // legacy telemetry entries [{k: v}] each become one entry (blocks are read in their own order)
    expect(Object.assign({}, ...sent[0]!.telemetry!.map((t) => t.values))).toEqual({ level: 770, pair: (77 * 65536 + 0x0102) * 10, flags: "101", poll: 1 });
    expect(sent[1]!.telemetry!.at(-1)!.values.poll).toBe(4);
    // its class is missing, its keys are configured: the built-in converter reads them (one rule for every connector)
    await ctx.waitFor((s) => s.some((d) => d.deviceName === "ghost" && d.telemetry?.some((t) => "level" in t.values)), 10_000, "ghost polled with the built-in converter");
    const ghost = ctx.sent.find((d) => d.deviceName === "ghost" && d.telemetry?.some((t) => "level" in t.values))!;
    // register 5 holds 77; the slave names no byteOrder, so the built-in reads it in upstream's default, LITTLE
    expect(Object.assign({}, ...ghost.telemetry!.map((t) => t.values)).level).toBe(0x4d00);
    await waitUntil(() => logs.some((l) => l.message.includes("ScaledModbusConverter works again")), 10_000, "the recovery line");
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^ghost: converter NoSuchModbusConverter cannot be used \(custom converter class NoSuchModbusConverter not found in .*extensions\/modbus; the folder exports: ScaledModbusConverter \(scaled\.js\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/);
    expect(errors[1]).toBe("custom: custom converter ScaledModbusConverter failed: poll rejected for a test; this message is dropped, the connector goes on (logged again only when the error changes)");
  } finally {
    off();
    await c.stop();
  }
}, 60_000);
