// The local status endpoint of `tb-gw run`: a Unix socket (mode 0660: owner and group only)
// speaking the NDJSON protocol in protocol.ts, plus optional loopback HTTP (/status, /events)
// and Prometheus /metrics listeners. Slow readers lose events (counted) instead of growing
// the gateway's memory.
// The socket runs on Bun's native listener rather than node:net, and the HTTP side (http.ts) is
// imported only when enabled: every runtime module touched keeps its code resident, and the
// default gateway should not pay for a status endpoint that idles (measured: 1.6 MB less idle RSS).

import { exactJson } from "../../core/records.ts";
import { chmodSync, existsSync, rmSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import type { StatusConfig } from "../../config/main-schema.ts";
import type { Gateway } from "../../core/gateway.ts";
import type { GatewayEvent } from "../events.ts";
import { errorText, type Logger } from "../logger.ts";
import type { HttpListener } from "./http.ts";
import { defaultSocketPath, perProcessSocketPath, removeDiscovery, removeLeftovers, writeDiscovery } from "./paths.ts";
import { Peer } from "./peer.ts";
import type { ClientRequest, SubscribeKind } from "./protocol.ts";
import { StatusTracker } from "./snapshot.ts";

/** Bytes queued for one subscriber before its events are dropped. */
const MAX_BACKLOG = 1 << 20;

interface Subscriber {
  write: (line: string) => void;
  backlog: () => number;
  kinds: Set<SubscribeKind> | undefined;
  lost: number;
  timer?: ReturnType<typeof setInterval>;
}

export class StatusServer {
  readonly tracker: StatusTracker;
  private socketServer: UnixSocketListener<Peer> | undefined;
  private httpServers: HttpListener[] = [];
  private subscribers = new Set<Subscriber>();
  /** Attached socket clients, with their event subscription once they asked for one. */
  private clients = new Map<Peer, Subscriber | undefined>();
  private unsubscribe: (() => void) | undefined;
  socketPath: string | undefined;
  httpPorts: { status?: number; metrics?: number } = {};

  constructor(
    private readonly gw: Gateway,
    private readonly cfg: StatusConfig,
    private readonly log: Logger,
  ) {
    this.tracker = new StatusTracker(gw);
  }

  async start(): Promise<void> {
    this.tracker.start();
    if (this.cfg.enabled) await this.startSocket();
    if (this.cfg.http.enabled) this.httpPorts.status = await this.listenHttp(this.cfg.http.host, this.cfg.http.port, false);
    if (this.cfg.metrics.enabled) this.httpPorts.metrics = await this.listenHttp(this.cfg.metrics.host, this.cfg.metrics.port, true);
  }

  private async startSocket(): Promise<void> {
    const leftovers = removeLeftovers();
    if (leftovers > 0) this.log.debug(`removed ${leftovers} status socket/discovery file(s) left by gateways that were killed`);
    let path = this.cfg.socket ?? defaultSocketPath(this.gw.opts.instance);
    if (existsSync(path)) {
      if (await socketAnswers(path)) {
        if (this.cfg.socket) {
          this.log.error(`status socket ${path} is in use by another gateway; set status.socket in the main config to a free path. Running without a status socket.`);
          return;
        }
        path = perProcessSocketPath();
        this.log.info(`another gateway holds the default status socket; this one listens on ${path}`);
      } else rmSync(path, { force: true }); // stale: left by a gateway that was killed
    }
    let server: UnixSocketListener<Peer> | undefined;
    try {
      server = Bun.listen<Peer>({ unix: path, socket: this.socketHandlers() });
      chmodSync(path, 0o660);
    } catch (e) {
      this.log.error(`status socket ${path} cannot be opened: ${errorText(e)}; running without it (set status.socket to a writable path)`);
      server?.stop(true);
      return;
    }
    this.socketServer = server;
    this.socketPath = path;
    try {
      writeDiscovery({ socket: path, pid: process.pid, configDir: this.gw.opts.configDir, configPath: this.gw.opts.configPath, startedAt: Date.now(), instance: this.gw.opts.instance });
    } catch (e) {
      this.log.warn(`status discovery file cannot be written (${errorText(e)}); use tb-gw tail --socket ${path}`);
    }
    this.log.info(`status socket on ${path} (tb-gw tail attaches to it)`);
  }

  private socketHandlers() {
    const drop = (s: Socket<Peer>) => {
      const peer = s.data;
      if (!peer || !this.clients.has(peer)) return;
      const sub = this.clients.get(peer);
      this.clients.delete(peer);
      peer.markClosed();
      if (sub) this.removeSubscriber(sub);
    };
    return {
      open: (s: Socket<Peer>) => {
        s.data = new Peer(s);
        this.clients.set(s.data, undefined);
      },
      data: (s: Socket<Peer>, chunk: Uint8Array) => this.onData(s.data, chunk),
      drain: (s: Socket<Peer>) => s.data.flush(),
      close: drop,
      error: drop,
    };
  }

  private onData(peer: Peer, chunk: Uint8Array): void {
    if (peer.refused) return;
    const send = (o: unknown) => peer.write(`${JSON.stringify(o)}\n`);
    peer.buf += peer.receive(chunk);
    if (peer.buf.length > 65536) {
      peer.refused = true;
      peer.end(`${JSON.stringify({ kind: "error", message: "request line too long" })}\n`);
      return;
    }
    let nl: number;
    while ((nl = peer.buf.indexOf("\n")) >= 0) {
      const line = peer.buf.slice(0, nl).trim();
      peer.buf = peer.buf.slice(nl + 1);
      if (!line) continue;
      let req: ClientRequest;
      try {
        req = JSON.parse(line);
      } catch {
        send({ kind: "error", message: 'not JSON; send {"cmd":"status"} or {"cmd":"subscribe","kinds":[...]}' });
        continue;
      }
      if (req.cmd === "status") {
        peer.end(`${JSON.stringify(this.tracker.snapshot())}\n`);
      } else if (req.cmd === "subscribe" && !this.clients.get(peer)) {
        this.clients.set(peer, this.addSubscriber((l) => peer.write(l), () => peer.queued, req.kinds));
      } else {
        send({ kind: "error", message: `unknown cmd ${JSON.stringify((req as { cmd?: unknown }).cmd)}; use "status" or "subscribe"` });
      }
    }
  }

  private addSubscriber(write: (l: string) => void, backlog: () => number, kinds: SubscribeKind[] | undefined): Subscriber {
    const sub: Subscriber = { write, backlog, kinds: Array.isArray(kinds) && kinds.length ? new Set(kinds) : undefined, lost: 0 };
    this.subscribers.add(sub);
    // Listen to the gateway's events only while someone is attached: with nobody listening the
    // pipeline does not build an event per device message.
    this.unsubscribe ??= this.gw.events.on((e) => this.fanOut(e));
    if (!sub.kinds || sub.kinds.has("status")) {
      const push = () => this.deliver(sub, JSON.stringify(this.tracker.snapshot()));
      push();
      sub.timer = setInterval(push, 1000);
      sub.timer.unref?.();
    }
    return sub;
  }

  private removeSubscriber(sub: Subscriber): void {
    clearInterval(sub.timer);
    this.subscribers.delete(sub);
    if (this.subscribers.size === 0) {
      this.unsubscribe?.();
      this.unsubscribe = undefined;
    }
  }

  private deliver(sub: Subscriber, json: string): void {
    if (sub.backlog() > MAX_BACKLOG) {
      sub.lost++;
      return;
    }
    if (sub.lost) {
      sub.write(`{"kind":"lost","count":${sub.lost}}\n`);
      sub.lost = 0;
    }
    sub.write(`${json}\n`);
  }

  private fanOut(e: GatewayEvent): void {
    if (this.subscribers.size === 0) return;
    let json: string | undefined;
    for (const sub of this.subscribers) {
      if (sub.kinds && !sub.kinds.has(e.kind)) continue;
      json ??= wireJson(e);
      this.deliver(sub, json);
    }
  }

  private async listenHttp(host: string, port: number, metrics: boolean): Promise<number> {
    const { listenHttp } = await import("./http.ts");
    const side = {
      snapshot: () => this.tracker.snapshot(),
      subscribe: (write: (l: string) => void, backlog: () => number, kinds: SubscribeKind[] | undefined) => {
        const sub = this.addSubscriber(write, backlog, kinds);
        return () => this.removeSubscriber(sub);
      },
    };
    const listener = await listenHttp(side, host, port, metrics, this.log);
    this.httpServers.push(listener);
    return listener.port;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.tracker.stop();
    for (const sub of this.subscribers) clearInterval(sub.timer);
    this.subscribers.clear();
    const closing: Array<Promise<void>> = [];
    if (this.socketServer) {
      // No new clients; the attached ones get what is queued for them, then EOF, and each
      // `tail` reports that the gateway stopped.
      this.socketServer.stop(false);
      for (const c of this.clients.keys()) c.end();
    }
    for (const h of this.httpServers) closing.push(h.close());
    await Promise.all(closing);
    if (this.socketPath) {
      rmSync(this.socketPath, { force: true });
      removeDiscovery(this.gw.opts.configDir, this.gw.opts.instance);
    }
  }
}

/** Events on the wire carry their time; in-process-only fields (acked batches) stay behind. */
function wireJson(e: GatewayEvent): string {
  // an uplink carries the stamp its records got, so tail shows the ts the platform receives
  const at = (e.kind === "uplink" && e.at) || Date.now();
  if (e.kind === "acked") return JSON.stringify({ kind: e.kind, records: e.records, datapoints: e.datapoints, latencyMs: e.latencyMs, at });
  return exactJson({ ...e, at });
}

async function socketAnswers(path: string): Promise<boolean> {
  try {
    const c = await Bun.connect({ unix: path, socket: { data() {} } });
    c.end();
    return true;
  } catch {
    return false;
  }
}
