// A small BBMD for tests, written from ASHRAE 135 Annex J (BVLL for BACnet/IP), independent of the
// BACnet stack: it keeps a foreign-device table, answers Register-Foreign-Device with BVLC-Result,
// forwards Distribute-Broadcast-To-Network to its "local" devices and their broadcasts back to the
// registered foreign devices as Forwarded-NPDU, and checks every frame it gets byte by byte
// (problems land in `errors`). It is our own code, so it is an extra check next to the real device
// peer, not an independent implementation.
//
// Loopback has no subnet broadcast, so the devices given as `localDevices` stand for the BBMD's
// subnet: a frame from one of them is treated as its local broadcast and forwarded.

import { createSocket, type Socket } from "node:dgram";

export const BVLC = {
  RESULT: 0x00,
  FORWARDED_NPDU: 0x04,
  REGISTER_FOREIGN_DEVICE: 0x05,
  DISTRIBUTE_BROADCAST_TO_NETWORK: 0x09,
  ORIGINAL_UNICAST: 0x0a,
  ORIGINAL_BROADCAST: 0x0b,
} as const;

/** BVLC-Result codes (J.2.1.1). */
export const RESULT = { OK: 0x0000, REGISTER_NAK: 0x0030, DISTRIBUTE_NAK: 0x0060 } as const;

export interface Frame {
  from: string;
  func: number;
  bytes: Uint8Array;
  /** For NPDU-carrying frames: APDU type/service, e.g. "unconfirmed:8" (Who-Is), "unconfirmed:0" (I-Am). */
  apdu?: string;
}

export interface BbmdOptions {
  host: string;
  /** "host:port" of the devices on the BBMD's own subnet. */
  localDevices: string[];
  /** Answer every registration with a NAK (0x0030). */
  refuse?: boolean;
}

/** Grace period a BBMD adds to a foreign device's TTL (J.5.2.1). */
const GRACE_S = 30;

export class BbmdPeer {
  readonly frames: Frame[] = [];
  readonly errors: string[] = [];
  /** foreign device "host:port" → expiry time (ms) */
  readonly fdt = new Map<string, number>();
  port = 0;
  private sock: Socket = createSocket("udp4");
  private waiters = new Set<() => void>();

  constructor(private readonly opts: BbmdOptions) {}

  get address(): string {
    return `${this.opts.host}:${this.port}`;
  }

  start(): Promise<void> {
    this.sock.on("message", (msg, rinfo) => this.onFrame(new Uint8Array(msg), `${rinfo.address}:${rinfo.port}`));
    return new Promise((resolve, reject) => {
      this.sock.once("error", reject);
      this.sock.bind(0, this.opts.host, () => {
        this.port = this.sock.address().port;
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** Resolves once `pred` holds over the frames received so far (checked on every frame). */
  waitFor(pred: (frames: Frame[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this.frames)) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`BBMD: timed out after ${timeoutMs} ms waiting for ${what}; frames: ${this.frames.map((f) => `${f.from} ${hex(f.bytes)}`).join(" | ")}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private send(to: string, bytes: Uint8Array): void {
    const [host, port] = to.split(":") as [string, string];
    this.sock.send(bytes, Number(port), host);
  }

  private result(to: string, code: number): void {
    this.send(to, Uint8Array.of(0x81, BVLC.RESULT, 0x00, 0x06, code >> 8, code & 0xff));
  }

  /** Forwarded-NPDU (J.2.5): header, the originator's B/IP address (4 + 2 octets), then the NPDU. */
  private forward(to: string, origin: string, npdu: Uint8Array): void {
    const [ip, port] = origin.split(":") as [string, string];
    const len = 10 + npdu.length;
    const out = new Uint8Array(len);
    out.set([0x81, BVLC.FORWARDED_NPDU, len >> 8, len & 0xff, ...ip.split(".").map(Number), Number(port) >> 8, Number(port) & 0xff]);
    out.set(npdu, 10);
    this.send(to, out);
  }

  private onFrame(b: Uint8Array, from: string): void {
    const frame: Frame = { from, func: b[1] ?? -1, bytes: b };
    const bad = (why: string) => this.errors.push(`${from}: ${why}: ${hex(b)}`);
    if (b.length < 4 || b[0] !== 0x81) bad("not a BACnet/IP BVLL frame (type octet must be 0x81)");
    else if (((b[2]! << 8) | b[3]!) !== b.length) bad(`BVLC length ${(b[2]! << 8) | b[3]!} differs from the datagram length ${b.length}`);
    else this.handle(frame, b, from, bad);
    this.frames.push(frame);
    for (const w of [...this.waiters]) w();
  }

  private handle(frame: Frame, b: Uint8Array, from: string, bad: (why: string) => void): void {
    const now = Date.now();
    for (const [k, until] of this.fdt) if (until < now) this.fdt.delete(k);
    switch (frame.func) {
      case BVLC.REGISTER_FOREIGN_DEVICE: {
        // J.2.6: exactly a 4-octet header and a 2-octet Time-to-Live.
        if (b.length !== 6) return bad("Register-Foreign-Device must be 6 octets");
        const ttl = (b[4]! << 8) | b[5]!;
        if (this.opts.refuse || ttl === 0) return this.result(from, RESULT.REGISTER_NAK);
        this.fdt.set(from, now + (ttl + GRACE_S) * 1000);
        return this.result(from, RESULT.OK);
      }
      case BVLC.DISTRIBUTE_BROADCAST_TO_NETWORK: {
        // J.4.5: only registered foreign devices may ask; others get a NAK.
        if (!this.fdt.has(from)) return this.result(from, RESULT.DISTRIBUTE_NAK);
        const npdu = b.subarray(4);
        frame.apdu = apduOf(npdu, bad);
        for (const d of this.opts.localDevices) this.forward(d, from, npdu);
        for (const f of this.fdt.keys()) if (f !== from) this.forward(f, from, npdu);
        return;
      }
      case BVLC.ORIGINAL_UNICAST:
      case BVLC.ORIGINAL_BROADCAST: {
        const npdu = b.subarray(4);
        frame.apdu = apduOf(npdu, bad);
        if (!this.opts.localDevices.includes(from)) return bad("Original-NPDU from outside the BBMD's subnet");
        for (const f of this.fdt.keys()) this.forward(f, from, npdu);
        return;
      }
      default:
        bad(`unexpected BVLC function 0x${frame.func.toString(16)}`);
    }
  }
}

/** Checks the NPDU header (clause 6.2) and names the APDU it carries. */
function apduOf(npdu: Uint8Array, bad: (why: string) => void): string | undefined {
  if (npdu[0] !== 0x01) return void bad(`NPDU version ${npdu[0]} (must be 1)`);
  const control = npdu[1]!;
  if (control & 0x80) return "network-message";
  if (control & 0x50) return void bad(`reserved NPDU control bits set: 0x${control.toString(16)}`);
  let at = 2;
  if (control & 0x20) at += 3 + npdu[at + 2]!; // DNET, DLEN, DADR
  if (control & 0x08) at += 3 + npdu[at + 2]!; // SNET, SLEN, SADR
  if (control & 0x20) at += 1; // hop count
  const type = npdu[at]! >> 4;
  if (at >= npdu.length) return void bad("NPDU without an APDU");
  return type === 1 ? `unconfirmed:${npdu[at + 1]}` : `pdu-type:${type}`;
}

export function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}
