// Slave mode over a serial line, driven by an independent master: pymodbus 3.0 (Debian, /usr/bin/python3)
// over a socat pty pair, RTU and ASCII. The master reads the configured values (FC 1–4), writes new ones
// (FC 5, 6, 15, 16) that must reach the platform, reads device identification (FC 43/14), and sends
// malformed / CRC-broken frames that must be ignored without stopping the slave. A platform attribute
// update is written into the registers and read back by the master.
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { crc16 } from "./framed-port.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { rtuFrame } from "./slave-serial.ts";
import { startPtyPair } from "./test/peer.ts";

setStderrLogging(false);

const CLIENT = join(import.meta.dir, "test/pymodbus_client.py");

function slaveConfig(port: string, method: "rtu" | "ascii") {
  return ModbusConfigSchema.parse({
    slave: {
      type: "serial", port, method, baudrate: 19200, unitId: 1, deviceName: "gw-serial-slave", pollPeriod: 100,
      sendDataToThingsBoard: true, byteOrder: "BIG", wordOrder: "BIG",
      identity: { vendorName: "ACME", productCode: "TB-1", vendorUrl: "http://acme.test", productName: "Gateway", ModelName: "GW-9" },
      values: {
        holding_registers: {
          timeseries: [
            { tag: "hr16", type: "16int", address: 0, objectsCount: 1, value: -5 },
            { tag: "hr32", type: "32uint", address: 1, objectsCount: 2, value: 100000 },
          ],
          attributeUpdates: [{ tag: "setpoint", type: "16int", functionCode: 6, address: 5, objectsCount: 1, value: 7 }],
        },
        input_registers: { attributes: [{ tag: "ir0", type: "16uint", address: 0, objectsCount: 1, value: 42 }] },
        coils_initializer: { timeseries: [{ tag: "coil0", type: "bits", address: 0, objectsCount: 1, value: true }] },
        discrete_inputs: { attributes: [{ tag: "di2", type: "bits", address: 2, objectsCount: 1, value: true }] },
      },
    },
  });
}

interface Result { values?: number[]; ok?: boolean; sent?: number; objects?: Record<string, string>; error?: string }

async function runClient(port: string, framer: "rtu" | "ascii", ops: object[], started: Started[]): Promise<Result[]> {
  const c = await startProcess("/usr/bin/python3", [CLIENT, JSON.stringify({ port, framer, baudrate: 19200, unit: 1, ops })], {
    ready: /^DONE$|Traceback|cannot open/m,
    timeoutMs: 30000,
  });
  started.push(c);
  expect(c.output()).toContain("DONE");
  return [...c.output().matchAll(/^RESULT (.*)$/gm)].map((m) => JSON.parse(m[1]!) as Result);
}

/** An RTU frame with its CRC deliberately wrong. */
function brokenRtu(bytes: number[]): string {
  const crc = crc16(Uint8Array.from(bytes)) ^ 0x5a5a;
  return Buffer.from([...bytes, crc & 0xff, crc >> 8]).toString("hex");
}

