// Writes and on-demand reads for attribute updates and the three RPC kinds (spec §5).

import { canonicalType, encodeBits, encodeRegisters, type Order } from "./codec.ts";
import { decodeKey, readRaw } from "./device.ts";
import type { ModbusLink } from "./link.ts";
import { objectsCountOf, readCount } from "./plan.ts";
import type { KeyConfig } from "./schema.ts";

export interface Target {
  link: ModbusLink;
  unitId: number;
  byteOrder: Order;
  wordOrder: Order;
}

/** Read (FC 1-4) or write (FC 5/6/15/16) one key; resolves to the decoded value or the written value. */
export async function executeKey(t: Target, key: KeyConfig, value?: unknown): Promise<unknown> {
  const fc = key.functionCode ?? 3;
  const count = objectsCountOf(key);
  const type = canonicalType(key.type, count);
  const address = typeof key.address === "number" ? key.address : Number.parseInt(key.address, 10);
  if (fc >= 1 && fc <= 4) {
    const n = readCount(fc, type, count);
    const raw = await readRaw(t.link, t.unitId, fc, address, n);
    return decodeKey(raw, 0, { count: n, type, functionCode: fc, config: key }, t.byteOrder, t.wordOrder);
  }
  if (value === undefined) throw new Error(`no value to write for ${key.tag}`);
  switch (fc) {
    case 5: {
      const [bit] = encodeBits(value, 1);
      await t.link.request(t.unitId, (c) => c.writeCoil(address, bit!));
      return value;
    }
    case 15: {
      const bits = encodeBits(value, count);
      await t.link.request(t.unitId, (c) => c.writeCoils(address, bits));
      return value;
    }
    case 6: {
      const regs = encodeRegisters(value, type, t.byteOrder, t.wordOrder, 1);
      // FC 6 writes one register at a time; wider values go register by register.
      for (let i = 0; i < regs.length; i++) await t.link.request(t.unitId, (c) => c.writeRegister(address + i, regs[i]!));
      return value;
    }
    case 16: {
      const regs = encodeRegisters(value, type, t.byteOrder, t.wordOrder, type === "string" || type === "bytes" ? count : 1);
      await t.link.request(t.unitId, (c) => c.writeRegisters(address, regs));
      return value;
    }
  }
  throw new Error("Unsupported function code in RPC request.");
}

const RESERVED_TYPES = "string|bytes|bits|16int|16uint|16float|32int|32uint|32float|64int|64uint|64float";
const GET_RE = new RegExp(`^type=(${RESERVED_TYPES});functionCode=([1-4]);objectsCount=(\\d+);address=(\\d+);$`);
const SET_RE = new RegExp(`^type=(${RESERVED_TYPES});functionCode=(5|6|15|16);objectsCount=(\\d+);address=(\\d+);value=([^;]+);$`);

/** Parse the reserved `get`/`set` RPC string (spec §5.2.2); undefined when it does not match. */
export function parseReserved(method: "get" | "set", params: string): { key: KeyConfig; value?: unknown } | undefined {
  const m = (method === "get" ? GET_RE : SET_RE).exec(params.trim());
  if (!m) return undefined;
  const key = {
    tag: method,
    type: m[1] as KeyConfig["type"],
    functionCode: Number(m[2]),
    objectsCount: Number(m[3]),
    address: Number(m[4]),
  } as KeyConfig;
  let value: unknown = m[5];
  if (method === "set") {
    const raw = m[5]!;
    const num = Number(raw);
    if (key.type.endsWith("int") || key.type.endsWith("float")) {
      if (!Number.isFinite(num)) return undefined;
      value = num;
    } else if (key.type === "bits") value = raw.includes(",") ? raw.split(",").map((s) => Number(s.trim())) : raw === "true" || raw === "1" ? 1 : Number(raw) || 0;
  }
  return { key, value: method === "set" ? value : undefined };
}

export const reservedSchemaText = (method: "get" | "set") =>
  method === "get"
    ? "type=<type>;functionCode=<functionCode>;objectsCount=<objectsCount>;address=<address>;"
    : "type=<type>;functionCode=<functionCode>;objectsCount=<objectsCount>;address=<address>;value=<value>;";

/** Resolve `p` or fail with the upstream timeout text after `seconds`. */
export function withTimeout<T>(p: Promise<T>, seconds: number, device: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timeout rpc has been reached for ${device}`)), seconds * 1000);
    }),
  ]).finally(() => clearTimeout(timer));
}
