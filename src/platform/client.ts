// The ThingsBoard side: one MQTT connection speaking the gateway API. It knows topics and payload
// shapes, not connectors; the core gives it callbacks for what comes down.

import { AckTimeoutError, awaitingText, refusedFilters, seconds, type MqttClient } from "../common/mqtt/client.ts";
import type { ThingsboardConfig } from "../config/main-schema.ts";
import { openConnection, type ManagedConnection } from "../common/mqtt/connection.ts";
import type { EventBus } from "../observe/events.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import { platformEndpoint } from "./credentials.ts";
import { SUBSCRIPTIONS, T } from "./topics.ts";
import { applySessionLimits, platformPayloadLimit, type SessionLimits } from "./session-limits.ts";
import { explainTlsError } from "./tls-errors.ts";
import type { CertExpiryCheck } from "./cert-expiry.ts";
import { exactJson } from "../core/records.ts";

export interface DownlinkHandlers {
  attributeUpdate(device: string, data: Record<string, unknown>): void;
  deviceRpc(device: string, data: { id: number | string; method: string; params: unknown }): void;
  gatewayRpc(requestId: string, method: string, params: unknown): void;
  gatewayAttributes(data: Record<string, unknown>): void;
  /** Session established (limits known): announce devices, resume sending. */
  ready(): void;
  lost(): void;
}

const ATTRIBUTE_REQUEST_TIMEOUT_MS = 20000;

/** Overrides the PUBACK bound (ms; 0 = off). Not a config key: upstream has none for it. */
export const PUBACK_TIMEOUT_ENV = "TB_GW_PUBACK_TIMEOUT_MS";

/**
 * How long the platform may acknowledge nothing while publishes wait before the connection is
 * dropped and what is unacknowledged is sent again: three keep-alive periods (the broker itself
 * gives up on a silent client after one and a half), at least 30 s. A working platform under load
 * keeps acknowledging and is never dropped (see MqttClientOptions.ackTimeoutMs).
 */
export function pubackTimeoutMs(keepaliveSeconds: number, env: Record<string, string | undefined>, log: Logger): number {
  const dflt = Math.max(3 * keepaliveSeconds, 30) * 1000;
  const raw = env[PUBACK_TIMEOUT_ENV];
  if (raw === undefined || raw === "") return dflt;
  if (/^\s*\d+\s*$/.test(raw)) return Number(raw);
  log.warn(`${PUBACK_TIMEOUT_ENV}=${raw} is not a whole number of milliseconds; using ${dflt / 1000} s (three keep-alive periods, at least 30 s)`);
  return dflt;
}

/** The warning's reason when the platform stopped acknowledging. */
export function pubackTimeoutText(e: AckTimeoutError): string {
  return `no PUBACK${e.subscribes > 0 ? " or SUBACK" : ""} for ${seconds(e.quietMs)} s on ${awaitingText(e.publishes, e.subscribes)}; dropping the connection to resend`;
}

