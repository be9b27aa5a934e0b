// Master over TCP against the pymodbus peer: every type × byteOrder × wordOrder decoded as pymodbus
// encoded it, writes encoded as pymodbus would, merged reads, RPC, and a slave that stops answering.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../../../test/support/ports.ts";
import { recordingContext } from "../../../test/support/context.ts";
import type { Started } from "../../../test/support/process.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { encodedRegisters, peerWrites, referenceBits, startPeer, waitForOutput } from "./test/peer.ts";

setStderrLogging(false);

const TYPES: Array<[string, unknown, number]> = [
  ["8int", -5, 1], ["8uint", 200, 1], ["16int", -1234, 1], ["16uint", 54321, 1], ["16float", 1.5, 1],
  ["32int", -123456789, 2], ["32uint", 3123456789, 2], ["32float", -1234.25, 2],
  ["64int", -1234567890123, 4], ["64uint", 9007199254740991, 4], ["64float", 3.141592653589793, 4], ["string", "Hello!", 3],
];
const ORDERS = [["BIG", "BIG"], ["BIG", "LITTLE"], ["LITTLE", "BIG"], ["LITTLE", "LITTLE"]] as const;
const base = (c: number) => c * 100;
const expected = (v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v);

let peer: Started;
let port: number;

beforeAll(async () => {
  port = await freePort();
  peer = await startPeer({
    port,
    units: [1, 2],
    co: { 10: 1, 12: 1, 13: 1 },
    ir: { 5: 77, 905: 0x0080 },
    hr: { 900: 0x8241, 901: 0xffff },
    decodeBits: { hr: [900], ir: [905] },
    encode: ORDERS.flatMap(([byteOrder, wordOrder], c) =>
      TYPES.map(([type, value], i) => ({ address: base(c) + i * 5, type, value, byteOrder, wordOrder })),
    ),
  });
});
afterAll(async () => {
  await peer?.stop();
});

function slave(c: number, extra: Record<string, unknown> = {}) {
  const [byteOrder, wordOrder] = ORDERS[c]!;
  return {
    deviceName: `dev-${byteOrder}-${wordOrder}`, host: "127.0.0.1", port, type: "tcp", method: "socket", unitId: 1,
    byteOrder, wordOrder, pollPeriod: 200, timeout: 1,
    timeseries: TYPES.map(([type, , n], i) => ({ tag: `t_${type}`, type, functionCode: 3, objectsCount: n, address: base(c) + i * 5 })),
    attributeUpdates: TYPES.map(([type, , n], i) => ({ tag: `w_${type}`, type, functionCode: 16, objectsCount: n, address: 5000 + base(c) + i * 5 })),
    ...extra,
  };
}

async function withConnector<T>(cfg: unknown, fn: (c: ModbusConnector, ctx: ReturnType<typeof recordingContext>) => Promise<T>): Promise<T> {
  const ctx = recordingContext({ type: "modbus" });
  const c = new ModbusConnector(ModbusConfigSchema.parse(cfg), ctx);
  await c.start();
  try {
    return await fn(c, ctx);
  } finally {
    await c.stop();
  }
}

