// Writes and on-demand reads for attribute updates and the three RPC kinds (spec §5).

import type { CustomDownlink } from "../../common/converters/custom-downlink.ts";
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
  /** The slave's custom downlink class (`downlinkConverter`), which then encodes every write. */
  downlink?: CustomDownlink;
  /** The device name, for the content handed to the downlink class. */
  device?: string;
}

/** What upstream hands a downlink converter: the attribute update or RPC as `{device, data: {method, params}}`. */
export type DownlinkContent = { device?: string; data: { id?: number | string; method: string; params: unknown } };

/** Read (FC 1-4) or write (FC 5/6/15/16) one key; resolves to the decoded value or the written value. */
export async function executeKey(t: Target, key: KeyConfig, value?: unknown, content?: DownlinkContent): Promise<unknown> {
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
  if (t.downlink && [5, 6, 15, 16].includes(fc)) {
    await writeConverted(t, t.downlink, key, fc, address, content ?? { device: t.device, data: { method: key.tag, params: value } });
    return value;
  }
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

/**
 * A write through the slave's custom downlink class, as upstream's connector does it: built with
 * the key config plus the slave's byteOrder/wordOrder/unitId, `convert(config, content)` gives the
 * coil value(s) (FC 5/15) or register values (FC 6/16; a byte array is read as big-endian register
 * pairs). Anything else fails the write with the reason; nothing reaches the device then.
 */
async function writeConverted(t: Target, converter: CustomDownlink, key: KeyConfig, fc: number, address: number, content: DownlinkContent): Promise<void> {
  const config = { ...key, byteOrder: t.byteOrder, wordOrder: t.wordOrder, unitId: t.unitId };
  if (fc === 5 || fc === 15) {
    const r = await converter.convert(config, content, (x) => coilsFrom(x, fc === 5));
    if (!r.ok) throw new Error(r.error);
    const bits = r.value;
    if (fc === 5) await t.link.request(t.unitId, (c) => c.writeCoil(address, bits[0]!));
    else await t.link.request(t.unitId, (c) => c.writeCoils(address, bits));
    return;
  }
  const r = await converter.convert(config, content, registersFrom);
  if (!r.ok) throw new Error(r.error);
  const regs = r.value;
  if (fc === 16) await t.link.request(t.unitId, (c) => c.writeRegisters(address, regs));
  // FC 6 writes one register at a time, as the built-in encoding does for wider values
  else for (let i = 0; i < regs.length; i++) await t.link.request(t.unitId, (c) => c.writeRegister(address + i, regs[i]!));
}

/** Modbus' limits per request: 123 registers (FC 16), 1968 coils (FC 15). */
const MAX_REGISTERS = 123;
const MAX_COILS = 1968;

/** Coil values from a converter's result: a bool or 0/1, or a list of them (FC 5 writes the first). */
export function coilsFrom(r: unknown, single: boolean): boolean[] {
  const list = Array.isArray(r) ? r : [r];
  if (list.length === 0) throw new Error("no coil values");
  if (list.length > MAX_COILS) throw new Error(`${list.length} coils, more than one request writes (${MAX_COILS})`);
  const bits = list.map((b, i) => {
    if (typeof b === "boolean") return b;
    if (b === 0 || b === 1) return b === 1;
    throw new Error(`coil ${i} is ${JSON.stringify(b) ?? String(b)}; give true/false or 0/1`);
  });
  return single ? bits.slice(0, 1) : bits;
}

/** Register values from a converter's result: integers 0..65535 (one, or a list), or bytes as big-endian pairs. */
export function registersFrom(r: unknown): number[] {
  let list: unknown[];
  if (r instanceof Uint8Array || r instanceof ArrayBuffer) {
    const b = r instanceof ArrayBuffer ? new Uint8Array(r) : r;
    if (b.length % 2 !== 0) throw new Error(`${b.length} bytes is not a whole number of 16-bit registers`);
    list = Array.from({ length: b.length / 2 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  } else list = Array.isArray(r) ? r : [r];
  if (list.length === 0) throw new Error("no register values");
  if (list.length > MAX_REGISTERS) throw new Error(`${list.length} registers, more than one request writes (${MAX_REGISTERS})`);
  return list.map((v, i) => {
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
    throw new Error(`register ${i} is ${JSON.stringify(v) ?? String(v)}; give integers 0..65535`);
  });
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
