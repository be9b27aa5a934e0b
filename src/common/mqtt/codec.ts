// MQTT 3.1, 3.1.1 and 5 packets: encoding what a client sends, decoding what a broker sends.
// Written for the gateway's two hot paths (the platform uplink and the device broker intake), so
// PUBLISH encoding makes one buffer per packet and decoding returns views into the received chunk.
// MQTT 5 properties are decoded where the client acts on them (CONNACK, reason strings) and skipped
// otherwise; the client never asks for topic aliases, so a broker may not send them.

export type ProtocolVersion = 3 | 4 | 5;
import { errorText } from "../../observe/logger.ts";
export type QoS = 0 | 1 | 2;

export const enum PacketType {
  Connect = 1,
  Connack = 2,
  Publish = 3,
  Puback = 4,
  Pubrec = 5,
  Pubrel = 6,
  Pubcomp = 7,
  Subscribe = 8,
  Suback = 9,
  Unsubscribe = 10,
  Unsuback = 11,
  Pingreq = 12,
  Pingresp = 13,
  Disconnect = 14,
  Auth = 15,
}

export interface ConnectOptions {
  version: ProtocolVersion;
  clientId: string;
  keepaliveSeconds: number;
  /** clean session (3.1.1) / clean start (5) */
  clean: boolean;
  username?: string;
  password?: string | Uint8Array;
  /** MQTT 5 only: seconds the broker keeps the session after the connection closes. */
  sessionExpirySeconds?: number;
}

export interface ConnackPacket {
  type: PacketType.Connack;
  sessionPresent: boolean;
  /** 0 = accepted; 3.1.1 return code or MQTT 5 reason code. */
  code: number;
  reasonString?: string;
  /** MQTT 5: the most QoS>0 publishes the broker accepts unacknowledged (65535 if not said). */
  receiveMaximum: number;
  /** MQTT 5: keepalive the broker wants instead of ours. */
  serverKeepAlive?: number;
  assignedClientId?: string;
}

export interface PublishPacket {
  type: PacketType.Publish;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Set for QoS 1 and 2. */
  id: number;
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface AckPacket {
  type: PacketType.Puback | PacketType.Pubrec | PacketType.Pubrel | PacketType.Pubcomp | PacketType.Unsuback;
  id: number;
  /** 0 = success; MQTT 5 reason code (≥ 0x80 is a failure). */
  code: number;
  reasonString?: string;
}

export interface SubackPacket {
  type: PacketType.Suback;
  id: number;
  /** Granted QoS per filter, or a failure code (0x80 and up). */
  granted: number[];
}

export interface SimplePacket {
  type: PacketType.Pingresp | PacketType.Disconnect | PacketType.Auth;
  code: number;
  reasonString?: string;
}

export type IncomingPacket = ConnackPacket | PublishPacket | AckPacket | SubackPacket | SimplePacket;

export class ProtocolError extends Error {}

// ---------- encoding ----------

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}

function writeString(buf: Buffer, at: number, s: string, len: number): number {
  buf.writeUInt16BE(len, at);
  buf.write(s, at + 2, len, "utf8");
  return at + 2 + len;
}

function writeBytes(buf: Buffer, at: number, b: Uint8Array): number {
  buf.writeUInt16BE(b.length, at);
  buf.set(b, at + 2);
  return at + 2 + b.length;
}

/** Fixed header + body of `bodyLen` bytes; returns the buffer and where the body starts. */
function allocPacket(first: number, bodyLen: number): [Buffer, number] {
  if (bodyLen > 268435455) throw new ProtocolError(`packet of ${bodyLen} bytes exceeds MQTT's 256 MB limit`);
  const head = 1 + varintSize(bodyLen);
  const buf = Buffer.allocUnsafe(head + bodyLen);
  buf[0] = first;
  writeVarint(buf, 1, bodyLen);
  return [buf, head];
}

