// One Modbus client (client/) per endpoint (host:port or serial path), shared by every slave on it.
// Requests are serialised per link (one unit id at a time on the wire), connects follow the
// upstream attempt/back-off rules, and a lost connection or vanished serial device is reopened.

import { errorText, type Logger } from "../../observe/logger.ts";
import type { ModbusClient } from "./client/client.ts";
import { FramedClient } from "./client/framed.ts";
import { TcpClient, UdpClient } from "./client/mbap.ts";
import { FramedPort, SocketStream, type ByteStream, type Framing } from "./framed-port.ts";
import { SerialFileStream } from "./serial-file.ts";

export interface LinkOptions {
  type: "TCP" | "UDP" | "SERIAL";
  host?: string;
  port: number | string;
  method: "socket" | "rtu" | "ascii" | "tls";
  timeoutMs: number;
  retries: number;
  baudrate: number;
  bytesize: number;
  parity: "N" | "E" | "O";
  stopbits: number;
  handleLocalEcho: boolean;
  connectAttemptTimeMs: number;
  connectAttemptCount: number;
  waitAfterFailedAttemptsMs: number;
  delayBetweenRequestsMs: number;
  /** RTU frames over this in-process stream instead of a wire (the gateway polling its own serial slave) */
  localStream?: () => ByteStream;
}

export function linkKey(o: Pick<LinkOptions, "type" | "host" | "port">): string {
  return o.type === "SERIAL" ? `serial:${o.port}` : `${o.type.toLowerCase()}:${o.host ?? "127.0.0.1"}:${o.port}`;
}

/** A Modbus exception response (the device answered with an error code: ModbusExceptionError). */
export function isModbusException(e: unknown): boolean {
  return typeof e === "object" && e !== null && typeof (e as { modbusCode?: unknown }).modbusCode === "number";
}

export class ModbusLink {
  readonly key: string;
  private client?: ModbusClient;
  private queue: Promise<unknown> = Promise.resolve();
  private failedAttempts = 0;
  private nextAttemptAt = 0;
  private lastRequestAt = 0;
  private connecting?: Promise<void>;
  private closed = false;
  onConnected: () => void = () => {};
  onDisconnected: () => void = () => {};

  constructor(
    readonly opts: LinkOptions,
    private readonly log: Logger,
  ) {
    this.key = linkKey(opts);
  }

  get connected(): boolean {
    return this.client?.isOpen === true;
  }

  /** Connect if needed; throws while backing off after failed attempts. */
  async ensureConnected(): Promise<ModbusClient> {
    if (this.closed) throw new Error("connector stopped");
    if (this.client?.isOpen) return this.client;
    const now = Date.now();
    if (now < this.nextAttemptAt) throw new Error(`${this.key}: not connected (next attempt in ${this.nextAttemptAt - now} ms)`);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    await this.connecting;
    return this.client!;
  }

  private async connect(): Promise<void> {
    const o = this.opts;
    const client = this.newClient();
    try {
      await client.open();
    } catch (e) {
      this.failedAttempts++;
      const wait = this.failedAttempts % o.connectAttemptCount === 0 ? o.waitAfterFailedAttemptsMs : o.connectAttemptTimeMs;
      this.nextAttemptAt = Date.now() + wait;
      if (this.failedAttempts === 1 || this.failedAttempts % o.connectAttemptCount === 0)
        this.log.error(`${this.key}: connect failed (attempt ${this.failedAttempts}): ${errorText(e)}; retrying in ${wait} ms`);
      throw e;
    }
    if (this.closed) {
      await client.close();
      throw new Error("connector stopped");
    }
    client.onClose = () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.nextAttemptAt = Date.now() + o.connectAttemptTimeMs;
      if (!this.closed) {
        this.log.warn(`${this.key}: connection lost; reconnecting`);
        this.onDisconnected();
      }
    };
    this.client = client;
    this.failedAttempts = 0;
    this.log.info(`${this.key}: connected`);
    this.onConnected();
  }

  private newClient(): ModbusClient {
    const o = this.opts;
    const host = o.host ?? "127.0.0.1";
    const framing: Framing = o.method === "ascii" ? "ascii" : "rtu";
    if (o.localStream) return new FramedClient(new FramedPort(o.localStream(), "rtu"), o.timeoutMs);
    if (o.type === "SERIAL") return new FramedClient(new FramedPort(new SerialFileStream(String(o.port), o), framing, o.handleLocalEcho), o.timeoutMs);
    const port = Number(o.port);
    if (o.type === "UDP") return new UdpClient(host, port, o.timeoutMs);
    if (o.method === "rtu" || o.method === "ascii") return new FramedClient(new FramedPort(new SocketStream(host, port, o.timeoutMs), framing), o.timeoutMs);
    if (o.method === "tls") throw new Error("method tls is not supported yet");
    return new TcpClient(host, port, o.timeoutMs);
  }

  /**
   * Run `fn` against unit `unitId` with the link to itself. Timeouts and I/O errors are retried
   * `retries` times; Modbus exception responses are not (the device answered).
   */
  request<T>(unitId: number, fn: (c: ModbusClient) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      let lastErr: unknown;
      for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
        const client = await this.ensureConnected();
        const gap = this.opts.delayBetweenRequestsMs - (Date.now() - this.lastRequestAt);
        if (gap > 0) await new Promise((r) => setTimeout(r, gap));
        client.unitId = unitId;
        try {
          return await fn(client);
        } catch (e) {
          lastErr = e;
          if (isModbusException(e) || this.closed) throw e;
        } finally {
          this.lastRequestAt = Date.now();
        }
      }
      throw lastErr;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Drop the connection (e.g. after repeated timeouts); the next request reconnects. */
  drop(): void {
    const c = this.client;
    this.client = undefined;
    void c?.close(new Error("connection dropped"));
  }

  /** Close at once: a request on the wire fails ("connector stopped"), a silent device is not waited for. */
  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    await c?.close(new Error("connector stopped"));
  }
}
