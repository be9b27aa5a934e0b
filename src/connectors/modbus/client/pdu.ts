// The master's side of a Modbus PDU (function code + data, no unit id / MBAP header / CRC): request
// encoding written straight into the frame buffer the transport sends (one allocation per request),
// and response checks and decoding. Pure and synchronous, like the slave's side (slave-pdu.ts),
// so every framing (MBAP over TCP/UDP, RTU, ASCII) shares it.

import { ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, ILLEGAL_FUNCTION } from "../slave-pdu.ts";

/** What one request asks for; `values` only for writes (coils as booleans, registers as 0..65535). */
export interface PduRequest {
  fc: number;
  address: number;
  /** objects read or written */
  count: number;
  /** FC 5/6: the value; FC 15/16: the values */
  value?: number;
  values?: ArrayLike<number | boolean>;
}

const EXCEPTION_NAMES: Record<number, string> = {
  [ILLEGAL_FUNCTION]: "illegal function",
  [ILLEGAL_DATA_ADDRESS]: "illegal data address",
  [ILLEGAL_DATA_VALUE]: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

/** The device answered with an exception response; `modbusCode` is what isModbusException looks for. */
export class ModbusExceptionError extends Error {
  constructor(
    readonly functionCode: number,
    readonly modbusCode: number,
  ) {
    super(`Modbus exception ${modbusCode} (${EXCEPTION_NAMES[modbusCode] ?? "unknown code"}) to function code ${functionCode}`);
    this.name = "ModbusExceptionError";
  }
}

/** Bytes of the request PDU. */
export function requestLength(r: PduRequest): number {
  if (r.fc === 15) return 6 + ((r.count + 7) >> 3);
  if (r.fc === 16) return 6 + 2 * r.count;
  return 5;
}

/** Write the request PDU into `buf` at `at` (requestLength(r) bytes). */
export function writeRequest(buf: Uint8Array, at: number, r: PduRequest): void {
  buf[at] = r.fc;
  buf[at + 1] = r.address >> 8;
  buf[at + 2] = r.address & 0xff;
  switch (r.fc) {
    case 5:
      buf[at + 3] = r.value ? 0xff : 0;
      buf[at + 4] = 0;
      return;
    case 6:
      buf[at + 3] = (r.value! >> 8) & 0xff;
      buf[at + 4] = r.value! & 0xff;
      return;
  }
  buf[at + 3] = r.count >> 8;
  buf[at + 4] = r.count & 0xff;
  if (r.fc === 15) {
    const n = (r.count + 7) >> 3;
    buf[at + 5] = n;
    buf.fill(0, at + 6, at + 6 + n);
    for (let i = 0; i < r.count; i++) if (r.values![i]) buf[at + 6 + (i >> 3)]! |= 1 << (i & 7);
  } else if (r.fc === 16) {
    buf[at + 5] = 2 * r.count;
    for (let i = 0; i < r.count; i++) {
      const v = Number(r.values![i]);
      buf[at + 6 + 2 * i] = (v >> 8) & 0xff;
      buf[at + 7 + 2 * i] = v & 0xff;
    }
  }
}

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

/**
 * Check the response PDU `pdu[at..end)` against its request: an exception response throws
 * ModbusExceptionError, a malformed or mismatched one throws a plain Error (an I/O fault, retried).
 * Returns nothing; the caller decodes what it asked for.
 */
export function checkResponse(r: PduRequest, pdu: Uint8Array, at: number, end: number): void {
  const len = end - at;
  if (len < 2) throw new Error(`response of ${len} byte(s) to function code ${r.fc}`);
  const fc = pdu[at]!;
  if (fc === (r.fc | 0x80)) throw new ModbusExceptionError(r.fc, pdu[at + 1]!);
  if (fc !== r.fc) throw new Error(`response with function code ${fc} to a request with ${r.fc}`);
  if (r.fc <= 4) {
    const want = r.fc <= 2 ? (r.count + 7) >> 3 : 2 * r.count;
    const got = pdu[at + 1]!;
    if (got !== want || len < 2 + got) throw new Error(`response to function code ${r.fc} carries ${Math.min(got, len - 2)} data bytes; ${want} expected for ${r.count} objects`);
    return;
  }
  if (len < 5) throw new Error(`write response of ${len} bytes to function code ${r.fc}`);
  const address = u16(pdu, at + 1);
  const second = u16(pdu, at + 3);
  const expected = r.fc === 5 ? (r.value ? 0xff00 : 0) : r.fc === 6 ? r.value! & 0xffff : r.count;
  if (address !== r.address || second !== expected)
    throw new Error(`write response to function code ${r.fc} echoes address ${address} / ${second}; the request was ${r.address} / ${expected}`);
}

/** FC 3/4 response data as 16-bit register values. */
export function registersOf(pdu: Uint8Array, at: number, count: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0, p = at + 2; i < count; i++, p += 2) out[i] = (pdu[p]! << 8) | pdu[p + 1]!;
  return out;
}

/** FC 1/2 response data as `count` booleans (LSB of the first byte first). */
export function bitsOf(pdu: Uint8Array, at: number, count: number): boolean[] {
  const out = new Array<boolean>(count);
  for (let i = 0; i < count; i++) out[i] = ((pdu[at + 2 + (i >> 3)]! >> (i & 7)) & 1) === 1;
  return out;
}
