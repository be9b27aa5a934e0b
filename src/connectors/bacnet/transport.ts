// The UDP transport handed to @bacnet-js/client in place of its own. Same behaviour (bind with
// SO_REUSEADDR, broadcast allowed, our own broadcasts coming back are dropped) with one fix: when a
// datagram earlier went to a closed port, the ICMP "port unreachable" is reported (under Bun) as the
// error of the *next* send on the socket, and that next datagram is dropped. A dead device would
// thus swallow the request that follows it (a poll of a live device, an I-Am); the transport sends
// such a datagram once more.

import { createSocket, type Socket } from "node:dgram";
import { EventEmitter } from "node:events";

const DEFAULT_PORT = 47808;
/** How long a sent broadcast is remembered to recognise it when it loops back to us. */
const OWN_BROADCAST_MS = 10_000;
const STALE_ERROR_RETRIES = 3;

export class BacnetTransport extends EventEmitter {
  private sock: Socket;
  private ownPort = 0;
  private ownBroadcasts: Array<{ bytes: Buffer; until: number }> = [];

  constructor(private readonly settings: { port: number; interface: string; broadcastAddress: string }) {
    super();
    this.sock = createSocket({ type: "udp4", reuseAddr: true });
    this.sock.on("message", (msg, rinfo) => {
      if (rinfo.port === this.ownPort && this.isOwnBroadcast(msg)) return;
      this.emit("message", msg, rinfo.port === DEFAULT_PORT ? rinfo.address : `${rinfo.address}:${rinfo.port}`);
    });
    this.sock.on("listening", () => {
      this.ownPort = this.sock.address().port;
      this.emit("listening", this.sock.address());
    });
    this.sock.on("error", (e) => this.emit("error", e));
    this.sock.on("close", () => this.emit("close"));
  }

  private isOwnBroadcast(msg: Buffer): boolean {
    const now = Date.now();
    this.ownBroadcasts = this.ownBroadcasts.filter((b) => b.until > now);
    return this.ownBroadcasts.some((b) => b.bytes.equals(msg));
  }

  getBroadcastAddress(): string {
    return this.settings.broadcastAddress;
  }

  getMaxPayload(): number {
    return 1482;
  }

  send(buffer: Buffer, offset: number, receiver?: string): void {
    const bytes = Buffer.from(buffer.subarray(0, offset));
    if (!receiver) {
      receiver = this.settings.broadcastAddress;
      this.ownBroadcasts.push({ bytes, until: Date.now() + OWN_BROADCAST_MS });
    }
    const [host, port] = receiver.split(":") as [string, string | undefined];
    const to = Number(port) || DEFAULT_PORT;
    const attempt = (left: number) =>
      this.sock.send(bytes, to, host, (e) => {
        if (!e) return;
        const code = (e as NodeJS.ErrnoException).code;
        // A stale error of an earlier datagram: this one was not sent; send it again (a few times,
        // as sends queued meanwhile may each pick up another stale error).
        if (left > 0 && (code === "ECONNREFUSED" || code === "EHOSTUNREACH")) attempt(left - 1);
        else this.emit("error", e);
      });
    try {
      attempt(STALE_ERROR_RETRIES);
    } catch (e) {
      this.emit("error", e);
    }
  }

  open(): void {
    this.sock.bind(this.settings.port, this.settings.interface, () => this.sock.setBroadcast(true));
  }

  close(): void {
    try {
      this.sock.close();
    } catch {}
  }
}
