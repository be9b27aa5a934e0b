// The gateway's XMPP session, built from xmpp.js pieces (the ones @xmpp/client's own factory
// wires) so that TLS takes our options: @xmpp/client's STARTTLS and direct TLS verify only
// against the system CAs and give no way to add a CA or switch verification off. Here:
//  - transports: plain TCP (STARTTLS) or direct TLS (`use_ssl`), both verifying the certificate
//    against the JID's domain, with an extra CA file or verification off if configured;
//  - stream features in order: the STARTTLS policy (`disable_starttls`, `force_starttls`), SASL
//    (SCRAM-SHA-1 preferred, PLAIN refused on an unencrypted session unless
//    `unencrypted_plain_auth`), resource binding; then presence and a roster fetch, as upstream;
//  - one fresh client per attempt and our own reconnect loop with exponential backoff (xmpp.js's
//    reconnect retries every second forever, which hammers a server that refuses the login).

import { Client } from "@xmpp/client-core";
import xml, { type Element } from "@xmpp/xml";
import TcpConnection from "@xmpp/tcp/lib/Connection.js";
import TlsConnection from "@xmpp/tls/lib/Connection.js";
import TlsSocket from "@xmpp/tls/lib/Socket.js";
import middlewareOf from "@xmpp/middleware";
import streamFeaturesOf from "@xmpp/stream-features";
import iqCallerOf from "@xmpp/iq/caller.js";
import iqCalleeOf from "@xmpp/iq/callee.js";
import saslOf from "@xmpp/sasl";
import plain from "@xmpp/sasl-plain";
import scramsha1 from "@xmpp/sasl-scram-sha-1";
import resourceBinding from "@xmpp/resource-binding";
import { promise } from "@xmpp/events";
import SASLFactory from "saslmechanisms";
import { rootCertificates } from "node:tls";
import { withTimeout, TIMEOUT } from "../../core/with-timeout.ts";

const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_STREAM = "http://etherx.jabber.org/streams";

export interface SessionOptions {
  jid: string;
  password: string;
  host: string;
  port: number;
  directTls: boolean;
  disableStarttls: boolean;
  forceStarttls: boolean;
  plainWithoutTls: boolean;
  /** node:tls options for both TLS paths: `ca` (added to the system's), `rejectUnauthorized`. */
  tls: { ca?: Buffer; rejectUnauthorized: boolean };
  /** Wait for each server answer (stream open, STARTTLS, IQ), ms. */
  stepTimeoutMs: number;
  /**
   * Ping the server (XEP-0199) this often once online, ms; an unanswered ping drops the session,
   * so a link that died silently (no FIN: a NAT or a frozen server) is noticed and reconnected.
   */
  keepaliveMs: number;
}

export interface SessionEvents {
  message(from: string, body: string): void;
  online(jid: string, secure: boolean): void;
  offline(reason: string): void;
}

/** Split `local@domain/resource`. */
export function parseJid(text: string): { local: string; domain: string; resource?: string } {
  const slash = text.indexOf("/");
  const bare = slash < 0 ? text : text.slice(0, slash);
  const at = bare.indexOf("@");
  return { local: at < 0 ? "" : bare.slice(0, at), domain: at < 0 ? bare : bare.slice(at + 1), resource: slash < 0 ? undefined : text.slice(slash + 1) };
}

/** One login attempt's client; `online` resolves when the session is ready (or rejects). */
function buildClient(o: SessionOptions): { client: Client; online: () => Promise<void>; ping: () => Promise<unknown> } {
  const { local, domain, resource } = parseJid(o.jid);
  const tlsOptions = { servername: domain, ca: o.tls.ca ? [...rootCertificates, o.tls.ca.toString()] : undefined, rejectUnauthorized: o.tls.rejectUnauthorized };
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  const service = `${o.directTls ? "xmpps" : "xmpp"}://${host}:${o.port}`;
  const client = new Client({ service, domain, timeout: o.stepTimeoutMs });

  // Transports: the service's scheme picks one; both carry our TLS options.
  class Tcp extends TcpConnection {}
  class DirectTls extends TlsConnection {
    override socketParameters(s: string) {
      const p = super.socketParameters(s);
      return p && { ...p, ...tlsOptions };
    }
  }
  client.transports.push(o.directTls ? DirectTls : Tcp);

  const middleware = middlewareOf({ entity: client });
  const streamFeatures = streamFeaturesOf({ middleware });
  const iqCaller = iqCallerOf({ middleware, entity: client });
  const iqCallee = iqCalleeOf({ middleware, entity: client });
  iqCallee.get("urn:xmpp:ping", "ping", () => ({}));

  // STARTTLS policy, looked at on every stream-features element before SASL.
  middleware.use(async ({ stanza, entity }, next) => {
    if (!stanza.is("features", NS_STREAM) || entity.isSecure()) return next();
    const offered = stanza.getChild("starttls", NS_TLS) !== undefined;
    if (o.disableStarttls || (!offered && !o.forceStarttls)) return next();
    if (!offered) throw new Error(`the server does not offer STARTTLS and force_starttls is true: set force_starttls false to log in unencrypted, or use_ssl for direct TLS`);
    const answer = await entity.sendReceive(xml("starttls", { xmlns: NS_TLS }));
    if (!answer.is("proceed", NS_TLS)) throw new Error(`the server refused STARTTLS (${answer.name})`);
    const secure = new TlsSocket();
    secure.connect({ socket: entity.socket, host: domain, ...tlsOptions });
    await promise(secure, "connect");
    entity._attachSocket(secure);
    await entity.restart();
  });

  const saslFactory = new SASLFactory();
  scramsha1(saslFactory);
  plain(saslFactory);
  saslOf({ streamFeatures, saslFactory }, async (done, mechanisms, _fast, entity) => {
    const mechanism = mechanisms.find((m) => m !== "ANONYMOUS");
    if (!mechanism) throw new Error(`no SASL mechanism in common with the server (it offers ${mechanisms.join(", ") || "none"})`);
    if (mechanism === "PLAIN" && !entity.isSecure() && !o.plainWithoutTls)
      throw new Error("the server offers only PLAIN authentication on an unencrypted session and unencrypted_plain_auth is false: enable TLS (STARTTLS or use_ssl) or allow it");
    await done({ username: local, password: o.password }, mechanism);
  });
  resourceBinding({ streamFeatures, iqCaller }, resource);

  const online = async () => {
    await client.start();
    await client.send(xml("presence"));
    // Upstream fetches the roster at session start; nothing here needs its answer.
    void iqCaller.get(xml("query", { xmlns: "jabber:iq:roster" })).catch(() => undefined);
  };
  const ping = () => iqCaller.get(xml("ping", { xmlns: "urn:xmpp:ping" }), domain, o.stepTimeoutMs);
  return { client, online, ping };
}