export class PlatformClient {
  private conn: ManagedConnection | undefined;
  private isReady = false;
  private rpcSeq = 0;
  private attrSeq = 0;
  private pendingRpc = new Map<string, (body: unknown) => void>();
  private pendingAttr = new Map<number, { keys: string[]; resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private pendingMeAttr = new Map<string, (v: unknown) => void>();
  readonly limits: SessionLimits;
  /** Called once when the platform refuses the credentials, for a clear log line. */
  private refusedLogged = "";
  /** TLS connections only; started once the first session is ready. */
  private certCheck: CertExpiryCheck | undefined;

  constructor(
    private tb: ThingsboardConfig,
    private readonly configDir: string,
    private readonly log: Logger,
    private readonly events: EventBus,
    private readonly down: DownlinkHandlers,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    this.limits = {
      maxPayloadBytes: Math.floor(tb.maxPayloadSizeBytes * 0.9),
      platformPayloadBytes: platformPayloadLimit(tb),
      maxInflight: tb.maxInflightPublishes,
      rateLimits: {},
    };
  }

  get ready(): boolean {
    return this.isReady;
  }

  get qos(): 0 | 1 {
    return this.tb.qos;
  }

  private readonly stopSignal = new AbortController();

  /** Resolves once connecting has begun; without `thingsboard.security` it first obtains credentials (provisioning). */
  async start(): Promise<void> {
    // Provisioning and the certificate check load node:crypto and X.509 code: only when used.
    const security = this.tb.security ?? (await (await import("./provisioning.ts")).obtainCredentials(this.tb, this.configDir, this.log, this.stopSignal.signal));
    if (this.stopSignal.signal.aborted) return;
    const ep = platformEndpoint(this.tb, this.configDir, security);
    this.log.info(`connecting to platform ${ep.describe}`);
    this.certCheck?.stop();
    this.certCheck = ep.url.startsWith("mqtts:") ? new (await import("./cert-expiry.ts")).CertExpiryCheck(security, this.configDir, this.log, (t, p) => this.publish(t, p)) : undefined;
    this.events.emit({ kind: "platform", state: "connecting", detail: ep.describe });
    ep.options.ackTimeoutMs = pubackTimeoutMs(this.tb.keep_alive, this.env, this.log);
    this.conn = openConnection(ep.options, this.log, `platform ${this.tb.host}:${this.tb.port}`, {
      onConnect: (c) => void this.onConnect(c),
      onDisconnect: (reason) => {
        const was = this.isReady;
        this.isReady = false;
        this.events.emit({ kind: "platform", state: "disconnected", detail: reason });
        if (was) this.down.lost();
      },
      explainError: (err) => (err instanceof AckTimeoutError ? pubackTimeoutText(err) : explainTlsError(err, security.caCert, this.configDir)),
      onRefused: (reason) => {
        if (this.refusedLogged === reason) return;
        this.refusedLogged = reason;
        this.log.error(`platform refused the gateway: ${reason}; check thingsboard.security in the main config (the access token must be the gateway device's)`);
      },
    });
    this.conn.client.on("message", (m) => this.onMessage(m.topic, m.payload));
  }

  /**
   * Remote configuration changed the connection settings: connect with `next`; when that session is
   * not ready within `timeoutMs`, go back to the previous settings (spec §7). True = switched.
   */
  async switchConnection(next: ThingsboardConfig, timeoutMs: number): Promise<boolean> {
    const old = this.tb;
    await this.reopen(next);
    if (await this.waitReady(timeoutMs)) return true;
    this.log.error(`platform: the new connection settings (${next.host}:${next.port}) did not give a session within ${timeoutMs / 1000} s; going back to ${old.host}:${old.port}`);
    await this.reopen(old);
    return false;
  }

  private async reopen(tb: ThingsboardConfig): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    await c?.close(true);
    this.tb = tb;
    await this.start();
  }

