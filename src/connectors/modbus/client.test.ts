// Our Modbus master client (client/) against the pymodbus peer (Debian python3-pymodbus): every
// function code the connector uses, exception responses, a timeout whose late answer must not be
// taken for the next request's, reconnecting after the device went away, and RTU framing. A small
// server of our own adds what pymodbus never does: an answer with a foreign transaction id, and an
// answer cut into pieces across TCP segments.
import { describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import { freePort } from "../../../test/support/ports.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { Logger } from "../../observe/logger.ts";
import { ModbusExceptionError } from "./client/pdu.ts";
import { TcpClient } from "./client/mbap.ts";
import { isModbusException, ModbusLink, type LinkOptions } from "./link.ts";
import { peerWrites, startPeer, waitForOutput } from "./test/peer.ts";

const quiet = new Logger("client-test");
quiet.setLevel("NONE");

function linkOptions(port: number, more: Partial<LinkOptions> = {}): LinkOptions {
  return {
    type: "TCP", host: "127.0.0.1", port, method: "socket", timeoutMs: 2000, retries: 0, baudrate: 19200, bytesize: 8,
    parity: "N", stopbits: 1, handleLocalEcho: false, connectAttemptTimeMs: 100, connectAttemptCount: 1000,
    waitAfterFailedAttemptsMs: 100, delayBetweenRequestsMs: 0, ...more,
  };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the request to fail");
}

describe("modbus client against pymodbus", () => {
  test("reads FC 1-4 and writes FC 5, 6, 15, 16 as pymodbus sees them", async () => {
    const port = await freePort();
    const peer = await startPeer({ port, units: [7], hr: { 10: 1234, 11: 65535 }, ir: { 3: 42 }, co: { 2: 1, 4: 1 }, di: { 9: 1 } });
    const c = new TcpClient("127.0.0.1", port, 2000);
    try {
      await c.open();
      c.unitId = 7;
      expect(await c.readRegisters(3, 10, 2)).toEqual([1234, 65535]);
      expect(await c.readRegisters(4, 2, 2)).toEqual([0, 42]);
      expect(await c.readBits(1, 0, 10)).toEqual([false, false, true, false, true, false, false, false, false, false]);
      expect(await c.readBits(2, 9, 1)).toEqual([true]);
      await c.writeCoil(20, true);
      await c.writeRegister(21, 0xbeef);
      await c.writeCoils(30, [true, false, true, true, false, false, false, false, true]);
      await c.writeRegisters(40, [1, 2, 65535]);
      const out = await waitForOutput(peer, (o) => peerWrites(o).length >= 4, 5000, "four writes");
      expect(peerWrites(out)).toEqual([
        { unit: 7, table: "co", address: 20, values: [1] },
        { unit: 7, table: "hr", address: 21, values: [0xbeef] },
        { unit: 7, table: "co", address: 30, values: [1, 0, 1, 1, 0, 0, 0, 0, 1] },
        { unit: 7, table: "hr", address: 40, values: [1, 2, 65535] },
      ]);
      // what was written reads back
      expect(await c.readRegisters(3, 40, 3)).toEqual([1, 2, 65535]);
      expect(await c.readBits(1, 30, 9)).toEqual([true, false, true, true, false, false, false, false, true]);
    } finally {
      await c.close();
      await peer.stop();
    }
  }, 30000);

  test("an exception response rejects with the device's code (isModbusException), over MBAP and RTU framing", async () => {
    const tcpPort = await freePort();
    const rtuPort = await freePort();
    const started: Started[] = [];
    const links: ModbusLink[] = [];
    try {
      started.push(await startPeer({ port: tcpPort, units: [1] }));
      started.push(await startPeer({ port: rtuPort, units: [1], framer: "rtu" }));
      for (const [port, method] of [[tcpPort, "socket"], [rtuPort, "rtu"]] as const) {
        const link = new ModbusLink(linkOptions(port, { method, retries: 2 }), quiet);
        links.push(link);
        // past the end of pymodbus' 10,000-register block: ILLEGAL DATA ADDRESS (2), not retried
        let calls = 0;
        const e = await failure(link.request(1, (c) => (calls++, c.readRegisters(3, 9995, 10))));
        expect(isModbusException(e)).toBe(true);
        expect(e).toBeInstanceOf(ModbusExceptionError);
        expect((e as ModbusExceptionError).modbusCode).toBe(2);
        expect(String(e)).toContain("illegal data address");
        expect(calls).toBe(1);
        // and the link goes on answering
        expect(await link.request(1, (c) => c.readRegisters(3, 0, 2))).toEqual([0, 0]);
      }
    } finally {
      for (const l of links) await l.close();
      for (const p of started) await p.stop();
    }
  }, 30000);

  test("a timeout rejects (not as an exception) and its late answer is not taken for the next request's", async () => {
    const port = await freePort();
    const peer = await startPeer({ port, units: [1], hr: { 0: 111, 1: 222, 2: 333 } });
    const c = new TcpClient("127.0.0.1", port, 400);
    try {
      await c.open();
      peer.proc.kill("SIGSTOP");
      const e = await failure(c.readRegisters(3, 0, 1));
      expect(isModbusException(e)).toBe(false);
      expect(String(e)).toContain("no answer from unit 1");
      peer.proc.kill("SIGCONT");
      // the peer now answers the timed-out request first ([111]), then this one
      expect(await c.readRegisters(3, 1, 2)).toEqual([222, 333]);
      expect(await c.readRegisters(3, 2, 1)).toEqual([333]);
    } finally {
      peer.proc.kill("SIGCONT");
      await c.close();
      await peer.stop();
    }
  }, 30000);

  test("the link reconnects when the device comes back, and fails requests while it is gone", async () => {
    const port = await freePort();
    let peer = await startPeer({ port, units: [1], hr: { 5: 1 } });
    const link = new ModbusLink(linkOptions(port, { timeoutMs: 1000 }), quiet);
    let disconnects = 0;
    link.onDisconnected = () => disconnects++;
    try {
      expect(await link.request(1, (c) => c.readRegisters(3, 5, 1))).toEqual([1]);
      await peer.stop();
      await waitUntil(() => !link.connected, 10000, "the link to notice the device is gone");
      expect(disconnects).toBe(1);
      expect(isModbusException(await failure(link.request(1, (c) => c.readRegisters(3, 5, 1))))).toBe(false);
      peer = await startPeer({ port, units: [1], hr: { 5: 2 } });
      let value: number[] | undefined;
      const deadline = Date.now() + 15000;
      while (!value && Date.now() < deadline) value = await link.request(1, (c) => c.readRegisters(3, 5, 1)).catch(() => undefined);
      expect(value).toEqual([2]);
      expect(link.connected).toBe(true);
    } finally {
      await link.close();
      await peer.stop();
    }
  }, 40000);
});

describe("modbus client framing (a server of our own)", () => {
  /** Answers each FC 3 request with a foreign transaction id first, then its own, cut into pieces. */
  async function awkwardServer(): Promise<{ port: number; close: () => Promise<void>; requests: () => number }> {
    let requests = 0;
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on("data", (req: Buffer) => {
        requests++;
        const tid = req.readUInt16BE(0);
        const count = req.readUInt16BE(10);
        const answer = (id: number, base: number) => {
          const adu = Buffer.alloc(9 + 2 * count);
          adu.writeUInt16BE(id, 0);
          adu.writeUInt16BE(3 + 2 * count, 4);
          adu[6] = req[6]!;
          adu[7] = 3;
          adu[8] = 2 * count;
          for (let i = 0; i < count; i++) adu.writeUInt16BE(base + i, 9 + 2 * i);
          return adu;
        };
        const foreign = answer((tid + 100) & 0xffff, 9000);
        const own = answer(tid, 100);
        // the foreign answer and the head of ours in one segment, the rest of ours later
        s.write(Buffer.concat([foreign, own.subarray(0, 3)]));
        setTimeout(() => s.write(own.subarray(3)), 20);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    return {
      port,
      requests: () => requests,
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise((r) => server.close(() => r()));
      },
    };
  }

  test("an answer with a foreign transaction id is ignored; an answer split across segments is put together", async () => {
    const server = await awkwardServer();
    const c = new TcpClient("127.0.0.1", server.port, 2000);
    try {
      await c.open();
      for (let i = 0; i < 3; i++) expect(await c.readRegisters(3, 0, 4)).toEqual([100, 101, 102, 103]);
      expect(server.requests()).toBe(3);
    } finally {
      await c.close();
      await server.close();
    }
  });
});
