// Plays the platform's part on a real broker: subscribes to everything the gateway publishes,
// answers getSessionLimits (unless told not to), sends attribute updates and RPCs, and lets tests
// wait for what arrived.

import mqtt, { type MqttClient } from "mqtt";
import { startInHooks, type StartedInHooks } from "./hooks.ts";
import { startMosquitto, type Broker } from "./mosquitto.ts";

export interface Received {
  topic: string;
  body: any;
  raw: string;
}

export interface PlatformHarness {
  client: MqttClient;
  received: Received[];
  /** Telemetry as (device, ts, key, value) rows, in arrival order. */
  telemetry(): Array<{ device: string; ts: number; key: string; value: unknown }>;
  waitFor<T>(pick: (h: PlatformHarness) => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  sendAttributeUpdate(device: string, data: Record<string, unknown>): Promise<void>;
  sendDeviceRpc(device: string, id: number, method: string, params: unknown): Promise<void>;
  sendGatewayRpc(id: number, method: string, params?: unknown): Promise<void>;
  /** Answer attribute requests from the gateway with these values, per device. */
  sharedAttributes: Record<string, Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * `persistent`: a durable session (fixed client id, clean=false), so that what the gateway sends
 * while the harness reconnects after a broker restart is queued for it, not lost.
 */
export async function startPlatformHarness(
  url: string,
  opts: { answerSessionLimits?: boolean; sessionLimits?: Record<string, unknown>; persistent?: boolean } = {},
): Promise<PlatformHarness> {
  const client = await mqtt.connectAsync(url, {
    clientId: `platform-harness-${Math.random().toString(16).slice(2)}`,
    clean: !opts.persistent,
    reconnectPeriod: 200,
  });
  const waiters = new Set<() => void>();
  const h: PlatformHarness = {
    client,
    received: [],
    sharedAttributes: {},
    telemetry() {
      const rows: Array<{ device: string; ts: number; key: string; value: unknown }> = [];
      for (const r of h.received) {
        if (r.topic !== "v1/gateway/telemetry") continue;
        for (const [device, entries] of Object.entries(r.body as Record<string, any[]>)) {
          for (const e of entries) for (const [key, value] of Object.entries(e.values ?? {})) rows.push({ device, ts: e.ts, key, value });
        }
      }
      return rows;
    },
    waitFor(pick, timeoutMs = 15000, what = "platform condition") {
      return new Promise((resolve, reject) => {
        const check = () => {
          const v = pick(h);
          if (v !== undefined && v !== false) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(v as any);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last messages: ${JSON.stringify(h.received.slice(-5)).slice(0, 1500)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async sendAttributeUpdate(device, data) {
      await client.publishAsync("v1/gateway/attributes", JSON.stringify({ device, data }), { qos: 1 });
    },
    async sendDeviceRpc(device, id, method, params) {
      await client.publishAsync("v1/gateway/rpc", JSON.stringify({ device, data: { id, method, params } }), { qos: 1 });
    },
    async sendGatewayRpc(id, method, params = {}) {
      await client.publishAsync(`v1/devices/me/rpc/request/${id}`, JSON.stringify({ method, params }), { qos: 1 });
    },
    async close() {
      await client.endAsync(true);
    },
  };
  client.on("message", (topic, payload) => {
    const raw = payload.toString();
    let body: any = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      // keep raw text
    }
    h.received.push({ topic, body, raw });
    if (topic.startsWith("v1/devices/me/rpc/request/") && body?.method === "getSessionLimits" && opts.answerSessionLimits !== false) {
      const id = topic.slice("v1/devices/me/rpc/request/".length);
      const limits = opts.sessionLimits ?? { maxPayloadSize: 65536, maxInflightMessages: 100, rateLimits: {}, gatewayRateLimits: {} };
      client.publish(`v1/devices/me/rpc/response/${id}`, JSON.stringify(limits), { qos: 1 });
    }
    if (topic === "v1/gateway/attributes/request") {
      const all = h.sharedAttributes[body.device] ?? {};
      const keys: string[] = body.keys ?? [];
      const values = keys.length ? Object.fromEntries(keys.filter((k) => k in all).map((k) => [k, all[k]])) : all;
      const reply = keys.length === 1 ? { id: body.id, device: body.device, value: values[keys[0]!] } : { id: body.id, device: body.device, values };
      client.publish("v1/gateway/attributes/response", JSON.stringify(reply), { qos: 1 });
    }
    for (const w of [...waiters]) w();
  });
  await client.subscribeAsync({ "v1/gateway/#": { qos: 1 }, "v1/devices/me/#": { qos: 1 } });
  return h;
}

/**
 * Sends with `send` until `seen()` holds at the platform, again every `everyMs`: a connector
 * subscribes on its device broker just after "gateway started", and the broker drops a message no
 * one subscribes to yet. Fails with the harness's timeout (naming `what`) after `timeoutMs`.
 */
export async function sendUntilSeen(h: PlatformHarness, send: () => Promise<unknown>, seen: () => boolean, timeoutMs: number, what: string, everyMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await send();
    try {
      await h.waitFor(() => seen() || undefined, Math.max(1, Math.min(everyMs, deadline - Date.now())), what);
      return;
    } catch (e) {
      if (Date.now() >= deadline) throw e;
    }
  }
}

/** The gateway's reply to device RPC `id` (the harness also sees its own request on that topic). */
export function deviceRpcReply(h: PlatformHarness, id: number): Received | undefined {
  return h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body?.id === id && r.body.data !== undefined && !(typeof r.body.data === "object" && r.body.data !== null && "method" in r.body.data));
}

export interface PlatformOptions {
  /** The platform broker's settings (a TLS listener or password file in `extraConfig`, `persistent`). */
  broker?: Parameters<typeof startMosquitto>[0];
  /** The harness's settings (session limits, a persistent session). */
  harness?: Parameters<typeof startPlatformHarness>[1];
  /** Also start a second, plain broker for the device side (`device`). */
  deviceBroker?: boolean;
  /** Start nothing: the tests are skipped on this machine (their fields then must not be read). */
  skip?: boolean;
}

/** A broker playing the platform with the harness on it; its fields are valid inside tests and later hooks. */
export interface TestPlatform {
  readonly broker: Broker;
  readonly harness: PlatformHarness;
  /** The platform broker's port and URL (for mainConfig, upstreamMain, ...). */
  readonly port: number;
  readonly url: string;
  /** The device-side broker (with `deviceBroker: true`). */
  readonly device: Broker;
  /** `stop` runs before the harness and broker go, e.g. a gateway the file's beforeAll started (see StartedInHooks). */
  beforeDispose(stop: () => unknown): void;
}

/**
 * A platform for the tests of this file (or of the describe block it is called in): started in
 * beforeAll, taken down in afterAll. Call it before the file's own beforeAll that uses it.
 * One harness serves every test of the scope, so a test looks only at what arrived after it began
 * (`harness.received.length` at its start) and RPC ids must not repeat across tests.
 */
export function platformForFile(opts: PlatformOptions = {}): TestPlatform {
  return platformHandle(startInHooks("platformForFile", "file", () => startParts(opts), stopParts, opts.skip));
}

/** As platformForFile, but a fresh broker and harness for each test of the scope (beforeEach/afterEach). */
export function platformForEachTest(opts: PlatformOptions = {}): TestPlatform {
  return platformHandle(startInHooks("platformForEachTest", "test", () => startParts(opts), stopParts, opts.skip));
}

interface Parts {
  broker?: Broker;
  harness?: PlatformHarness;
  device?: Broker;
}

async function startParts(opts: PlatformOptions): Promise<Parts> {
  const parts: Parts = {};
  try {
    parts.broker = await startMosquitto(opts.broker);
    parts.harness = await startPlatformHarness(parts.broker.url, opts.harness);
    if (opts.deviceBroker) parts.device = await startMosquitto();
    return parts;
  } catch (e) {
    await stopParts(parts);
    throw e;
  }
}

async function stopParts(parts: Parts): Promise<void> {
  await parts.harness?.close().catch(() => undefined);
  await parts.device?.dispose();
  await parts.broker?.dispose();
}

function platformHandle(started: StartedInHooks<Parts>): TestPlatform {
  return {
    get broker() {
      return started.current().broker!;
    },
    get harness() {
      return started.current().harness!;
    },
    get port() {
      return started.current().broker!.port;
    },
    get url() {
      return started.current().broker!.url;
    },
    get device() {
      const device = started.current().device;
      if (!device) throw new Error("no device broker: ask for one with platformForFile({ deviceBroker: true })");
      return device;
    },
    beforeDispose: started.beforeDispose,
  };
}
