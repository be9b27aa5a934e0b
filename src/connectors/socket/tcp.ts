// TCP on Bun's own sockets. Server mode: one listener, devices connect; client mode: one
// connection per device address, kept up with backoff. Either way each connection has its own
// framer and write queue, keyed by the peer "ip:port" (client mode: the configured "host:port").
// An idle connection holds its socket and a small object, nothing else.

import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import { errorText } from "../../observe/logger.ts";
import { createFramer, type FrameSink, type Framer, type FramingConfig } from "./framing.ts";

/** What the connector hears from a transport. */
export interface TransportEvents {
  frame(peer: string, bytes: Buffer, receivedTs: number): void;
  /** A state worth one log line (listening, connected, lost, an oversize frame). */
  note(level: "info" | "warn" | "error" | "debug", text: string): void;
  /** Checked after each chunk: true while storage is behind (the connection stops reading). */
  busy(): boolean;
}

/** Bytes a device may have waiting for it before writes to it fail (a device that never reads). */
const MAX_QUEUED_BYTES = 1 << 20;
const CONNECT_TIMEOUT_S = 5;

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${address}" is not host:port`);
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ""), port };
}

/** A peer as upstream keys it: IPv4 without the IPv6-mapped prefix. */
export function peerKey(address: string, port: number): string {
  return `${address.startsWith("::ffff:") ? address.slice(7) : address}:${port}`;
}

/** One open TCP connection: framing of what it sends, queueing of what we write to it. */
export class Connection implements FrameSink {
  private readonly framer: Framer;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private warnedOversize = false;
  /** Receive time of the chunk being framed. */
  private ts = 0;

  constructor(
    readonly key: string,
    private readonly socket: Socket<Connection>,
    framing: FramingConfig,
    bufferSize: number,
    private readonly events: TransportEvents,
    private readonly paused: Set<Connection>,
  ) {
    this.framer = createFramer(framing, bufferSize);
  }

  onData(chunk: Buffer): void {
    this.ts = Date.now();
    this.framer.push(chunk, this);
    if (this.events.busy()) {
      this.socket.pause();
      this.paused.add(this);
    }
  }

  frame(bytes: Buffer): void {
    this.events.frame(this.key, bytes, this.ts);
  }

  oversize(dropped: number): void {
    if (this.warnedOversize) return;
    this.warnedOversize = true;
    this.events.note("warn", `${this.key}: a message of ${dropped} bytes without its delimiter exceeds bufferSize; dropped (logged once per connection)`);
  }

  resume(): void {
    this.socket.resume();
  }

  /** Bytes of an unfinished frame, dropped when the connection closes. */
  get pendingFrameBytes(): number {
    return this.framer.pending;
  }

  write(bytes: Buffer): void {
    if (this.queuedBytes + bytes.length > MAX_QUEUED_BYTES) throw new Error(`${this.key} is not reading: ${this.queuedBytes} bytes still waiting for it`);
    if (this.queuedBytes === 0) {
      const n = this.socket.write(bytes);
      if (n < 0) throw new Error(`connection to ${this.key} is closed`);
      if (n === bytes.length) return;
      bytes = bytes.subarray(n);
    }
    this.queued.push(Buffer.from(bytes));
    this.queuedBytes += bytes.length;
  }

  onDrain(): void {
    while (this.queued.length > 0) {
      const head = this.queued[0]!;
      const n = this.socket.write(head);
      if (n <= 0) return;
      this.queuedBytes -= n;
      if (n < head.length) {
        this.queued[0] = head.subarray(n);
        return;
      }
      this.queued.shift();
    }
  }

  close(): void {
    this.socket.end();
  }
}

/** Both modes: the open connections by key, frames to the connector, writes by key. */
export abstract class TcpTransport {
  protected readonly connections = new Map<string, Connection>();
  protected readonly paused = new Set<Connection>();
  protected stopped = false;

  constructor(
    protected readonly framing: FramingConfig,
    protected readonly bufferSize: number,
    protected readonly events: TransportEvents,
  ) {}

  abstract start(): void;
  abstract stop(): Promise<void>;

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Storage caught up: connections paused for it read again. */
  resumeReading(): void {
    for (const c of this.paused) c.resume();
    this.paused.clear();
  }

  /** Called with the key chosen for a new socket (peer address, or the dialled address). */
  protected handlers(keyOf: (s: Socket<Connection>) => string, onGone?: (key: string, error?: Error) => void): SocketHandler<Connection> {
    const gone = (s: Socket<Connection>, error?: Error) => {
      const c = s.data;
      if (!c || this.connections.get(c.key) !== c) return;
      this.connections.delete(c.key);
      this.paused.delete(c);
      if (c.pendingFrameBytes > 0) this.events.note("info", `${c.key}: closed in the middle of a message; its ${c.pendingFrameBytes} bytes are dropped`);
      this.events.note("debug", `${c.key}: connection closed${error ? `: ${errorText(error)}` : ""}`);
      onGone?.(c.key, error);
    };
    return {
      open: (s: Socket<Connection>) => {
        const key = keyOf(s);
        const c = new Connection(key, s, this.framing, this.bufferSize, this.events, this.paused);
        s.data = c;
        this.connections.get(key)?.close();
        this.connections.set(key, c);
        this.events.note("debug", `${key}: connected`);
      },
      data: (s: Socket<Connection>, chunk: Buffer) => s.data?.onData(chunk),
      drain: (s: Socket<Connection>) => s.data?.onDrain(),
      close: (s: Socket<Connection>, error?: Error) => gone(s, error),
      end: (s: Socket<Connection>) => {
        gone(s);
        s.end();
      },
      error: (s: Socket<Connection>, error: Error) => gone(s, error),
    };
  }

