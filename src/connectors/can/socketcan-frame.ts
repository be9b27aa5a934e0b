// Linux SocketCAN frames as bytes: `struct can_frame` (16 bytes) and `struct canfd_frame` (72 bytes)
// from <linux/can.h>, in the host's byte order (every target tb-gw is built for is little-endian).
//   can_frame:   u32 can_id | u8 len | u8 pad | u8 res0 | u8 len8_dlc | u8 data[8]
//   canfd_frame: u32 can_id | u8 len | u8 flags | u8 res0 | u8 res1  | u8 data[64]
// can_id carries the flags EFF (29-bit id), RTR (remote request) and ERR (error frame; the id bits
// then say which error classes). A read returns exactly one frame; its size says which struct it is.
// Pure code: the socket is in socketcan.ts.

import { fdDlc, type CanFrame } from "./slcan.ts";

export const CAN_MTU = 16;
export const CANFD_MTU = 72;

export const CAN_EFF_FLAG = 0x80000000;
export const CAN_RTR_FLAG = 0x40000000;
export const CAN_ERR_FLAG = 0x20000000;
export const CAN_SFF_MASK = 0x7ff;
export const CAN_EFF_MASK = 0x1fffffff;
/** All error classes, for CAN_RAW_ERR_FILTER. */
export const CAN_ERR_MASK = 0x1fffffff;

export const CANFD_BRS = 0x01;
export const CANFD_ESI = 0x02;
export const CANFD_FDF = 0x04;

/** Error classes carried in an error frame's can_id (<linux/can/error.h>). */
const ERROR_CLASSES: [number, string][] = [
  [0x001, "TX timeout"],
  [0x002, "lost arbitration"],
  [0x004, "controller problem"],
  [0x008, "protocol violation"],
  [0x010, "transceiver status"],
  [0x020, "no ACK on transmission"],
  [0x040, "bus off"],
  [0x080, "bus error"],
  [0x100, "controller restarted"],
  [0x200, "TX/RX error counters"],
];

export type DecodedFrame = { kind: "frame"; frame: CanFrame } | { kind: "error"; text: string } | { kind: "bad"; why: string };

/** One frame as read from the socket (`bytes` holds exactly what one read returned). */
export function decodeFrame(bytes: Uint8Array): DecodedFrame {
  if (bytes.length !== CAN_MTU && bytes.length !== CANFD_MTU) return { kind: "bad", why: `a read gave ${bytes.length} bytes, neither a CAN (16) nor a CAN FD (72) frame` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const canId = view.getUint32(0, true);
  const fd = bytes.length === CANFD_MTU;
  const len = bytes[4]!;
  if (canId & CAN_ERR_FLAG) return { kind: "error", text: describeErrorFrame(canId & CAN_ERR_MASK, bytes.subarray(8, 16)) };
  const extended = (canId & CAN_EFF_FLAG) !== 0;
  const id = extended ? canId & CAN_EFF_MASK : canId & CAN_SFF_MASK;
  if (len > (fd ? 64 : 8)) return { kind: "bad", why: `frame ${id} announces ${len} data bytes, more than a ${fd ? "CAN FD" : "CAN"} frame holds` };
  if (!fd && canId & CAN_RTR_FLAG) return { kind: "frame", frame: { id, extended, data: new Uint8Array(0), remote: true } };
  const frame: CanFrame = { id, extended, data: bytes.slice(8, 8 + len) };
  if (fd) {
    frame.fd = true;
    if (bytes[5]! & CANFD_BRS) frame.brs = true;
  }
  return { kind: "frame", frame };
}

/** A frame as the bytes to write: a can_frame, or a canfd_frame (data padded to a CAN FD length) when `fd`. */
export function encodeSocketFrame(f: CanFrame): Uint8Array {
  if (f.extended ? f.id > CAN_EFF_MASK : f.id > CAN_SFF_MASK) throw new Error(`arbitration id ${f.id} does not fit in ${f.extended ? 29 : 11} bits`);
  if (!Number.isInteger(f.id) || f.id < 0) throw new Error(`arbitration id ${f.id} is not a non-negative integer`);
  let canId = f.id >>> 0;
  if (f.extended) canId = (canId | CAN_EFF_FLAG) >>> 0;
  if (f.fd) {
    const { length } = fdDlc(f.data.length);
    const out = new Uint8Array(CANFD_MTU);
    new DataView(out.buffer).setUint32(0, canId, true);
    out[4] = length;
    out[5] = CANFD_FDF | (f.brs ? CANFD_BRS : 0);
    out.set(f.data, 8);
    return out;
  }
  if (f.data.length > 8) throw new Error(`${f.data.length} bytes do not fit in a classic CAN frame (at most 8; set isFd for CAN FD)`);
  const out = new Uint8Array(CAN_MTU);
  if (f.remote) canId = (canId | CAN_RTR_FLAG) >>> 0;
  new DataView(out.buffer).setUint32(0, canId, true);
  out[4] = f.remote ? Math.min(f.data.length, 8) : f.data.length;
  if (!f.remote) out.set(f.data, 8);
  return out;
}

/** An error frame's classes in words, with its data bytes (controller and protocol details) in hex. */
export function describeErrorFrame(classes: number, data: Uint8Array): string {
  const names = ERROR_CLASSES.filter(([bit]) => classes & bit).map(([, name]) => name);
  const what = names.length > 0 ? names.join(", ") : `class 0x${classes.toString(16)}`;
  return `error frame from the CAN controller: ${what} (data ${Buffer.from(data).toString("hex")})`;
}
