// The gRPC connector server (spec grpc.md): one unary method, request/reply polling. It keeps the
// sessions (the `identifier` metadata of each call), binds a session to a connector when it
// registers that connector's key, and answers every call with the oldest message queued for the
// session. What a bound session's data means is the connector's business (connector.ts); this file
// knows registration, queues and transports only.
//
// Connections are accepted by our own net.Server and handed to grpc-js through its connection
// injector: that way a port in use is a clear error at start, and the close of each TCP
// connection is seen. grpc-js's HTTP/2 keepalive pings every connection (grpc.keepalive_time_ms)
// and destroys one whose ping goes unanswered; a client killed outright closes its socket at once.
// Either way the session's connector is told, and disconnects its devices, unless the process
// calls again in time. Two waits, because the two closes mean different things:
// - the client closed its connection (its process ended, or was killed): RECONNECT_GRACE_MS;
// - the gateway closed it (keepalive ping unanswered): `reconnectGraceMs` (default 30 s). An idle
//   Python grpcio client does not answer pings between its calls (nothing reads its socket then),
//   so keepalive also closes healthy idle connections; the reference client simply reconnects at
//   its next poll (every checkIncomingDataIntervalMs, 10 s by default). Measured with Debian's
//   python3-grpcio 1.51 against grpc-js 1.14, and the same with Node instead of Bun.

import type { EventEmitter } from "node:events";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { GatewayService } from "../../core/connector.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { GrpcConfig } from "../../config/main-schema.ts";
import { loadServiceDefinition } from "./proto.ts";
import { NOTHING, type FromConnectorMessage, type FromServiceMessage } from "./wire.ts";

/** A connector of type grpc as the server sees it. */
export interface ConnectorBinding {
  readonly name: string;
  readonly id: string;
  readonly key: string;
  /** JSON text sent with a successful registration (connectorConfigurationMsg.configuration). */
  readonly configuration: string;
  /** The data fields of a request from the bound session; resolves to the answers to queue, in order. */
  handle(req: FromConnectorMessage): Promise<FromServiceMessage[]>;
  /** The bound session's connection went away (closed, or keepalive unanswered) and no call came back in time. */
  transportLost(peer: string, why: string): void;
}

interface Session {
  readonly id: string;
  /** Address:port of the connection the last call came on; undefined once that connection closed. */
  peer: string | undefined;
  binding: ConnectorBinding | undefined;
  queue: FromServiceMessage[];
  /** Requests of one session are processed in arrival order. */
  tail: Promise<void>;
  lostTimer?: ReturnType<typeof setTimeout>;
  overflowing: boolean;
  /** Warned already that this session sends data without being registered. */
  warnedUnbound: boolean;
  warnedKeys: Set<string>;
}

/** Queued downlinks per session; a vanished connector must not grow the gateway's memory forever (upstream's queue is unbounded). */
export const MAX_QUEUE = 10_000;
/** After the client closed its connection: time to call again on a new one before its devices are disconnected. */
const RECONNECT_GRACE_MS = 2_000;
/** After keepalive closed it (see the header): the default of `grpc.reconnectGraceMs`. */
export const KEEPALIVE_RECONNECT_GRACE_MS = 30_000;

/** Replies telling an unregistered session to register (kept apart so they can be deduplicated and withdrawn). */
const NOT_REGISTERED = new WeakSet<FromServiceMessage>();

const DATA_FIELDS = [
  "gatewayTelemetryMsg",
  "gatewayAttributesMsg",
  "gatewayClaimMsg",
  "connectMsg",
  "disconnectMsg",
  "gatewayRpcResponseMsg",
  "gatewayAttributeRequestMsg",
  "connectorGetConnectedDevicesMsg",
] as const;

/** Channel arguments from the `grpc` section (spec §4.6); the ping-policing ones are passed on, grpc-js ignores them. */
export function channelOptions(cfg: GrpcConfig): grpc.ChannelOptions {
  return {
    "grpc.keepalive_time_ms": cfg.keepAliveTimeMs ?? 10_000,
    "grpc.keepalive_timeout_ms": cfg.keepAliveTimeoutMs ?? cfg.keepaliveTimeoutMs ?? 5_000,
    "grpc.keepalive_permit_without_calls": (cfg.keepAlivePermitWithoutCalls ?? cfg.keepalivePermitWithoutCalls ?? true) ? 1 : 0,
    "grpc.http2.max_pings_without_data": cfg.maxPingsWithoutData ?? 0,
    "grpc.http2.min_time_between_pings_ms": cfg.minTimeBetweenPingsMs ?? 10_000,
    "grpc.http2.min_ping_interval_without_data_ms": cfg.minPingIntervalWithoutDataMs ?? 5_000,
  };
}

