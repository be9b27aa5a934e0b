// Answers one Modbus request PDU (function code + data, no unit id / CRC) from the slave-mode register
// store: FC 1–6, 15, 16 and 43/14 (Read Device Identification). Anything else gets the Modbus
// exception a device would send. Pure and synchronous, so every framing (RTU, ASCII, in-process) shares it.

import type { RegisterStore, Table } from "./slave-store.ts";

export const ILLEGAL_FUNCTION = 1;
export const ILLEGAL_DATA_ADDRESS = 2;
export const ILLEGAL_DATA_VALUE = 3;

/** Where the store was written by a client: table, first address, number of objects. */
export interface PduWrite {
  table: Table;
  address: number;
  count: number;
}

export interface PduAnswer {
  response: Uint8Array;
  write?: PduWrite;
}

function exception(fc: number, code: number): PduAnswer {
  return { response: Uint8Array.of((fc | 0x80) & 0xff, code) };
}

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

export function answerPdu(store: RegisterStore, pdu: Uint8Array): PduAnswer {
  const fc = pdu[0] ?? 0;
  switch (fc) {
    case 1:
    case 2:
      return readBits(store, pdu, fc === 1 ? "co" : "di");
    case 3:
    case 4:
      return readRegisters(store, pdu, fc === 3 ? "hr" : "ir");
    case 5: {
      if (pdu.length < 5) return exception(fc, ILLEGAL_DATA_VALUE);
      const address = u16(pdu, 1), value = u16(pdu, 3);
      if (value !== 0xff00 && value !== 0) return exception(fc, ILLEGAL_DATA_VALUE);
      store.set("co", address, value ? 1 : 0);
      return { response: pdu.slice(0, 5), write: { table: "co", address, count: 1 } };
    }
    case 6: {
      if (pdu.length < 5) return exception(fc, ILLEGAL_DATA_VALUE);
      const address = u16(pdu, 1);
      store.set("hr", address, u16(pdu, 3));
      return { response: pdu.slice(0, 5), write: { table: "hr", address, count: 1 } };
    }
    case 15: {
      if (pdu.length < 6) return exception(fc, ILLEGAL_DATA_VALUE);
      const address = u16(pdu, 1), count = u16(pdu, 3), bytes = pdu[5]!;
      if (count < 1 || count > 0x7b0 || bytes !== Math.ceil(count / 8) || pdu.length < 6 + bytes) return exception(fc, ILLEGAL_DATA_VALUE);
      if (address + count > 0x10000) return exception(fc, ILLEGAL_DATA_ADDRESS);
      for (let i = 0; i < count; i++) store.set("co", address + i, (pdu[6 + (i >> 3)]! >> (i & 7)) & 1);
      return { response: pdu.slice(0, 5), write: { table: "co", address, count } };
    }
    case 16: {
      if (pdu.length < 6) return exception(fc, ILLEGAL_DATA_VALUE);
      const address = u16(pdu, 1), count = u16(pdu, 3), bytes = pdu[5]!;
      if (count < 1 || count > 0x7b || bytes !== count * 2 || pdu.length < 6 + bytes) return exception(fc, ILLEGAL_DATA_VALUE);
      if (address + count > 0x10000) return exception(fc, ILLEGAL_DATA_ADDRESS);
      for (let i = 0; i < count; i++) store.set("hr", address + i, u16(pdu, 6 + 2 * i));
      return { response: pdu.slice(0, 5), write: { table: "hr", address, count } };
    }
    case 43:
      return pdu[1] === 14 ? deviceIdentification(store, pdu) : exception(fc, ILLEGAL_FUNCTION);
    default:
      return exception(fc, ILLEGAL_FUNCTION);
  }
}

function readBits(store: RegisterStore, pdu: Uint8Array, table: Table): PduAnswer {
  const fc = pdu[0]!;
  if (pdu.length < 5) return exception(fc, ILLEGAL_DATA_VALUE);
  const address = u16(pdu, 1), count = u16(pdu, 3);
  if (count < 1 || count > 2000) return exception(fc, ILLEGAL_DATA_VALUE);
  if (address + count > 0x10000) return exception(fc, ILLEGAL_DATA_ADDRESS);
  const bytes = Math.ceil(count / 8);
  const out = new Uint8Array(2 + bytes);
  out[0] = fc;
  out[1] = bytes;
  for (let i = 0; i < count; i++) if (store.get(table, address + i)) out[2 + (i >> 3)]! |= 1 << (i & 7);
  return { response: out };
}

function readRegisters(store: RegisterStore, pdu: Uint8Array, table: Table): PduAnswer {
  const fc = pdu[0]!;
  if (pdu.length < 5) return exception(fc, ILLEGAL_DATA_VALUE);
  const address = u16(pdu, 1), count = u16(pdu, 3);
  if (count < 1 || count > 125) return exception(fc, ILLEGAL_DATA_VALUE);
  if (address + count > 0x10000) return exception(fc, ILLEGAL_DATA_ADDRESS);
  const out = new Uint8Array(2 + 2 * count);
  out[0] = fc;
  out[1] = 2 * count;
  for (let i = 0; i < count; i++) {
    const v = store.get(table, address + i);
    out[2 + 2 * i] = v >> 8;
    out[3 + 2 * i] = v & 0xff;
  }
  return { response: out };
}

/**
 * FC 43 / MEI 14. Read codes: 1 basic (objects 0–2), 2 regular (3–6), 3 extended (all, incl. ≥ 0x80),
 * 4 one object. Stream reads start at the requested object (0 if it does not exist) and continue in a
 * further request ("more follows") when the objects do not fit in one PDU.
 */
function deviceIdentification(store: RegisterStore, pdu: Uint8Array): PduAnswer {
  if (pdu.length < 4) return exception(43, ILLEGAL_DATA_VALUE);
  const code = pdu[2]!;
  let first = pdu[3]!;
  if (code < 1 || code > 4) return exception(43, ILLEGAL_DATA_VALUE);
  const ids = [...store.identity.keys()].sort((a, b) => a - b);
  if (code === 4) {
    if (!store.identity.has(first)) return exception(43, ILLEGAL_DATA_ADDRESS);
  } else if (!store.identity.has(first)) first = 0;
  const inRange = (id: number) => code === 4 ? id === first : code === 1 ? id <= 2 : code === 2 ? id <= 6 : true;
  const conformity = ids.some((id) => id >= 0x80) ? 0x83 : ids.some((id) => id > 2) ? 0x82 : 0x81;
  const objects: number[] = [];
  let size = 7, next = 0;
  for (const id of ids) {
    if (id < first || !inRange(id)) continue;
    const value = Buffer.from(store.identity.get(id)!, "utf-8").subarray(0, 240);
    if (size + 2 + value.length > 253) {
      next = id;
      break;
    }
    objects.push(id, value.length, ...value);
    size += 2 + value.length;
  }
  const count = code === 4 ? 1 : countObjects(objects);
  return { response: Uint8Array.of(43, 14, code, conformity, next ? 0xff : 0, next, count, ...objects) };
}

function countObjects(flat: number[]): number {
  let n = 0;
  for (let i = 0; i < flat.length; i += 2 + flat[i + 1]!) n++;
  return n;
}
