// Downlink: platform → owning connector → reply back (spec service.md §6, platform-api.md §5–6).

import { NO_REPLY, type RpcRequest } from "./model.ts";
import type { DeviceRegistry } from "./devices.ts";
import type { ConnectorManager } from "./connectors.ts";
import type { EventBus } from "../observe/events.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import { TIMEOUT, withTimeout } from "./with-timeout.ts";

export interface ReplySink {
  replyDeviceRpc(device: string, id: number | string, data: unknown, qos?: 0 | 1): Promise<void>;
  replyGatewayRpc(requestId: string, data: unknown, qos?: 0 | 1): Promise<void>;
}

/** Gateway RPC methods (`gateway_<name>`), provided by the gateway service. */
export type GatewayMethods = Record<string, (params: unknown) => unknown | Promise<unknown>>;

const DEFAULT_RPC_TIMEOUT_S = 5;
/** How long a known device's connector may take to answer before the platform gets 408. */
const CONNECTOR_REPLY_FLOOR_S = 30;

/**
 * Reply rules: an object is sent as is (only its `result` when it has one), so a device's two-way
 * answer reaches the caller; a string is parsed as JSON when it can be; anything else becomes
 * {success, response}.
 */
export function shapeReply(content: unknown): unknown {
  let c = content;
  if (typeof c === "string") {
    try {
      c = JSON.parse(c);
    } catch {
      return { success: true, response: c };
    }
  }
  if (c && typeof c === "object" && !Array.isArray(c)) {
    const o = c as Record<string, unknown>;
    if ("result" in o) return o.result;
    return o;
  }
  return { success: c !== false && c !== undefined && c !== null, ...(c !== undefined && typeof c !== "boolean" ? { response: c } : {}) };
}