export function encodeConnect(o: ConnectOptions): Buffer {
  const v5 = o.version === 5;
  const name = o.version === 3 ? "MQIsdp" : "MQTT";
  const idLen = Buffer.byteLength(o.clientId);
  const userLen = o.username !== undefined ? Buffer.byteLength(o.username) : -1;
  const pass = o.password === undefined ? undefined : typeof o.password === "string" ? Buffer.from(o.password) : o.password;
  // MQTT 5 properties: only the session expiry interval, when asked for.
  const propsLen = v5 && o.sessionExpirySeconds ? 5 : 0;
  let body = 2 + name.length + 1 + 1 + 2 + 2 + idLen;
  if (v5) body += varintSize(propsLen) + propsLen;
  if (userLen >= 0) body += 2 + userLen;
  if (pass) body += 2 + pass.length;
  const [buf, start] = allocPacket(PacketType.Connect << 4, body);
  let at = writeString(buf, start, name, name.length);
  buf[at++] = o.version;
  let flags = o.clean ? 0x02 : 0;
  if (userLen >= 0) flags |= 0x80;
  if (pass) flags |= 0x40;
  buf[at++] = flags;
  buf.writeUInt16BE(o.keepaliveSeconds, at);
  at += 2;
  if (v5) {
    at = writeVarint(buf, at, propsLen);
    if (propsLen) {
      buf[at++] = 0x11;
      buf.writeUInt32BE(o.sessionExpirySeconds!, at);
      at += 4;
    }
  }
  at = writeString(buf, at, o.clientId, idLen);
  if (userLen >= 0) at = writeString(buf, at, o.username!, userLen);
  if (pass) writeBytes(buf, at, pass);
  return buf;
}

/**
 * One PUBLISH. `payload` as a string is written as UTF-8 straight into the packet (no interim
 * buffer); `id` is ignored for QoS 0.
 */
export function encodePublish(version: ProtocolVersion, topic: string, payload: string | Uint8Array, qos: QoS, retain: boolean, id: number, dup = false): Buffer {
  const topicLen = Buffer.byteLength(topic);
  const payloadLen = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  const body = 2 + topicLen + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + payloadLen;
  const [buf, start] = allocPacket((PacketType.Publish << 4) | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0), body);
  let at = writeString(buf, start, topic, topicLen);
  if (qos > 0) {
    buf.writeUInt16BE(id, at);
    at += 2;
  }
  if (version === 5) buf[at++] = 0; // no properties
  if (typeof payload === "string") buf.write(payload, at, payloadLen, "utf8");
  else buf.set(payload, at);
  return buf;
}

/** PUBACK, PUBREC, PUBREL or PUBCOMP with success (the short form every version accepts). */
export function encodeAck(type: PacketType.Puback | PacketType.Pubrec | PacketType.Pubrel | PacketType.Pubcomp, id: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf[0] = (type << 4) | (type === PacketType.Pubrel ? 0x02 : 0);
  buf[1] = 2;
  buf[2] = id >> 8;
  buf[3] = id & 0xff;
  return buf;
}

export function encodeSubscribe(version: ProtocolVersion, id: number, subs: ReadonlyArray<{ topic: string; qos: QoS }>): Buffer {
  const lens = subs.map((s) => Buffer.byteLength(s.topic));
  let body = 2 + (version === 5 ? 1 : 0);
  for (const l of lens) body += 2 + l + 1;
  const [buf, start] = allocPacket((PacketType.Subscribe << 4) | 0x02, body);
  buf.writeUInt16BE(id, start);
  let at = start + 2;
  if (version === 5) buf[at++] = 0;
  subs.forEach((s, i) => {
    at = writeString(buf, at, s.topic, lens[i]!);
    buf[at++] = s.qos;
  });
  return buf;
}

export function encodeUnsubscribe(version: ProtocolVersion, id: number, topics: readonly string[]): Buffer {
  const lens = topics.map((t) => Buffer.byteLength(t));
  let body = 2 + (version === 5 ? 1 : 0);
  for (const l of lens) body += 2 + l;
  const [buf, start] = allocPacket((PacketType.Unsubscribe << 4) | 0x02, body);
  buf.writeUInt16BE(id, start);
  let at = start + 2;
  if (version === 5) buf[at++] = 0;
  topics.forEach((t, i) => (at = writeString(buf, at, t, lens[i]!)));
  return buf;
}