export class GrpcServer implements GatewayService {
  private readonly sessions = new Map<string, Session>();
  private readonly bindings = new Map<string, ConnectorBinding>();
  private readonly sessionOf = new Map<ConnectorBinding, Session>();
  private readonly sockets = new Set<Socket>();
  private malformed = 0;
  /** The socket being handed to grpc-js right now (see watchSessions). */
  private injecting: { socket: Socket; state: { sawEnd: boolean; closedByGateway: boolean } } | undefined;
  private warnedNoIdentifier = false;
  private stopped = false;

  private constructor(
    private readonly grpcServer: grpc.Server,
    private readonly net: NetServer,
    private readonly log: Logger,
    private readonly keepaliveGraceMs: number,
    /** host:port it listens on (the real port when serverPort is 0). */
    public address: string,
    /** The `grpc` section it was started with (useGRPCForce connectors read the interpreter and script folder from it). */
    readonly config: GrpcConfig,
  ) {}

  /** The port it listens on (the real one when serverPort is 0). */
  port = 0;

  static async start(cfg: GrpcConfig, log: Logger): Promise<GrpcServer> {
    const def = loadServiceDefinition();
    const grpcServer = new grpc.Server(channelOptions(cfg));
    const net = createServer();
    const host = cfg.serverHost;
    const address = `${host.includes(":") ? `[${host}]` : host}:${cfg.serverPort}`;
    const server = new GrpcServer(grpcServer, net, log, cfg.reconnectGraceMs ?? KEEPALIVE_RECONNECT_GRACE_MS, address, cfg);
    const method = def.stream!;
    const decode = method.requestDeserialize;
    // grpc-js answers a request it cannot decode with INTERNAL; say so in our log too, once per run of bad requests
    method.requestDeserialize = (bytes: Buffer) => {
      try {
        const m = decode(bytes);
        server.malformed = 0;
        return m;
      } catch (e) {
        if (server.malformed++ === 0) log.warn(`malformed gRPC request (${bytes.length} bytes) refused with INTERNAL: ${errorText(e)}; is the connector built from the same messages.proto?`);
        throw e;
      }
    };
    grpcServer.addService(def, { stream: (call: grpc.ServerUnaryCall<FromConnectorMessage, FromServiceMessage>, cb: grpc.sendUnaryData<FromServiceMessage>) => server.onCall(call, cb) });
    const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    server.watchSessions();
    net.on("connection", (socket) => server.accept(socket, injector));
    await new Promise<void>((resolve, reject) => {
      net.once("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "EADDRINUSE") reject(new Error(`port ${cfg.serverPort} on ${host} is in use (another tb-gw or a Python gateway?): set a free "serverPort" in the "grpc" section`));
        else if (e.code === "EADDRNOTAVAIL") reject(new Error(`cannot listen on ${host}: no such address on this host; fix "serverHost" in the "grpc" section`));
        else reject(new Error(`cannot listen on ${address}: ${errorText(e)}`));
      });
      net.listen(cfg.serverPort, host, () => resolve());
    });
    net.on("error", (e) => log.error(`gRPC listener on ${address}: ${errorText(e)}`));
    const real = net.address();
    const port = real && typeof real === "object" ? real.port : cfg.serverPort;
    const shown = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    server.address = shown;
    server.port = port;
    log.info(`gRPC connector server listening on ${shown} (keepalive every ${channelOptions(cfg)["grpc.keepalive_time_ms"]} ms)`);
    return server;
  }

  private accept(socket: Socket, injector: ReturnType<grpc.Server["createConnectionInjector"]>): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.sockets.add(socket);
    const state = { sawEnd: false, closedByGateway: false };
    socket.once("end", () => (state.sawEnd = true));
    socket.on("error", () => (state.sawEnd = true));
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.connectionClosed(peer, !state.closedByGateway);
    });
    this.injecting = { socket, state };
    try {
      injector.injectConnection(socket);
    } finally {
      this.injecting = undefined;
    }
  }

  /**
   * grpc-js ends a connection whose keepalive ping went unanswered with session.destroy(); under
   * Bun that leaves the socket open (the close of a session over an injected socket does not reach
   * it; the client's process keeps the TCP connection alive even while frozen). So the socket is
   * destroyed here when its HTTP/2 session closes. The session is created synchronously inside
   * injectConnection, which is how it is matched with its socket.
   */
  private watchSessions(): void {
    const h2 = [...((this.grpcServer as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers?.keys() ?? [])].at(-1);
    if (!h2) {
      this.log.debug("grpc-js internals changed: cannot watch HTTP/2 sessions; dead connections are then noticed when their socket closes");
      return;
    }
    h2.on("session", (session: EventEmitter) => {
      const current = this.injecting;
      if (!current) return;
      session.once("close", () => {
        if (current.socket.destroyed) return;
        if (!current.state.sawEnd) current.state.closedByGateway = true;
        current.socket.destroy();
      });
    });
  }

  /** Register a running connector's key; a key used by two connectors is refused. */
  attach(binding: ConnectorBinding): void {
    const other = this.bindings.get(binding.key);
    if (other && other !== binding) throw new Error(`connector key already used by connector "${other.name}"; give each grpc connector its own key`);
    this.bindings.set(binding.key, binding);
  }

  /** The connector stops: its session is told (unregisterConnectorMsg) and unbound; its key no longer registers. */
  detach(binding: ConnectorBinding): void {
    const s = this.sessionOf.get(binding);
    if (s) {
      this.enqueue(s, { unregisterConnectorMsg: {} });
      this.unbind(s);
    }
    if (this.bindings.get(binding.key) === binding) this.bindings.delete(binding.key);
  }

  /**
   * The connector's process is known to be gone (the gateway launched it and saw it end): drop its
   * session, so the next process registers at once instead of going through the takeover path.
   */
  release(binding: ConnectorBinding): boolean {
    const s = this.sessionOf.get(binding);
    if (!s) return false;
    if (s.lostTimer) clearTimeout(s.lostTimer);
    this.unbind(s);
    this.sessions.delete(s.id);
    return true;
  }

  /** Queue a downlink for the connector's session; false when no connector process is registered. */
  push(binding: ConnectorBinding, msg: FromServiceMessage): boolean {
    const s = this.sessionOf.get(binding);
    if (!s) return false;
    this.enqueue(s, msg);
    return true;
  }

  isRegistered(binding: ConnectorBinding): boolean {
    return this.sessionOf.has(binding);
  }

  private onCall(call: grpc.ServerUnaryCall<FromConnectorMessage, FromServiceMessage>, cb: grpc.sendUnaryData<FromServiceMessage>): void {
    const ident = call.metadata.get("identifier")[0];
    if (typeof ident !== "string" || ident === "") {
      // upstream puts every such caller in one session (§5 #13); refuse instead
      if (!this.warnedNoIdentifier) this.log.warn(`gRPC call from ${call.getPeer()} without "identifier" metadata refused (FAILURE); the connector must send a session id with every call`);
      this.warnedNoIdentifier = true;
      cb(null, { response: { status: "FAILURE" } });
      return;
    }
    let s = this.sessions.get(ident);
    if (!s) {
      s = { id: ident, peer: undefined, binding: undefined, queue: [], tail: Promise.resolve(), overflowing: false, warnedUnbound: false, warnedKeys: new Set() };
      this.sessions.set(ident, s);
    }
    s.peer = call.getPeer();
    if (s.lostTimer) clearTimeout(s.lostTimer);
    s.lostTimer = undefined;
    const session = s;
    const req = call.request ?? {};
    session.tail = session.tail
      .then(() => this.process(session, req))
      .catch((e) => this.log.error(`gRPC request from session ${session.id} (${session.binding?.name ?? "not registered"}) failed: ${errorText(e)}`))
      .then(() => cb(null, session.queue.shift() ?? NOTHING));
  }

  private async process(s: Session, req: FromConnectorMessage): Promise<void> {
    if (req.registerConnectorMsg) this.register(s, req.registerConnectorMsg.connectorKey ?? "");
    if (req.unregisterConnectorMsg) this.unregister(s, req.unregisterConnectorMsg.connectorKey ?? "");
    const hasData = DATA_FIELDS.some((f) => req[f] !== undefined);
    if (!s.binding) {
      // Anything but (un)registering from a session that is not registered, polls included (a
      // gateway restart forgets sessions): FAILURE + unregister makes the reference client register
      // again (§5 #15; upstream's FAILURE + echo is discarded by it, so it never would).
      if (req.registerConnectorMsg || req.unregisterConnectorMsg || (!hasData && req.response === undefined)) return;
      if (!s.warnedUnbound) this.log.warn(`gRPC session ${s.id} (${s.peer}) calls without being registered: answered FAILURE + unregisterConnectorMsg so that it registers again`);
      s.warnedUnbound = true;
      // one such notice waiting is enough: a client polling fast would otherwise queue one per poll
      if (!s.queue.some((m) => NOT_REGISTERED.has(m))) {
        const notice: FromServiceMessage = { response: { status: "FAILURE" }, unregisterConnectorMsg: {} };
        NOT_REGISTERED.add(notice);
        this.enqueue(s, notice);
      }
      return;
    }
    if (!hasData) return;
    for (const answer of await s.binding.handle(req)) this.enqueue(s, answer);
  }

  private register(s: Session, key: string): void {
    const answer = (status: "SUCCESS" | "FAILURE" | "NOT_FOUND", extra: FromServiceMessage = {}) =>
      this.enqueue(s, { response: { status, connectorMessage: { registerConnectorMsg: {} } }, ...extra });
    const b = this.bindings.get(key);
    if (!b) {
      if (!s.warnedKeys.has(key))
        this.log.warn(`gRPC session ${s.id} (${s.peer}) tried to register with unknown connector key "${key}": refused (NOT_FOUND); no running connector of type grpc has this key (see "key" in tb_gateway.json; "auto" keys are in persistent_keys.json)`);
      s.warnedKeys.add(key);
      answer("NOT_FOUND");
      return;
    }
    const holder = this.sessionOf.get(b);
    if (holder && holder !== s) {
      // takeover path of the reference client: FAILURE → it unregisters the key → registers again
      this.log.info(`connector ${b.name}: registration from session ${s.id} (${s.peer}) refused (FAILURE): session ${holder.id} holds the key; the new process takes over once it unregisters it`);
      answer("FAILURE");
      return;
    }
    if (s.binding && s.binding !== b) this.unbind(s);
    if (!holder) {
      this.sessionOf.set(b, s);
      s.binding = b;
      s.warnedUnbound = false;
      // "you are not registered" notices still queued are stale now: they would make the client drop this registration
      s.queue = s.queue.filter((m) => !NOT_REGISTERED.has(m));
      this.log.info(`connector ${b.name}: connector process registered (session ${s.id} from ${s.peer})`);
    }
    answer("SUCCESS", { connectorConfigurationMsg: { connectorName: b.name, configuration: b.configuration, connectorId: b.id } });
  }

  private unregister(s: Session, key: string): void {
    const answer = (status: "SUCCESS" | "FAILURE" | "NOT_FOUND") => this.enqueue(s, { response: { status, connectorMessage: { unregisterConnectorMsg: {} } } });
    const b = this.bindings.get(key);
    if (!b) return answer("FAILURE");
    const holder = this.sessionOf.get(b);
    if (!holder) return answer("NOT_FOUND");
    this.log.info(`connector ${b.name}: unregistered by session ${s.id} (${s.peer})`);
    this.unbind(holder);
    answer("SUCCESS");
  }

  private unbind(s: Session): void {
    if (s.binding) this.sessionOf.delete(s.binding);
    s.binding = undefined;
  }

  private enqueue(s: Session, msg: FromServiceMessage): void {
    s.queue.push(msg);
    if (s.queue.length <= MAX_QUEUE) {
      s.overflowing = false;
      return;
    }
    s.queue.shift();
    if (!s.overflowing) this.log.warn(`gRPC session ${s.id} (${s.binding?.name ?? "not registered"}) does not collect its messages: more than ${MAX_QUEUE} queued, dropping the oldest`);
    s.overflowing = true;
  }

  private connectionClosed(peer: string, byClient: boolean): void {
    this.log.debug(`connection from ${peer} closed ${byClient ? "by the client" : "by the gateway (keepalive ping unanswered)"}`);
    for (const s of this.sessions.values()) {
      if (s.peer !== peer) continue;
      s.peer = undefined;
      if (!s.binding) {
        if (s.queue.length === 0) this.sessions.delete(s.id);
        continue;
      }
      if (this.stopped) continue;
      if (s.lostTimer) clearTimeout(s.lostTimer);
      s.lostTimer = setTimeout(() => {
        s.lostTimer = undefined;
        if (s.peer === undefined && s.binding) s.binding.transportLost(peer, byClient ? "closed by the connector process" : "closed by the gateway: keepalive ping unanswered");
      }, byClient ? RECONNECT_GRACE_MS : this.keepaliveGraceMs);
      s.lostTimer.unref?.();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.sessions.values()) if (s.lostTimer) clearTimeout(s.lostTimer);
    this.grpcServer.forceShutdown();
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }
}