  /** Write to the open connection with this key, or connect to it once, write and close (upstream). */
  async write(address: string, bytes: Buffer): Promise<void> {
    const open = this.connections.get(address);
    if (open) return open.write(bytes);
    await writeOnce(address, bytes);
  }
}

/** A new connection for one write: upstream's path when the device has no open connection. */
async function writeOnce(address: string, bytes: Buffer): Promise<void> {
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      if (e) reject(e);
      else resolve();
    };
    let rest = bytes;
    const flush = (s: Socket<undefined>) => {
      const n = s.write(rest);
      if (n > 0) rest = rest.subarray(n);
      if (rest.length === 0) {
        finish(); // before end(): Bun runs the close handler inside it
        s.end();
      }
    };
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open: (s) => {
          s.timeout(CONNECT_TIMEOUT_S);
          flush(s);
        },
        drain: flush,
        data() {},
        timeout: (s) => {
          s.end();
          finish(new Error(`writing to ${address} timed out`));
        },
        connectError: (_s, e) => finish(new Error(`cannot connect to ${address}: ${errorText(e)}`)),
        error: (_s, e) => finish(new Error(`writing to ${address} failed: ${errorText(e)}`)),
        close: () => finish(new Error(`${address} closed the connection before the write`)),
      },
    }).catch((e: unknown) => finish(new Error(`cannot connect to ${address}: ${errorText(e)}`)));
  });
}

/** Server mode (upstream): listen on address:port, retrying the bind every 3 s until it works. */
export class TcpServer extends TcpTransport {
  private listener: TCPSocketListener<Connection> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private bindProblem = "";

  constructor(
    private readonly host: string,
    private readonly port: number,
    framing: FramingConfig,
    bufferSize: number,
    events: TransportEvents,
  ) {
    super(framing, bufferSize, events);
  }

  get boundPort(): number | undefined {
    return this.listener?.port;
  }

  start(): void {
    if (this.stopped) return;
    try {
      this.listener = Bun.listen<Connection>({
        hostname: this.host,
        port: this.port,
        socket: this.handlers((s) => peerKey(s.remoteAddress, s.remotePort)),
      });
      this.events.note("info", `TCP socket is up on ${this.host}:${this.listener.port}`);
    } catch (e) {
      const problem = errorText(e);
      if (problem !== this.bindProblem) this.events.note("error", `cannot listen on TCP ${this.host}:${this.port}: ${problem}; retrying every 3 s`);
      this.bindProblem = problem;
      this.retry = setTimeout(() => this.start(), 3000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.listener?.stop(true);
    this.listener = undefined;
    this.connections.clear();
    this.paused.clear();
  }
}

/** Client mode (tb-gw addition): keep one connection to each device address, reconnecting with backoff. */
export class TcpClients extends TcpTransport {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly delays = new Map<string, number>();
  private readonly problems = new Map<string, string>();
  private readonly sockets = new Set<Socket<Connection>>();

  constructor(
    private readonly targets: string[],
    framing: FramingConfig,
    bufferSize: number,
    events: TransportEvents,
  ) {
    super(framing, bufferSize, events);
  }

  start(): void {
    for (const t of this.targets) this.dial(t);
  }

  private dial(target: string): void {
    if (this.stopped) return;
    const { host, port } = splitAddress(target);
    const h = this.handlers(
      () => target,
      (key, error) => this.lost(key, error ? errorText(error) : "closed by the device"),
    );
    Bun.connect<Connection>({
      hostname: host,
      port,
      data: undefined as never,
      socket: {
        ...h,
        open: (s: Socket<Connection>) => {
          if (this.stopped) {
            s.end();
            return;
          }
          this.sockets.add(s);
          h.open!(s);
          this.delays.delete(target);
          if (this.problems.has(target)) this.events.note("info", `${target}: connected again`);
          else this.events.note("info", `${target}: connected`);
          this.problems.delete(target);
        },
        close: (s: Socket<Connection>, error?: Error) => {
          this.sockets.delete(s);
          h.close!(s, error);
        },
        connectError: (_s: Socket<Connection>, e: Error) => this.lost(target, errorText(e)),
      },
    }).catch((e: unknown) => this.lost(target, errorText(e)));
  }

  private lost(target: string, problem: string): void {
    if (this.stopped || this.timers.has(target)) return;
    const delay = Math.min(30_000, (this.delays.get(target) ?? 500) * 2);
    this.delays.set(target, delay);
    if (this.problems.get(target) !== problem) this.events.note("error", `${target}: ${problem}; reconnecting (next try in ${delay / 1000} s, backing off to 30 s)`);
    this.problems.set(target, problem);
    this.timers.set(
      target,
      setTimeout(() => {
        this.timers.delete(target);
        this.dial(target);
      }, delay),
    );
  }

  override async write(address: string, bytes: Buffer): Promise<void> {
    const open = this.connections.get(address);
    if (open) return open.write(bytes);
    if (this.targets.includes(address)) throw new Error(`not connected to ${address} (reconnecting)`);
    await writeOnce(address, bytes);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.end();
    this.sockets.clear();
    this.connections.clear();
    this.paused.clear();
  }
}
