// One modbus-serial client per endpoint (host:port or serial path), shared by every slave on it.
// Requests are serialised per link (one unit id at a time on the wire), connects follow the
// upstream attempt/back-off rules, and a lost connection or vanished serial device is reopened.

import ModbusRTU from "modbus-serial";
import { errorText, type Logger } from "../../observe/logger.ts";
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

/** A Modbus exception response (the device answered with an error code). */
export function isModbusException(e: unknown): boolean {
  return typeof e === "object" && e !== null && typeof (e as { modbusCode?: unknown }).modbusCode === "number";
}

export class ModbusLink {
  readonly key: string;
  private client?: ModbusRTU;
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
  async ensureConnected(): Promise<ModbusRTU> {
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
    const client = new ModbusRTU();
    try {
      await this.openClient(client);
    } catch (e) {
      this.failedAttempts++;
      const wait = this.failedAttempts % o.connectAttemptCount === 0 ? o.waitAfterFailedAttemptsMs : o.connectAttemptTimeMs;
      this.nextAttemptAt = Date.now() + wait;
      if (this.failedAttempts === 1 || this.failedAttempts % o.connectAttemptCount === 0)
        this.log.error(`${this.key}: connect failed (attempt ${this.failedAttempts}): ${errorText(e)}; retrying in ${wait} ms`);
      throw e;
    }
    if (this.closed) {
      client.close(() => {});
      throw new Error("connector stopped");
    }
    client.setTimeout(o.timeoutMs);
    client.on("close", () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.nextAttemptAt = Date.now() + o.connectAttemptTimeMs;
      if (!this.closed) {
        this.log.warn(`${this.key}: connection lost; reconnecting`);
        this.onDisconnected();
      }
    });
    client.on("error", () => {}); // surfaced through the pending request instead
    this.client = client;
    this.failedAttempts = 0;
    this.log.info(`${this.key}: connected`);
    this.onConnected();
  }

  private async openClient(client: ModbusRTU): Promise<void> {
    const o = this.opts;
    const host = o.host ?? "127.0.0.1";
    const framing: Framing = o.method === "ascii" ? "ascii" : "rtu";
    if (o.localStream) return openWithPort(client, new FramedPort(o.localStream(), "rtu"));
    if (o.type === "SERIAL") {
      const stream = new SerialFileStream(String(o.port), o);
      return openWithPort(client, new FramedPort(stream, framing, o.handleLocalEcho));
    }
    const port = Number(o.port);
    if (o.type === "UDP") return client.connectUDP(host, { port });
    if (o.method === "rtu" || o.method === "ascii")
      return openWithPort(client, new FramedPort(new SocketStream(host, port, o.timeoutMs), framing));
    if (o.method === "tls") throw new Error("method tls is not supported yet");
    return client.connectTCP(host, { port, timeout: o.timeoutMs } as never);
  }

  /**
   * Run `fn` against unit `unitId` with the link to itself. Timeouts and I/O errors are retried
   * `retries` times; Modbus exception responses are not (the device answered).
   */
  request<T>(unitId: number, fn: (c: ModbusRTU) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      let lastErr: unknown;
      for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
        const client = await this.ensureConnected();
        const gap = this.opts.delayBetweenRequestsMs - (Date.now() - this.lastRequestAt);
        if (gap > 0) await new Promise((r) => setTimeout(r, gap));
        client.setID(unitId);
        try {
          return await this.unlessClosed(fn(client));
        } catch (e) {
          lastErr = e;
          if (isModbusException(e) || this.closed) throw e;
        } finally {
          this.lastRequestAt = Date.now();
          forgetTransactions(client);
        }
      }
      throw lastErr;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Fails the request on the wire when the link is closed (see close()). */
  private failInFlight?: (e: Error) => void;

  /**
   * `request`, or a failure as soon as the link is closed: modbus-serial settles a request whose
   * connection is closed only when its timeout fires (`timeout`, 30 s by default), which held a
   * stop (SIGTERM) that long while a device was silent.
   */
  private unlessClosed<T>(request: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.failInFlight = reject;
      request.then(resolve, reject).finally(() => (this.failInFlight = undefined));
    });
  }

  /** Drop the connection (e.g. after repeated timeouts); the next request reconnects. */
  drop(): void {
    const c = this.client;
    this.client = undefined;
    c?.close(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failInFlight?.(new Error("connector stopped"));
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    // TCP: destroyed, not ended: an end waits for the device's side of the close, which a silent
    // device sends only when the socket times out (`timeout`); destroy also drops the timer of
    // the read just failed. Other ports (UDP, RTU/ASCII framing) close at once.
    const port = (c as unknown as { _port?: { destroy?: unknown } })._port;
    const tcp = this.opts.type === "TCP" && !this.opts.localStream && this.opts.method === "socket";
    if (tcp && typeof port?.destroy === "function") await new Promise<void>((r) => c.destroy(() => r()));
    else await new Promise<void>((r) => c.close(() => r()));
  }
}

/**
 * modbus-serial files every request under its transaction id (256 ids over TCP) and never removes
 * it, so each client holds up to 256 finished requests with their callbacks, promises and decoded
 * data: ~0.3 MB per connection, 80+ MB at 300 slaves. Requests on a link are serialised, so once
 * one has settled none is pending and the table can start empty (a late answer to a timed-out
 * request then finds no transaction and is ignored, as it should be).
 */
function forgetTransactions(client: ModbusRTU): void {
  (client as unknown as { _transactions: object })._transactions = {};
}

function openWithPort(client: ModbusRTU, port: FramedPort): Promise<void> {
  (client as unknown as { _port: FramedPort })._port = port;
  return new Promise((resolve, reject) => client.open((err: Error | null) => (err ? reject(err) : resolve())));
}
