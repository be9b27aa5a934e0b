// UDP on Bun.udpSocket: one bound socket receives every device's datagrams (each one message, cut
// to bufferSize as upstream's recvfrom does) and sends the downlink from the same address, so a
// device answers to and hears from one port.

import type { udp } from "bun";
import { errorText } from "../../observe/logger.ts";
import { peerKey, splitAddress, type TransportEvents } from "./tcp.ts";

export class UdpTransport {
  private socket: udp.Socket<"buffer"> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private bindProblem = "";
  private warnedTruncated = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly bufferSize: number,
    private readonly events: TransportEvents,
  ) {}

  get boundPort(): number | undefined {
    return this.socket?.port;
  }

  start(): void {
    if (this.stopped) return;
    Bun.udpSocket({
      hostname: this.host,
      port: this.port,
      binaryType: "buffer",
      socket: {
        data: (_s, data, port, address) => this.datagram(data, port, address),
        error: (_s, e) => this.events.note("warn", `UDP socket: ${errorText(e)}`),
      },
    }).then(
      (s) => {
        if (this.stopped) return s.close();
        this.socket = s;
        this.events.note("info", `UDP socket is up on ${this.host}:${s.port}`);
      },
      (e: unknown) => {
        const problem = errorText(e);
        if (problem !== this.bindProblem) this.events.note("error", `cannot bind UDP ${this.host}:${this.port}: ${problem}; retrying every 3 s`);
        this.bindProblem = problem;
        if (!this.stopped) this.retry = setTimeout(() => this.start(), 3000);
      },
    );
  }

  private datagram(data: Buffer, port: number, address: string): void {
    const peer = peerKey(address, port);
    if (data.length > this.bufferSize) {
      if (!this.warnedTruncated) this.events.note("warn", `${peer}: a datagram of ${data.length} bytes is cut to bufferSize ${this.bufferSize} (logged once)`);
      this.warnedTruncated = true;
      data = data.subarray(0, this.bufferSize);
    }
    this.events.frame(peer, data, Date.now());
  }

  async write(address: string, bytes: Buffer): Promise<void> {
    const s = this.socket;
    if (!s) throw new Error(`UDP socket is not bound yet; nothing sent to ${address}`);
    const { host, port } = splitAddress(address);
    if (!s.send(bytes, port, host)) throw new Error(`UDP send to ${address} did not go out (socket busy)`);
  }

  resumeReading(): void {}

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.socket?.close();
    this.socket = undefined;
  }
}
