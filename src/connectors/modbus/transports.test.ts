// Transports the other suites do not cover, each against the pymodbus peer: Modbus/UDP, RTU and ASCII
// framing over TCP, and ASCII over a serial pty. Each reads two keys and writes one (read back from
// the peer's own log of client writes).
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { freePort, freeUdpPort } from "../../../test/support/ports.ts";
import type { Started } from "../../../test/support/process.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { startPeer, startPtyPair, waitForOutput, type PeerOptions } from "./test/peer.ts";

setStderrLogging(false);

const HR = { 0: 4321, 1: 0x0001, 2: 0x86a0 }; // a=4321, b (32uint BIG/BIG)=100000
const CO = { 3: 1 };

function slave(link: Record<string, unknown>) {
  return {
    deviceName: "dev", unitId: 5, byteOrder: "BIG", wordOrder: "BIG", pollPeriod: 100, timeout: 1, retries: 1,
    ...link,
    timeseries: [
      { tag: "a", type: "16int", functionCode: 3, objectsCount: 1, address: 0 },
      { tag: "b", type: "32uint", functionCode: 3, objectsCount: 2, address: 1 },
      { tag: "c", type: "bits", functionCode: 1, objectsCount: 1, address: 3 },
    ],
    attributeUpdates: [
      { tag: "w", type: "32int", functionCode: 16, objectsCount: 2, address: 20 },
      { tag: "coil", type: "bits", functionCode: 5, objectsCount: 1, address: 30 },
    ],
  };
}

async function readAndWrite(peerOpts: PeerOptions, link: Record<string, unknown>, started: Started[]): Promise<void> {
  const peer = await startPeer({ units: [5], hr: HR, co: CO, ...peerOpts });
  started.push(peer);
  const ctx = recordingContext({ type: "modbus" });
  const conn = new ModbusConnector(ModbusConfigSchema.parse({ master: { slaves: [slave(link)] } }), ctx);
  try {
    await conn.start();
    await ctx.waitFor((s) => s.some((d) => d.telemetry?.length), 10000, "first reading");
    expect(ctx.sent.find((d) => d.telemetry?.length)!.telemetry![0]!.values).toEqual({ a: 4321, b: 100000, c: true });
    await conn.onAttributeUpdate({ device: "dev", data: { w: -2, coil: true } });
    await waitForOutput(peer, (o) => o.includes("WRITE 5 hr 20 [") && o.includes("WRITE 5 co 30 ["), 5000, "both writes");
    expect(peer.output()).toContain("WRITE 5 hr 20 [65535, 65534]");
    expect(peer.output()).toContain("WRITE 5 co 30 [1]");
    // keeps polling: several further readings arrive
    const mark = ctx.sent.length;
    await ctx.waitFor((s) => s.length >= mark + 3, 5000, "further polls");
  } finally {
    await conn.stop();
  }
}

describe("modbus transports (pymodbus peer)", () => {
  const started: Started[] = [];
  const stopAll = async () => {
    for (const p of started.splice(0).reverse()) await p.stop();
  };

  test("Modbus/UDP", async () => {
    const port = await freeUdpPort();
    try {
      await readAndWrite({ transport: "udp", port }, { type: "udp", host: "127.0.0.1", port, method: "socket" }, started);
    } finally {
      await stopAll();
    }
  }, 20000);

  test("RTU framing over TCP", async () => {
    const port = await freePort();
    try {
      await readAndWrite({ transport: "tcp", framer: "rtu", port }, { type: "tcp", host: "127.0.0.1", port, method: "rtu" }, started);
    } finally {
      await stopAll();
    }
  }, 20000);

  test("ASCII framing over TCP", async () => {
    const port = await freePort();
    try {
      await readAndWrite({ transport: "tcp", framer: "ascii", port }, { type: "tcp", host: "127.0.0.1", port, method: "ascii" }, started);
    } finally {
      await stopAll();
    }
  }, 20000);

  test("ASCII over a serial pty", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-modbus-ascii-"));
    try {
      const pty = await startPtyPair(dir);
      started.push(pty.proc);
      await readAndWrite(
        { transport: "serial", framer: "ascii", port: pty.b, baudrate: 19200 },
        { type: "serial", port: pty.a, method: "ascii", baudrate: 19200, parity: "N" },
        started,
      );
    } finally {
      await stopAll();
    }
  }, 20000);
});