describe("modbus master over TCP (pymodbus peer)", () => {
  test("decodes every type in every byte/word order as pymodbus encoded it", async () => {
    await withConnector({ master: { slaves: ORDERS.map((_, c) => slave(c)) } }, async (conn, ctx) => {
      const names = ORDERS.map(([b, w]) => `dev-${b}-${w}`);
      await ctx.waitFor((s) => names.every((n) => s.some((d) => d.deviceName === n)), 10000, "all devices");
      for (const n of names) {
        const values = ctx.sent.find((d) => d.deviceName === n)!.telemetry![0]!.values;
        for (const [type, value] of TYPES) expect({ n, type, v: values[`t_${type}`] }).toEqual({ n, type, v: expected(value) });
      }
      // neighbouring keys were merged: one request per slave per poll
      for (const s of conn.polled) expect(s.blocks.length).toBe(1);
    });
  }, 20000);

  test("attribute updates write what pymodbus' builder would write", async () => {
    await withConnector({ master: { slaves: ORDERS.map((_, c) => slave(c, { timeseries: [] })) } }, async (conn) => {
      for (const [c, [b, w]] of ORDERS.entries())
        await conn.onAttributeUpdate({ device: `dev-${b}-${w}`, data: Object.fromEntries(TYPES.map(([t, v]) => [`w_${t}`, v])) });
      const wanted = ORDERS.length * TYPES.length;
      await waitForOutput(peer, (o) => peerWrites(o).filter((x) => x.address >= 5000).length >= wanted, 5000, "every WRITE line");
      const writes = peerWrites(peer.output());
      const reference = encodedRegisters(peer.output());
      for (const c of ORDERS.keys())
        for (const [i, [type]] of TYPES.entries()) {
          const got = writes.find((x) => x.address === 5000 + base(c) + i * 5);
          expect({ type, c, regs: got?.values }).toEqual({ type, c, regs: reference.get(base(c) + i * 5) });
        }
    });
  }, 20000);

  test("coils come out in upstream order; divider and bits; RPC get/set and device RPC", async () => {
    const cfg = {
      master: {
        slaves: [{
          deviceName: "bits", host: "127.0.0.1", port, unitId: 1, method: "socket", pollPeriod: 200, timeout: 1, byteOrder: "BIG",
          timeseries: [
            { tag: "coils5", type: "bits", functionCode: 1, objectsCount: 5, address: 10 },
            { tag: "coil12", type: "bits", functionCode: 1, objectsCount: 1, address: 12 },
            { tag: "ir5", type: "16int", functionCode: 4, objectsCount: 1, address: 5, divider: 10 },
          ],
          rpc: [
            { tag: "setReg", type: "16int", functionCode: 6, objectsCount: 1, address: 7000 },
            { tag: "getReg", type: "16int", functionCode: 3, objectsCount: 1, address: 7000 },
          ],
        }],
      },
    };
    await withConnector(cfg, async (conn, ctx) => {
      await ctx.waitFor((s) => s.length > 0, 5000, "bits data");
      const v = ctx.sent[0]!.telemetry![0]!.values;
      expect(v.coils5).toEqual([false, true, true, false, true]); // [A+4 … A] of coils 10..14 = 1,0,1,1,0
      expect(v.coil12).toBe(true);
      expect(v.ir5).toBe(7.7);
      expect(await conn.onRpc({ device: "bits", id: 1, method: "setReg", params: 4321 })).toEqual({ result: { value: 4321 } });
      expect(await conn.onRpc({ device: "bits", id: 2, method: "getReg", params: null })).toEqual({ result: { value: 4321 } });
      expect(await conn.onRpc({ device: "bits", id: 3, method: "set", params: "type=32int;functionCode=16;objectsCount=2;address=7010;value=-70000;" }))
        .toEqual({ result: { value: -70000 } });
      expect(await conn.onRpc({ device: "bits", id: 4, method: "get", params: "type=32int;functionCode=3;objectsCount=2;address=7010;" }))
        .toEqual({ result: { value: -70000 } });
      expect(await conn.onRpc({ device: "bits", id: 5, method: "get", params: "type=32int;functionCode=3;" })).toEqual({
        result: { error: expect.stringContaining("does not match with the schema") },
      });
      expect(await conn.onRpc({ device: "bits", id: 6, method: "nope", params: 1 })).toEqual({ result: { error: "Method not found for nope" } });
      expect(await conn.onRpc({ device: "ghost", id: 7, method: "get", params: "" })).toEqual({ result: { error: "Device not found" } });
      const all = await conn.onRpc({ id: 8, method: "modbus_read", params: { type: "16int", functionCode: 3, objectsCount: 1, address: 7000 } });
      expect(all).toEqual([{ result: 4321, device_name: "bits" }]);
      const oneOff = await conn.onRpc({
        id: 9, method: "modbus_read",
        params: { type: "16int", functionCode: 4, objectsCount: 1, address: 5, host: "127.0.0.1", port, unitId: 2, deviceName: "other", byteOrder: "BIG" },
      });
      expect(oneOff).toEqual([{ result: 77, device_name: "other" }]);
      await waitForOutput(peer, (o) => peerWrites(o).some((w) => w.address === 7000 && w.values[0] === 4321), 5000, "the RPC write");
    });
  }, 20000);

  test("bits read from registers: the first register's 16 bits in pymodbus' order, the last objectsCount kept", async () => {
    const bits = (tag: string, functionCode: number, objectsCount: number, address: number, extra: object = {}) =>
      ({ tag, type: "bits", functionCode, objectsCount, address, ...extra });
    const cfg = {
      master: {
        slaves: [{
          deviceName: "regbits", host: "127.0.0.1", port, unitId: 1, method: "socket", pollPeriod: 200, timeout: 1, byteOrder: "BIG",
          timeseries: [
            bits("r16", 3, 16, 900), bits("r4", 3, 4, 900), bits("r1", 3, 1, 900), bits("i1", 4, 1, 905),
            bits("bit1", 3, 16, 900, { bit: 1 }), bits("bit8", 3, 16, 900, { bit: 8 }), bits("int16", 3, 16, 900, { bitTargetType: "int" }),
          ],
        }],
      },
    };
    const ref = referenceBits(peer.output());
    const hr = ref.get("hr 900")!, ir = ref.get("ir 905")!;
    // pymodbus' order, as the README states it: register bits 8..15, then 0..7 (0x8241: 15, 9, 6, 0 set)
    expect(hr).toEqual([0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0]);
    await withConnector(cfg, async (conn, ctx) => {
      await ctx.waitFor((s) => s.some((d) => d.deviceName === "regbits"), 5000, "regbits data");
      const v = ctx.sent.find((d) => d.deviceName === "regbits")!.telemetry![0]!.values;
      expect(v).toEqual({
        r16: hr.map(Boolean), // register 901 (0xffff) is read but not decoded
        r4: hr.slice(-4).map(Boolean),
        r1: Boolean(hr[15]),
        i1: Boolean(ir[15]),
        bit1: hr[1],
        bit8: hr[8],
        int16: hr,
      });
      expect(await conn.onRpc({ device: "regbits", id: 1, method: "get", params: "type=bits;functionCode=3;objectsCount=1;address=905;" }))
        .toEqual({ result: { value: false } }); // holding register 905 is 0 (905 is set among the input registers)
      expect(await conn.onRpc({ device: "regbits", id: 2, method: "get", params: "type=bits;functionCode=4;objectsCount=2;address=905;" }))
        .toEqual({ result: { value: ir.slice(-2).map(Boolean) } });
    });
  }, 20000);

  test("an exception from one key is isolated; the other keys keep coming", async () => {
    const cfg = {
      master: {
        slaves: [{
          deviceName: "partial", host: "127.0.0.1", port, unitId: 1, method: "socket", pollPeriod: 100, timeout: 1, byteOrder: "BIG",
          timeseries: [
            { tag: "good", type: "16int", functionCode: 4, objectsCount: 1, address: 5 },
            { tag: "bad", type: "16int", functionCode: 4, objectsCount: 1, address: 20000 },
          ],
        }],
      },
    };
    await withConnector(cfg, async (_c, ctx) => {
      await ctx.waitFor((s) => s.length >= 3, 5000, "three polls");
      for (const d of ctx.sent) expect(d.telemetry![0]!.values).toEqual({ good: 77 });
    });
  }, 10000);
});