export const PINGREQ = Buffer.from([PacketType.Pingreq << 4, 0]);
/** A normal disconnect: no reason code means 0 in MQTT 5, and 3.1.1 has none. */
export const DISCONNECT = Buffer.from([PacketType.Disconnect << 4, 0]);

// ---------- decoding ----------

interface Props {
  reasonString?: string;
  receiveMaximum?: number;
  serverKeepAlive?: number;
  assignedClientId?: string;
  responseTopic?: string;
  correlationData?: Buffer;
}

/** Reads a property block at `at` (its length first); returns the properties and where the block ends. */
function readProps(b: Buffer, at: number, end: number): [Props, number] {
  const [len, start] = readVarint(b, at, end);
  const stop = start + len;
  if (stop > end) throw new ProtocolError("property block overruns its packet");
  const p: Props = {};
  let i = start;
  const str = (): string => {
    const n = b.readUInt16BE(i);
    const s = b.toString("utf8", i + 2, i + 2 + n);
    i += 2 + n;
    return s;
  };
  while (i < stop) {
    const id = b[i++]!;
    switch (id) {
      case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2a:
        i += 1;
        break;
      case 0x13:
        p.serverKeepAlive = b.readUInt16BE(i);
        i += 2;
        break;
      case 0x21:
        p.receiveMaximum = b.readUInt16BE(i);
        i += 2;
        break;
      case 0x22: case 0x23:
        i += 2;
        break;
      case 0x02: case 0x11: case 0x18: case 0x27:
        i += 4;
        break;
      case 0x0b:
        i = readVarint(b, i, stop)[1];
        break;
      case 0x08:
        p.responseTopic = str();
        break;
      case 0x12:
        p.assignedClientId = str();
        break;
      case 0x1f:
        p.reasonString = str();
        break;
      case 0x03: case 0x15: case 0x1a: case 0x1c:
        str();
        break;
      case 0x09: {
        const n = b.readUInt16BE(i);
        p.correlationData = b.subarray(i + 2, i + 2 + n);
        i += 2 + n;
        break;
      }
      case 0x16:
        i += 2 + b.readUInt16BE(i);
        break;
      case 0x26:
        str();
        str();
        break;
      default:
        throw new ProtocolError(`unknown MQTT 5 property 0x${id.toString(16)}`);
    }
  }
  if (i !== stop) throw new ProtocolError("property block length does not match its contents");
  return [p, stop];
}

/** [value, next offset]; value -1 when the varint is not complete within `end`. */
function readVarint(b: Uint8Array, at: number, end: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (at >= end) return [-1, at];
    const byte = b[at++]!;
    value += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return [value, at];
    mul *= 128;
  }
  throw new ProtocolError("malformed remaining length");
}

