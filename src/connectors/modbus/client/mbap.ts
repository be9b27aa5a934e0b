// Modbus TCP and Modbus UDP: the PDU behind a 7-byte MBAP header (transaction id, protocol 0,
// length, unit id). An answer is taken only with the pending request's transaction id.

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { connect, type Socket } from "node:net";
import { ModbusClient, type Pending } from "./client.ts";

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

/** Write the MBAP header for `p` into the first 7 bytes of `frame`. */
function writeHeader(frame: Buffer, pduLength: number, p: Pending, tid: number): void {
  p.tid = tid;
  frame[0] = tid >> 8;
  frame[1] = tid & 0xff;
  frame[2] = 0;
  frame[3] = 0;
  frame[4] = (pduLength + 1) >> 8;
  frame[5] = (pduLength + 1) & 0xff;
  frame[6] = p.unit;
}

export class TcpClient extends ModbusClient {
  protected readonly header = 7;
  protected readonly trailer = 0;
  private sock?: Socket;
  private tid = 0;
  /** the start of an ADU whose rest has not arrived yet */
  private rest?: Buffer;

  constructor(
    private readonly host: string,
    private readonly port: number,
    timeoutMs: number,
  ) {
    super(timeoutMs);
  }

  get isOpen(): boolean {
    return this.sock !== undefined;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${this.host}:${this.port} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      let lastError: Error | undefined;
      s.once("connect", () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        this.sock = s;
        resolve();
      });
      s.on("error", (e) => {
        lastError = e;
        if (this.sock === s) return; // "close" follows
        clearTimeout(timer);
        reject(e);
      });
      s.on("data", (d: Buffer) => this.receive(d));
      s.on("close", () => {
        if (this.sock !== s) return;
        this.sock = undefined;
        this.rest = undefined;
        this.lost(lastError ?? new Error(`${this.host}:${this.port} closed the connection`));
      });
    });
  }

  protected send(frame: Buffer, pduLength: number, p: Pending): void {
    this.tid = (this.tid + 1) & 0xffff;
    writeHeader(frame, pduLength, p, this.tid);
    this.sock!.write(frame);
  }

  private receive(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let at = 0;
    while (buf.length - at >= 7) {
      const length = u16(buf, at + 4); // unit id + PDU
      if (u16(buf, at + 2) !== 0 || length < 2 || length > 254) return; // not MBAP: drop what we have
      const end = at + 6 + length;
      if (end > buf.length) break;
      const p = this.pending;
      if (p && u16(buf, at) === p.tid) this.answer(buf, at + 7, end);
      at = end;
    }
    if (at < buf.length) this.rest = Buffer.from(buf.subarray(at));
  }

  protected async shut(): Promise<void> {
    // destroyed, not ended: an end waits for the device's side of the close, which a silent
    // device sends only when its socket times out
    const s = this.sock;
    this.sock = undefined;
    s?.destroy();
  }
}

export class UdpClient extends ModbusClient {
  protected readonly header = 7;
  protected readonly trailer = 0;
  private sock?: UdpSocket;
  private address = "";
  private tid = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    timeoutMs: number,
  ) {
    super(timeoutMs);
  }

  get isOpen(): boolean {
    return this.sock !== undefined;
  }

  async open(): Promise<void> {
    const { address, family } = await lookup(this.host);
    const s = createSocket(family === 6 ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(0, () => {
        s.off("error", reject);
        resolve();
      });
    });
    s.on("error", () => {}); // a send error shows as the request's timeout
    s.on("message", (msg: Buffer, from: { address: string; port: number }) => {
      if (from.port !== this.port || from.address !== address) return; // not from our device
      const p = this.pending;
      if (!p || msg.length < 9 || u16(msg, 0) !== p.tid || u16(msg, 2) !== 0) return;
      this.answer(msg, 7, Math.min(msg.length, 6 + u16(msg, 4)));
    });
    this.address = address;
    this.sock = s;
  }

  protected send(frame: Buffer, pduLength: number, p: Pending): void {
    this.tid = (this.tid + 1) & 0xffff;
    writeHeader(frame, pduLength, p, this.tid);
    this.sock!.send(frame, this.port, this.address);
  }

  protected async shut(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
