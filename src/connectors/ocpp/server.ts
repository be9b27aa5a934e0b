// The WebSocket side of the Central System on Bun.serve: the upgrade request is admitted or
// refused (admission.ts) before a socket exists, the subprotocol ocpp1.6 is agreed, and each text
// message is handed on as it arrives. Bun's own server (uWebSockets in the runtime) rather than
// ocpp-rpc's `ws`-based one: see README.md "Why Bun.serve".

import type { Server, ServerWebSocket } from "bun";
import { Admitter, offersOcpp16, OCPP16, type Admission } from "./admission.ts";

export interface SocketData {
  id: string;
  entry: number;
  peer: string;
  /** The client offered no ocpp1.6: the handshake completes without a subprotocol and the socket is closed (OCPP-J 1.6 §3.1.2). */
  noSubprotocol: boolean;
  /** Set by the connector once the session exists. */
  session?: unknown;
}

export interface ServerEvents {
  refused(a: Extract<Admission, { ok: false }>, peer: string): void;
  open(ws: ServerWebSocket<SocketData>): void;
  message(ws: ServerWebSocket<SocketData>, text: string): void;
  close(ws: ServerWebSocket<SocketData>, code: number, reason: string): void;
}

export interface ServerOptions {
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer; passphrase?: string };
}

/** OCPP messages are small; a diagnostics DataTransfer may be large, a 4 MB one is refused. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Seconds without traffic before Bun pings the charge point (and closes it if no pong comes). */
const IDLE_SECONDS = 300;

export class OcppServer {
  private server: Server<SocketData> | undefined;

  constructor(
    private readonly admitter: Admitter,
    private readonly events: ServerEvents,
  ) {}

  get port(): number | undefined {
    return this.server?.port;
  }

  /** Throws when the address cannot be bound. */
  listen(opts: ServerOptions): void {
    const events = this.events;
    this.server = Bun.serve<SocketData>({
      hostname: opts.host,
      port: opts.port,
      tls: opts.tls,
      fetch: (req, server) => {
        const ip = server.requestIP(req);
        const peer = ip ? `${ip.address}:${ip.port}` : "unknown";
        if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
          return new Response("OCPP 1.6-J Central System: connect with WebSocket to /<chargePointId>, subprotocol ocpp1.6\n", { status: 426 });
        }
        const url = new URL(req.url);
        const a = this.admitter.admit(url.pathname, req.headers.get("authorization"), ip?.address ?? "", ip?.port ?? 0);
        if (!a.ok) {
          events.refused(a, peer);
          const headers: Record<string, string> = a.status === 401 ? { "WWW-Authenticate": 'Basic realm="OCPP"' } : {};
          return new Response(`${a.reason}\n`, { status: a.status, headers });
        }
        const offered = offersOcpp16(req.headers.get("sec-websocket-protocol"));
        const data: SocketData = { id: a.id, entry: a.entry, peer, noSubprotocol: !offered };
        const upgraded = server.upgrade(req, { data, headers: offered ? { "Sec-WebSocket-Protocol": OCPP16 } : undefined });
        return upgraded ? undefined : new Response("WebSocket upgrade failed\n", { status: 400 });
      },
      websocket: {
        maxPayloadLength: MAX_MESSAGE_BYTES,
        idleTimeout: IDLE_SECONDS,
        sendPings: true,
        perMessageDeflate: false,
        open: (ws) => events.open(ws),
        message: (ws, msg) => events.message(ws, typeof msg === "string" ? msg : Buffer.from(msg).toString("utf8")),
        close: (ws, code, reason) => events.close(ws, code, reason),
      },
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop(true);
  }
}