/**
 * Keeps the gateway logged in: connects, and after any loss reconnects with backoff (doubling
 * from `minDelayMs` to `maxDelayMs`, back to the minimum after a session came up).
 */
export class XmppSession {
  private client: Client | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly opts: SessionOptions,
    private readonly delays: { minDelayMs: number; maxDelayMs: number },
    private readonly events: SessionEvents,
  ) {}

  get online(): boolean {
    return this.client?.status === "online";
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    let delay = this.delays.minDelayMs;
    while (!this.stopped) {
      const ended = await this.session();
      if (this.stopped) break;
      if (ended.cameUp) delay = this.delays.minDelayMs;
      this.events.offline(ended.reason);
      await this.sleep(delay);
      delay = Math.min(delay * 2, this.delays.maxDelayMs);
    }
  }

  /** One connection: resolves when it ends, with why and whether it had come online. */
  private async session(): Promise<{ cameUp: boolean; reason: string }> {
    const { client, online, ping } = buildClient(this.opts);
    this.client = client;
    let lastError: unknown;
    client.on("error", (e: unknown) => (lastError ??= e));
    client.on("stanza", (s: Element) => this.onStanza(s));
    const down = promise(client, "disconnect", null).then(() => undefined);
    try {
      const r = await withTimeout(online(), this.opts.stepTimeoutMs * 3);
      if (r === TIMEOUT) throw new Error(`no session within ${(this.opts.stepTimeoutMs * 3) / 1000} s`);
    } catch (e) {
      await this.drop(client);
      return { cameUp: false, reason: reasonOf(lastError ?? e) };
    }
    this.events.online(String(client.jid), client.isSecure());
    if (this.stopped) return { cameUp: true, reason: "stopped" };
    let pinging = false;
    const keepalive = setInterval(() => {
      if (pinging || client.status !== "online") return;
      pinging = true;
      ping()
        .catch((e: unknown) => {
          // An error answer still proves the link is alive; only silence drops it.
          if ((e as { name?: string })?.name !== "TimeoutError") return;
          lastError ??= new Error(`no answer to a keepalive ping within ${this.opts.stepTimeoutMs / 1000} s`);
          destroySocket(client);
        })
        .finally(() => (pinging = false));
    }, this.opts.keepaliveMs);
    await down;
    clearInterval(keepalive);
    await this.drop(client);
    return { cameUp: true, reason: lastError ? reasonOf(lastError) : "the server closed the session" };
  }

  private onStanza(s: Element): void {
    // every message type but errors, as slixmpp's "message" event upstream listens to
    if (!s.is("message") || s.attrs.type === "error") return;
    const body = s.getChildText("body");
    const from = s.attrs.from;
    if (body === null || !from) return;
    this.events.message(from, body);
  }

  /** Send a chat message; fails when the session is not up (the caller reports it). */
  async sendMessage(to: string, body: string): Promise<void> {
    const c = this.client;
    if (!c || c.status !== "online") throw new Error("not connected to the XMPP server (reconnecting)");
    await c.send(xml("message", { to, type: "chat" }, xml("body", {}, body)));
  }

  private async drop(client: Client): Promise<void> {
    client.removeAllListeners("stanza");
    client.on("error", () => undefined);
    if (client.status === "offline" || client.status === "disconnect") return;
    await withTimeout(client.stop().catch(() => undefined), 2000);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    const c = this.client;
    if (c) await this.drop(c);
    await withTimeout(this.loop ?? Promise.resolve(), 5000);
  }
}

/** Cut the connection at once (TCP, or the TLS socket inside xmpp.js's TLS wrapper): `close` follows. */
function destroySocket(client: Client): void {
  type Destroyable = { destroy?: () => void; socket?: Destroyable | null };
  const s = client.socket as Destroyable | null;
  (s?.destroy ? s : s?.socket)?.destroy?.();
}

/** Errors of xmpp.js and node:tls as one line (SASL/stream errors carry a condition). */
function reasonOf(e: unknown): string {
  if (e && typeof e === "object") {
    const x = e as { condition?: string; text?: string; message?: string; code?: string };
    if (x.condition) return `${x.condition}${x.text ? `: ${x.text}` : ""}`;
    if (x.message) return x.code && !x.message.includes(x.code) ? `${x.message} (${x.code})` : x.message;
    if (x.code) return x.code;
  }
  return String(e);
}