export class Downlink {
  /** Device RPCs waiting for their device to appear. */
  private waiting: Array<{ device: string; data: { id: number | string; method: string; params: unknown }; deadline: number }> = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Shared attributes cached per platform device name, replayed on reconnect of the device. */
  readonly sharedCache = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly devices: DeviceRegistry,
    private readonly connectors: ConnectorManager,
    private readonly replies: ReplySink,
    private readonly methods: GatewayMethods,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly cacheShared: boolean,
    /** Methods the platform calls without a module prefix (the remote shell's), when enabled. */
    private readonly rootMethods: GatewayMethods = {},
  ) {}

  attributeUpdate(device: string, data: Record<string, unknown>): void {
    this.events.emit({ kind: "downlink", what: "attributes", device, data });
    if (this.cacheShared) this.sharedCache.set(device, { ...this.sharedCache.get(device), ...data });
    const original = this.devices.originalName(device);
    const info = this.devices.get(original);
    if (!info) {
      this.log.debug(`attribute update for unknown device ${device} ignored`);
      return;
    }
    const c = this.connectors.byName(info.connectorName);
    if (!c?.connector.onAttributeUpdate) {
      this.log.debug(`connector ${info.connectorName} takes no attribute updates (device ${device})`);
      return;
    }
    Promise.resolve()
      .then(() => c.connector.onAttributeUpdate!({ device: original, data }))
      .catch((e) => this.log.error(`${info.connectorName}: attribute update for ${device} failed: ${errorText(e)}`));
  }

  deviceRpc(device: string, data: { id: number | string; method: string; params: unknown }): void {
    this.events.emit({ kind: "downlink", what: "rpc", device, data });
    const timeoutS = rpcTimeout(data.params);
    const original = this.devices.originalName(device);
    if (!this.devices.get(original)) {
      // Upstream re-queues until the device appears or the request times out.
      this.waiting.push({ device, data, deadline: Date.now() + timeoutS * 1000 });
      this.ensureTimer();
      return;
    }
    void this.dispatchDeviceRpc(device, original, data, timeoutS);
  }

  private async dispatchDeviceRpc(device: string, original: string, data: { id: number | string; method: string; params: unknown }, timeoutS: number): Promise<void> {
    const info = this.devices.get(original)!;
    const c = this.connectors.byName(info.connectorName);
    const reply = (content: unknown) => {
      this.events.emit({ kind: "downlink", what: "rpc-reply", device, data: content });
      return this.replies.replyDeviceRpc(device, data.id, content).catch((e) => this.log.warn(`RPC reply to ${device} not delivered: ${errorText(e)}`));
    };
    if (!c?.connector.onRpc) {
      await reply({ error: `connector ${info.connectorName} does not handle RPC`, code: 404 });
      return;
    }
    const req: RpcRequest = { device: original, id: data.id, method: data.method, params: data.params, timeoutSeconds: timeoutS };
    try {
      const result = await withTimeout(c.connector.onRpc(req), Math.max(timeoutS, CONNECTOR_REPLY_FLOOR_S) * 1000);
      if (result === TIMEOUT) await reply({ error: "Request timeout", code: 408 });
      else if (result === NO_REPLY) this.log.debug(`${info.connectorName}: RPC ${data.method} for ${device} handled; configured without a reply`);
      else if (result === undefined) {
        this.log.warn(`${info.connectorName}: RPC ${data.method} for ${device} not handled (no matching rpc config)`);
        await reply({ error: `RPC method ${data.method} not handled for ${device}`, code: 404 });
      } else await reply(shapeReply(result));
    } catch (e) {
      await reply({ error: errorText(e), code: 500 });
    }
  }

  async gatewayRpc(requestId: string, method: string, params: unknown): Promise<void> {
    this.events.emit({ kind: "downlink", what: "rpc", data: { id: requestId, method, params } });
    const module = method.includes("_") ? method.slice(0, method.indexOf("_")) : method;
    let reply: unknown;
    let qos: 0 | 1 | undefined;
    try {
      const ofType = this.connectors.ofType(module);
      const root = Object.hasOwn(this.rootMethods, method) ? this.rootMethods[method] : undefined;
      if (root) reply = await root(params);
      else if (ofType.length > 0) {
        for (const c of ofType) {
          if (!c.connector.onRpc) continue;
          const r = await c.connector.onRpc({ id: requestId, method, params });
          if (r !== undefined && r !== null) reply = r;
        }
        if (reply === undefined) reply = { success: false };
      } else if (module === "gateway") {
        const name = method.slice("gateway_".length);
        const fn = this.methods[name];
        reply = fn ? await fn(params) : { error: `gateway method ${name} is not supported`, code: 404 };
      } else {
        reply = { error: `${module} - connector not found in available connectors.`, code: 404 };
      }
    } catch (e) {
      reply = { error: errorText(e), code: 500 };
    }
    if (reply && typeof reply === "object" && "qos" in reply) {
      const { qos: q, ...rest } = reply as Record<string, unknown>;
      qos = q === 0 ? 0 : 1;
      reply = rest;
    }
    await this.replies.replyGatewayRpc(requestId, reply, qos).catch((e) => this.log.warn(`gateway RPC reply not delivered: ${errorText(e)}`));
  }

  /** A device appeared: dispatch RPCs that waited for it. */
  deviceAppeared(): void {
    if (this.waiting.length) this.flushWaiting();
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flushWaiting(), 100);
    this.timer.unref?.();
  }

  private flushWaiting(): void {
    const now = Date.now();
    const still: typeof this.waiting = [];
    for (const w of this.waiting) {
      const original = this.devices.originalName(w.device);
      if (this.devices.get(original)) void this.dispatchDeviceRpc(w.device, original, w.data, rpcTimeout(w.data.params));
      else if (now >= w.deadline) void this.replies.replyDeviceRpc(w.device, w.data.id, { error: "Request timeout", code: 408 }).catch(() => {});
      else still.push(w);
    }
    this.waiting = still;
    if (!still.length && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function rpcTimeout(params: unknown): number {
  const t = params && typeof params === "object" ? Number((params as Record<string, unknown>).timeout) : NaN;
  return Number.isFinite(t) && t > 0 ? t : DEFAULT_RPC_TIMEOUT_S;
}