describe("modbus slave mode over serial (pymodbus master on a pty)", () => {
  test("RTU: serves values, reports client writes, identification, ignores broken frames, takes platform updates", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-modbus-slave-rtu-"));
    const started: Started[] = [];
    const ctx = recordingContext({ type: "modbus" });
    let conn: ModbusConnector | undefined;
    try {
      const pty = await startPtyPair(dir);
      started.push(pty.proc);
      conn = new ModbusConnector(slaveConfig(pty.a, "rtu"), ctx);
      await conn.start();
      const latest = (key: string) => ctx.sent.findLast((d) => d.telemetry?.[0]?.values[key] !== undefined)?.telemetry![0]!.values[key];
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.length && d.attributes), 10000, "the gateway polling its own slave");
      expect(latest("hr16")).toBe(-5);
      expect(ctx.sent.find((d) => d.attributes?.ir0 !== undefined)!.attributes).toEqual({ ir0: 42, di2: true });

      const r = await runClient(pty.b, "rtu", [
        { op: "read", fc: 3, address: 0, count: 3 },
        { op: "read", fc: 4, address: 0, count: 1 },
        { op: "read", fc: 1, address: 0, count: 2 },
        { op: "read", fc: 2, address: 2, count: 1 },
        { op: "raw", hex: brokenRtu([1, 3, 0, 0, 0, 1]) }, // CRC broken: must get no answer
        { op: "raw", hex: "ff00" + brokenRtu([1, 16, 0, 0, 0, 1, 2, 0, 9]) }, // noise + broken write: must not be applied
        { op: "read", fc: 3, address: 0, count: 1 }, // still answering
        { op: "write", fc: 6, address: 0, values: [4321] },
        { op: "write", fc: 16, address: 1, values: [0, 7] },
        { op: "write", fc: 15, address: 0, values: [0, 1] },
        { op: "ident", code: 1, object: 0 },
        { op: "ident", code: 2, object: 3 },
        { op: "read", fc: 3, address: 0, count: 200 }, // too many registers: exception, not silence
        { op: "read", fc: 3, address: 0, count: 3 },
        { op: "raw", hex: Buffer.from(rtuFrame(0, Uint8Array.of(6, 0, 3, 0, 77))).toString("hex") }, // broadcast write: applied, not answered
        { op: "read", fc: 3, address: 3, count: 1 },
      ], started);
      expect(r[0]!.values).toEqual([65531, 1, 34464]);
      expect(r[1]!.values).toEqual([42]);
      expect(r[2]!.values).toEqual([1, 0]);
      expect(r[3]!.values).toEqual([1]);
      expect(r[6]!.values).toEqual([65531]);
      expect(r.slice(7, 10).map((x) => x.ok)).toEqual([true, true, true]);
      expect(r[10]!.objects).toEqual({ "0": "ACME", "1": "TB-1", "2": "" });
      expect(r[11]!.objects).toEqual({ "3": "http://acme.test", "4": "Gateway", "5": "GW-9" });
      expect(r[12]!.error).toMatch(/Exception|IllegalValue|exception_code=3/i);
      expect(r[13]!.values).toEqual([4321, 0, 7]);
      expect(r[15]!.values).toEqual([77]);

      // the client's writes reach the platform through the gateway's polling of its own slave
      await ctx.waitFor(() => latest("hr16") === 4321 && latest("hr32") === 7 && latest("coil0") === false, 5000, "client writes reported");

      // a platform update goes into the registers, where an external master reads it
      await conn.onAttributeUpdate({ device: "gw-serial-slave", data: { setpoint: -300 } });
      const back = await runClient(pty.b, "rtu", [{ op: "read", fc: 3, address: 5, count: 1 }], started);
      expect(back[0]!.values).toEqual([65236]);
    } finally {
      await conn?.stop();
      for (const p of started.reverse()) await p.stop();
    }
  }, 60000);

  test("ASCII: serves values, reports client writes, ignores a frame with a bad LRC", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-modbus-slave-ascii-"));
    const started: Started[] = [];
    const ctx = recordingContext({ type: "modbus" });
    let conn: ModbusConnector | undefined;
    try {
      const pty = await startPtyPair(dir);
      started.push(pty.proc);
      conn = new ModbusConnector(slaveConfig(pty.a, "ascii"), ctx);
      await conn.start();
      const r = await runClient(pty.b, "ascii", [
        { op: "read", fc: 3, address: 0, count: 3 },
        { op: "raw", hex: Buffer.from(":01060000000A00\r\n", "latin1").toString("hex") }, // LRC wrong (should be EF)
        { op: "write", fc: 6, address: 0, values: [1000] },
        { op: "read", fc: 3, address: 0, count: 1 },
      ], started);
      expect(r[0]!.values).toEqual([65531, 1, 34464]);
      expect(r[2]!.ok).toBe(true);
      expect(r[3]!.values).toEqual([1000]);
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.hr16 === 1000), 5000, "client write reported");
      expect(ctx.sent.some((d) => d.telemetry?.[0]?.values.hr16 === 10)).toBe(false);
    } finally {
      await conn?.stop();
      for (const p of started.reverse()) await p.stop();
    }
  }, 40000);
});