  private waitReady(timeoutMs: number): Promise<boolean> {
    if (this.isReady) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
      const off = this.events.on((e) => {
        if (e.kind !== "platform" || e.state !== "connected") return;
        clearTimeout(timer);
        off();
        resolve(true);
      }, ["platform"]);
    });
  }

  private async onConnect(client: MqttClient): Promise<void> {
    this.refusedLogged = "";
    try {
      const subs = SUBSCRIPTIONS.map((topic) => ({ topic, qos: 1 as const }));
      for (const r of refusedFilters(subs, await client.subscribe(subs))) this.log.error(`platform refused the subscription to ${r.topic} (code 0x${r.code.toString(16)})`);
    } catch (e) {
      this.log.error(`platform: subscribing failed: ${errorText(e)}`);
    }
    const limits = await this.requestSessionLimits();
    applySessionLimits(this.limits, limits, this.tb, this.log);
    if (!client.connected || client !== this.conn?.client) return; // closed meanwhile, or replaced (switchConnection)
    this.isReady = true;
    this.events.emit({ kind: "platform", state: "connected" });
    this.down.ready();
    this.certCheck?.start();
  }

  private requestSessionLimits(): Promise<unknown> {
    const id = String(++this.rpcSeq);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingRpc.delete(id);
        this.log.warn(`platform did not answer getSessionLimits within ${this.tb.sessionLimitsTimeoutMs} ms; sending with configured limits`);
        resolve(undefined);
      }, this.tb.sessionLimitsTimeoutMs);
      this.pendingRpc.set(id, (body) => {
        clearTimeout(timer);
        resolve(body);
      });
      this.conn?.client.publish(`${T.meRpcRequest}${id}`, JSON.stringify({ method: "getSessionLimits", params: { timeout: this.tb.sessionLimitsTimeoutMs } }), this.tb.qos, false);
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    let body: any;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      this.log.warn(`platform sent non-JSON on ${topic}: ${payload.toString("utf8").slice(0, 200)}`);
      return;
    }
    try {
      if (topic === T.attributes) {
        if (body && typeof body.device === "string" && body.data && typeof body.data === "object") this.down.attributeUpdate(body.device, body.data);
      } else if (topic === T.rpc) {
        // Only requests carry a method; a plain broker also echoes our own replies on this topic.
        if (body && typeof body.device === "string" && body.data && typeof body.data.method === "string") this.down.deviceRpc(body.device, body.data);
      } else if (topic === T.attributesResponse) {
        this.onAttributeResponse(body);
      } else if (topic.startsWith(T.meRpcResponse)) {
        const id = topic.slice(T.meRpcResponse.length);
        const cb = this.pendingRpc.get(id);
        this.pendingRpc.delete(id);
        cb?.(body);
      } else if (topic.startsWith(T.meRpcRequest)) {
        const id = topic.slice(T.meRpcRequest.length);
        // A plain broker echoes our own client-side RPC (getSessionLimits) back to us.
        if (this.pendingRpc.has(id) || body?.method === "getSessionLimits") return;
        this.down.gatewayRpc(id, String(body?.method ?? ""), body?.params);
      } else if (topic === T.meAttributes) {
        this.down.gatewayAttributes(body);
      } else if (topic.startsWith(T.meAttributesResponse)) {
        const id = topic.slice(T.meAttributesResponse.length);
        const cb = this.pendingMeAttr.get(id);
        this.pendingMeAttr.delete(id);
        if (cb) cb(body);
        else if (body?.shared) this.down.gatewayAttributes(body.shared);
      }
    } catch (e) {
      this.log.error(`handling platform message on ${topic} failed: ${errorText(e)}`);
    }
  }

  private onAttributeResponse(body: any): void {
    const id = Number(body?.id);
    const p = this.pendingAttr.get(id);
    if (!p) return;
    this.pendingAttr.delete(id);
    clearTimeout(p.timer);
    if (body.values && typeof body.values === "object") p.resolve(body.values);
    else if ("value" in body && p.keys.length === 1) p.resolve({ [p.keys[0]!]: body.value });
    else if ("value" in body) p.resolve({ value: body.value });
    else p.resolve({});
  }

  /** Publish now (not through storage). Resolves on PUBACK (QoS 1) or when written (QoS 0). */
  publish(topic: string, payload: string, qos: 0 | 1 = this.tb.qos): Promise<void> {
    const c = this.conn?.client;
    if (!c) return Promise.reject(new Error("platform client not started"));
    return c.publishAsync(topic, payload, qos);
  }

  /** Publish without waiting; `done` runs with the error, if any. Hot path of the sender. */
  publishRaw(topic: string, payload: string, done: (err?: Error) => void): void {
    const c = this.conn?.client;
    if (!c) return done(new Error("platform client not started"));
    c.publish(topic, payload, this.tb.qos, false, done);
  }

  requestDeviceAttributes(device: string, keys: string[], scope: "shared" | "client"): Promise<Record<string, unknown>> {
    const id = ++this.attrSeq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAttr.delete(id);
        reject(new Error(`platform did not answer the attribute request for ${device} within ${ATTRIBUTE_REQUEST_TIMEOUT_MS / 1000} s`));
      }, ATTRIBUTE_REQUEST_TIMEOUT_MS);
      this.pendingAttr.set(id, { keys, resolve, reject, timer });
      this.publish(T.attributesRequest, JSON.stringify({ id, device, client: scope === "client", keys }), 1).catch((e) => {
        clearTimeout(timer);
        this.pendingAttr.delete(id);
        reject(e);
      });
    });
  }

  /** Ask for the gateway's own attributes; the shared ones also flow to gatewayAttributes. */
  requestGatewayAttributes(sharedKeys: string[], clientKeys: string[] = []): void {
    const id = String(++this.attrSeq);
    void this.publish(`${T.meAttributesRequest}${id}`, JSON.stringify({ sharedKeys: sharedKeys.join(","), clientKeys: clientKeys.join(",") })).catch(() => {});
  }

  replyDeviceRpc(device: string, id: number | string, data: unknown, qos?: 0 | 1): Promise<void> {
    return this.publish(T.rpc, exactJson({ device, id, data }), qos);
  }

  replyGatewayRpc(requestId: string, data: unknown, qos?: 0 | 1): Promise<void> {
    return this.publish(`${T.meRpcResponse}${requestId}`, exactJson(data), qos);
  }

  async stop(): Promise<void> {
    for (const p of this.pendingAttr.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("gateway stopping"));
    }
    this.pendingAttr.clear();
    this.stopSignal.abort();
    this.certCheck?.stop();
    this.isReady = false;
    await this.conn?.close();
  }
}
