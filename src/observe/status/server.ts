// The local status endpoint of `tb-gw run`: a Unix socket (mode 0660: owner and group only)
// speaking the NDJSON protocol in protocol.ts, plus optional loopback HTTP (/status, /events)
// and Prometheus /metrics listeners. Slow readers lose events (counted) instead of growing
// the gateway's memory.

import { exactJson } from "../../core/records.ts";
import { chmodSync, existsSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from "node:http";
import type { StatusConfig } from "../../config/main-schema.ts";
import type { Gateway } from "../../core/gateway.ts";
import type { GatewayEvent } from "../events.ts";
import { errorText, type Logger } from "../logger.ts";
import { renderMetrics } from "./metrics.ts";
import { defaultSocketPath, perProcessSocketPath, removeDiscovery, writeDiscovery } from "./paths.ts";
import type { ClientRequest, SubscribeKind } from "./protocol.ts";
import { StatusTracker } from "./snapshot.ts";

/** Bytes queued for one subscriber before its events are dropped. */
const MAX_BACKLOG = 1 << 20;

interface Subscriber {
  write: (line: string) => boolean;
  backlog: () => number;
  kinds: Set<SubscribeKind> | undefined;
  lost: number;
  timer?: ReturnType<typeof setInterval>;
}

export class StatusServer {
  readonly tracker: StatusTracker;
  private socketServer: Server | undefined;
  private httpServers: HttpServer[] = [];
  private subscribers = new Set<Subscriber>();
  private clients = new Set<Socket>();
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
    let path = this.cfg.socket ?? defaultSocketPath();
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
    const server = createServer((s) => this.onClient(s));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => resolve());
      });
      chmodSync(path, 0o660);
    } catch (e) {
      this.log.error(`status socket ${path} cannot be opened: ${errorText(e)}; running without it (set status.socket to a writable path)`);
      server.close();
      return;
    }
    this.socketServer = server;
    this.socketPath = path;
    try {
      writeDiscovery({ socket: path, pid: process.pid, configDir: this.gw.opts.configDir, configPath: this.gw.opts.configPath, startedAt: Date.now() });
    } catch (e) {
      this.log.warn(`status discovery file cannot be written (${errorText(e)}); use tb-gw tail --socket ${path}`);
    }
    this.log.info(`status socket on ${path} (tb-gw tail attaches to it)`);
  }

  private onClient(s: Socket): void {
    this.clients.add(s);
    s.setEncoding("utf8");
    let buf = "";
    let sub: Subscriber | undefined;
    const send = (o: unknown) => s.write(`${JSON.stringify(o)}\n`);
    s.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.length > 65536) {
        send({ kind: "error", message: "request line too long" });
        s.destroy();
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let req: ClientRequest;
        try {
          req = JSON.parse(line);
        } catch {
          send({ kind: "error", message: 'not JSON; send {"cmd":"status"} or {"cmd":"subscribe","kinds":[...]}' });
          continue;
        }
        if (req.cmd === "status") {
          s.end(`${JSON.stringify(this.tracker.snapshot())}\n`);
        } else if (req.cmd === "subscribe" && !sub) {
          sub = this.addSubscriber((l) => s.write(l), () => s.writableLength, req.kinds);
        } else {
          send({ kind: "error", message: `unknown cmd ${JSON.stringify((req as { cmd?: unknown }).cmd)}; use "status" or "subscribe"` });
        }
      }
    });
    const drop = () => {
      this.clients.delete(s);
      if (sub) this.removeSubscriber(sub);
    };
    s.on("close", drop);
    s.on("error", drop);
  }

  private addSubscriber(write: (l: string) => boolean, backlog: () => number, kinds: SubscribeKind[] | undefined): Subscriber {
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

  private listenHttp(host: string, port: number, metrics: boolean): Promise<number> {
    const server = createHttpServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (metrics && url.pathname === "/metrics") return reply(res, 200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics(this.tracker.snapshot()));
      if (!metrics && url.pathname === "/status") return reply(res, 200, "application/json", JSON.stringify(this.tracker.snapshot()));
      if (!metrics && url.pathname === "/events") {
        res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
        // headers now, not with the first event: a client filtering for rare kinds would wait on them
        res.flushHeaders();
        const kinds = url.searchParams.get("kinds")?.split(",").filter(Boolean) as SubscribeKind[] | undefined;
        const sub = this.addSubscriber((l) => res.write(l), () => res.writableLength, kinds);
        res.on("close", () => this.removeSubscriber(sub));
        return;
      }
      reply(res, 404, "text/plain", metrics ? "try /metrics\n" : "try /status or /events?kinds=uplink,downlink\n");
    });
    this.httpServers.push(server);
    return new Promise((resolve, reject) => {
      server.once("error", (e) => {
        this.log.error(`status HTTP on ${host}:${port} cannot listen: ${errorText(e)}`);
        reject(e);
      });
      server.listen(port, host, () => {
        const a = server.address();
        const p = typeof a === "object" && a ? a.port : port;
        this.log.info(`${metrics ? "Prometheus metrics" : "status HTTP"} on http://${host}:${p}${metrics ? "/metrics" : "/status"}`);
        resolve(p);
      });
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.tracker.stop();
    for (const sub of this.subscribers) clearInterval(sub.timer);
    this.subscribers.clear();
    const closing: Array<Promise<void>> = [];
    if (this.socketServer) {
      const srv = this.socketServer;
      closing.push(new Promise((r) => srv.close(() => r())));
      // Ends every attached `tail`, which then reports that the gateway stopped.
      for (const c of this.clients) c.end();
    }
    for (const h of this.httpServers) {
      h.closeAllConnections();
      closing.push(new Promise((r) => h.close(() => r())));
    }
    await Promise.all(closing);
    if (this.socketPath) {
      rmSync(this.socketPath, { force: true });
      removeDiscovery(this.gw.opts.configDir);
    }
  }
}

function reply(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { "content-type": type });
  res.end(body);
}

/** Events on the wire carry their time; in-process-only fields (acked batches) stay behind. */
function wireJson(e: GatewayEvent): string {
  // an uplink carries the stamp its records got, so tail shows the ts the platform receives
  const at = (e.kind === "uplink" && e.at) || Date.now();
  if (e.kind === "acked") return JSON.stringify({ kind: e.kind, records: e.records, datapoints: e.datapoints, latencyMs: e.latencyMs, at });
  return exactJson({ ...e, at });
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}
