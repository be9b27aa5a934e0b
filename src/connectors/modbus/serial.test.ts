// RTU over a socat pty pair against the pymodbus serial peer: reads, and a port removed and restored.
// (`scan` over a serial line: scan.test.ts.)
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import type { Started } from "../../../test/support/process.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { startPeer, startPtyPair, waitForOutput } from "./test/peer.ts";

setStderrLogging(false);

function config(path: string) {
  return ModbusConfigSchema.parse({
    master: {
      slaves: [{
        deviceName: "rtu-dev", type: "serial", port: path, method: "rtu", unitId: 3, baudrate: 115200, parity: "N",
        byteOrder: "BIG", wordOrder: "BIG", pollPeriod: 100, timeout: 0.5, retries: 0, connectAttemptCount: 50,
        timeseries: [
          { tag: "a", type: "16int", functionCode: 3, objectsCount: 1, address: 0 },
          { tag: "b", type: "32uint", functionCode: 3, objectsCount: 2, address: 1 },
        ],
        attributeUpdates: [{ tag: "w", type: "16int", functionCode: 6, objectsCount: 1, address: 9 }],
      }],
    },
  });
}

describe("modbus RTU over a pty (pymodbus serial peer)", () => {
  test("reads, survives the port vanishing, and reads again once it is back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-modbus-pty-"));
    const started: Started[] = [];
    const ctx = recordingContext({ type: "modbus" });
    const conn = new ModbusConnector(config(join(dir, "ttyA")), ctx);
    try {
      let pty = await startPtyPair(dir);
      started.push(pty.proc);
      let peer = await startPeer({ transport: "serial", framer: "rtu", port: pty.b, baudrate: 115200, units: [3], hr: { 0: 321, 1: 1, 2: 2 } });
      started.push(peer);
      await conn.start();
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.a === 321), 10000, "first reading");
      expect(ctx.sent[0]!.telemetry![0]!.values).toEqual({ a: 321, b: 65538 });
      await conn.onAttributeUpdate({ device: "rtu-dev", data: { w: -2 } });
      await waitForOutput(peer, (o) => o.includes("WRITE 3 hr 9 ["), 5000, "the write");
      expect(peer.output()).toContain("WRITE 3 hr 9 [65534]");

      // The port disappears (adapter unplugged) ...
      await peer.stop();
      await pty.proc.stop();
      const before = ctx.sent.length;
      // ... and comes back with another value behind it.
      pty = await startPtyPair(dir);
      started.push(pty.proc);
      peer = await startPeer({ transport: "serial", framer: "rtu", port: pty.b, baudrate: 115200, units: [3], hr: { 0: 654 } });
      started.push(peer);
      await ctx.waitFor((s) => s.slice(before).some((d) => d.telemetry?.[0]?.values.a === 654), 15000, "reading after the port came back");
    } finally {
      await conn.stop();
      for (const p of started.reverse()) await p.stop();
    }
  }, 40000);
});
