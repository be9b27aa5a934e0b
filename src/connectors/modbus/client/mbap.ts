// Modbus TCP and Modbus UDP: the PDU behind a 7-byte MBAP header (transaction id, protocol 0,
// length, unit id). An answer is taken only with the pending request's transaction id.

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import type { Socket as BunSocket } from "bun";
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

/** What Modbus TCP and UDP share: a device at host:port, a socket while open, the MBAP header with a transaction id per request. */
abstract class MbapClient<S> extends ModbusClient {
  protected readonly header = 7;
  protected readonly trailer = 0;
  protected sock?: S;
  private tid = 0;

  constructor(
    protected readonly host: string,
    protected readonly port: number,
    timeoutMs: number,
  ) {
    super(timeoutMs);
  }

  get isOpen(): boolean {
    return this.sock !== undefined;
  }

  /** Write the MBAP header with the next transaction id for `p` into `frame`. */
  protected stamp(frame: Buffer, pduLength: number, p: Pending): void {
    this.tid = (this.tid + 1) & 0xffff;
    writeHeader(frame, pduLength, p, this.tid);
  }
}

/**
 * Modbus TCP on Bun's native socket (Bun.connect) rather than node:net, which wraps every write
 * and read in node:stream machinery: 300 slaves x 50 registers x 100 ms in the connector alone
 * (no platform) took 0.95 / 1.07 core-s per million datapoints against 1.24 / 1.28 on node:net
 * (same at 100 slaves x 1 s: 3.5 / 2.9 vs 3.3 / 3.0, so no loss there; load 8-9).
 */
export class TcpClient extends MbapClient<BunSocket<undefined>> {
  private rest?: Buffer;
  /** bytes the kernel did not take yet (written on `drain`) */
  private unsent?: Buffer;

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let lastError: Error | undefined;
      const timer = setTimeout(() => {
        settled = true;
        reject(new Error(`connect to ${this.host}:${this.port} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const failed = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      };
      Bun.connect({
        hostname: this.host,
        port: this.port,
        socket: {
          open: (s) => {
            if (settled) return void s.terminate(); // connected after its timeout
            settled = true;
            clearTimeout(timer);
            s.setNoDelay(true);
            this.sock = s;
            resolve();
          },
          data: (_s, d) => this.receive(d),
          drain: (s) => {
            const u = this.unsent;
            if (!u) return;
            const n = s.write(u);
            this.unsent = n < u.length ? u.subarray(Math.max(0, n)) : undefined;
          },
          error: (_s, e) => {
            lastError = e;
          },
          connectError: (_s, e) => failed(e),
          close: (s) => {
            if (this.sock !== s) return;
            this.sock = undefined;
            this.rest = this.unsent = undefined;
            this.lost(lastError ?? new Error(`${this.host}:${this.port} closed the connection`));
          },
        },
      }).catch(failed);
    });
  }

  protected send(frame: Buffer, pduLength: number, p: Pending): void {
    this.stamp(frame, pduLength, p);
    const s = this.sock!;
    if (this.unsent) {
      this.unsent = Buffer.concat([this.unsent, frame]);
      return;
    }
    const n = s.write(frame);
    if (n < frame.length) this.unsent = frame.subarray(Math.max(0, n));
  }

  private receive(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let at = 0;
    while (buf.length - at >= 7) {
      const length = u16(buf, at + 4);
      if (u16(buf, at + 2) !== 0 || length < 2 || length > 254) return;
      const end = at + 6 + length;
      if (end > buf.length) break;
      const p = this.pending;
      if (p && u16(buf, at) === p.tid) this.answer(buf, at + 7, end);
      at = end;
    }
    if (at < buf.length) this.rest = Buffer.from(buf.subarray(at));
  }

  protected async shut(): Promise<void> {
    // terminated, not ended: an end waits for the device's side of the close, which a silent
    // device sends only when its socket times out
    const s = this.sock;
    this.sock = undefined;
    s?.terminate();
  }
}

export class UdpClient extends MbapClient<UdpSocket> {
  private address = "";

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
    this.stamp(frame, pduLength, p);
    this.sock!.send(frame, this.port, this.address);
  }

  protected async shut(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