function decodeBody(version: ProtocolVersion, first: number, b: Buffer, start: number, end: number): IncomingPacket | undefined {
  const type = first >> 4;
  const v5 = version === 5;
  // `b` may go on with the next packet's bytes: a body too short for its first two fixed bytes
  // (topic length, packet id, CONNACK flags and code) must not borrow them from there.
  if (end - start < 2 && type >= PacketType.Connack && type <= PacketType.Unsuback) throw new ProtocolError(`packet type ${type} of ${end - start} bytes is too short`);
  switch (type) {
    case PacketType.Publish: {
      const bits = (first >> 1) & 3;
      if (bits === 3) throw new ProtocolError("PUBLISH with QoS 3");
      const qos = bits as QoS;
      const tlen = b.readUInt16BE(start);
      let at = start + 2 + tlen;
      const topic = b.toString("utf8", start + 2, at);
      let id = 0;
      if (qos > 0) {
        id = b.readUInt16BE(at);
        at += 2;
      }
      let props: Props | undefined;
      if (v5) [props, at] = readProps(b, at, end);
      if (at > end) throw new ProtocolError("PUBLISH shorter than its topic");
      const p: PublishPacket = { type, topic, payload: b.subarray(at, end), qos, retain: (first & 1) === 1, dup: (first & 8) === 8, id };
      if (props?.responseTopic !== undefined) p.responseTopic = props.responseTopic;
      if (props?.correlationData !== undefined) p.correlationData = props.correlationData;
      return p;
    }
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp: {
      const id = b.readUInt16BE(start);
      let code = 0;
      let reasonString: string | undefined;
      if (v5 && end - start > 2) {
        code = b[start + 2]!;
        if (end - start > 3) reasonString = readProps(b, start + 3, end)[0].reasonString;
      }
      return { type, id, code, reasonString };
    }
    case PacketType.Connack: {
      const p: ConnackPacket = { type, sessionPresent: (b[start]! & 1) === 1, code: b[start + 1]!, receiveMaximum: 65535 };
      if (v5 && end - start > 2) {
        const [props] = readProps(b, start + 2, end);
        if (props.receiveMaximum) p.receiveMaximum = props.receiveMaximum;
        p.serverKeepAlive = props.serverKeepAlive;
        p.assignedClientId = props.assignedClientId;
        p.reasonString = props.reasonString;
      }
      return p;
    }
    case PacketType.Suback: {
      const id = b.readUInt16BE(start);
      let at = start + 2;
      if (v5) at = readProps(b, at, end)[1];
      const granted: number[] = [];
      for (; at < end; at++) granted.push(b[at]!);
      return { type, id, granted };
    }
    case PacketType.Unsuback: {
      const id = b.readUInt16BE(start);
      let code = 0;
      if (v5 && end - start > 2) {
        const at = readProps(b, start + 2, end)[1];
        if (at < end) code = b[at]!;
      }
      return { type, id, code };
    }
    case PacketType.Pingresp:
      return { type, code: 0 };
    case PacketType.Disconnect:
    case PacketType.Auth: {
      const code = end > start ? b[start]! : 0;
      const reasonString = v5 && end - start > 1 ? readProps(b, start + 1, end)[0].reasonString : undefined;
      return { type, code, reasonString };
    }
    default:
      throw new ProtocolError(`a client does not expect packet type ${type}`);
  }
}

/**
 * Splits the byte stream from a broker into packets. Chunks are decoded where they arrive; only a
 * packet cut across chunks is copied together, once it is complete (a large PUBLISH arriving in
 * many chunks is gathered, not re-concatenated per chunk).
 */
export class PacketReader {
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Bytes the first incomplete packet needs in all, once its header has arrived (0 = unknown). */
  private need = 0;

  constructor(private readonly version: ProtocolVersion) {}

  /** Calls `onPacket` for every complete packet in what has arrived so far. */
  push(chunk: Buffer, onPacket: (p: IncomingPacket) => void): void {
    let b = chunk;
    if (this.partsLen > 0) {
      this.parts.push(chunk);
      this.partsLen += chunk.length;
      if (this.need > 0 && this.partsLen < this.need) return;
      b = Buffer.concat(this.parts, this.partsLen);
      this.parts = [];
      this.partsLen = 0;
      this.need = 0;
    }
    let at = 0;
    const end = b.length;
    while (end - at >= 2) {
      const [len, bodyStart] = readVarint(b, at + 1, end);
      if (len < 0) break;
      if (bodyStart + len > end) {
        this.need = bodyStart + len - at;
        break;
      }
      let packet: IncomingPacket | undefined;
      try {
        packet = decodeBody(this.version, b[at]!, b, bodyStart, bodyStart + len);
      } catch (e) {
        if (e instanceof ProtocolError) throw e;
        // a read past the packet's end (RangeError): the broker sent a truncated field
        throw new ProtocolError(`malformed packet type ${b[at]! >> 4}: ${errorText(e)}`);
      }
      at = bodyStart + len;
      if (packet) onPacket(packet);
    }
    if (at < end) {
      const rest = b.subarray(at);
      this.parts.push(rest);
      this.partsLen = rest.length;
    }
  }

  reset(): void {
    this.parts = [];
    this.partsLen = 0;
    this.need = 0;
  }
}
