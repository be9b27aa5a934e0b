// CAN connector: one bus (slcan adapter or SocketCAN interface), every frame looked up by its
// arbitration id and converted by the keys configured for it, batched to storage once per
// event-loop turn. Keys with `polling` send their request frame once per bus opening or on a fixed
// period. Attribute updates and RPC are written to the bus as frames. A failed bus is reopened
// after `reconnectPeriod` seconds (up to `reconnectCount` times in a row).

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcReply, RpcRequest } from "../../core/model.ts";
import { loadCustomUplinkOrFallBack, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { CustomDownlink, loadCustomDownlink } from "../../common/converters/custom-downlink.ts";
import { errorText } from "../../observe/logger.ts";
import { SlcanBus, type BusEvents, type CanBus } from "./bus.ts";
import { SocketCanBus } from "./socketcan.ts";
import { buildPayload, buildRoutes, commandMatches, convertFrame, mergeRpcRule, parseSetParams, type KeyRule, type Routes } from "./converter.ts";

/** The class name of the built-in uplink converter: any other `converters.uplink` is a user's class. */
export const BUILT_IN_UPLINK = "BytesCanUplinkConverter";
/** The class name of the built-in downlink converter: any other `converters.downlink` is a user's class. */
const BUILT_IN_DOWNLINK = "BytesCanDownlinkConverter";
import { parseHex } from "./layout.ts";
import type { CanConfig, CanDevice, CanKey, DownlinkRule } from "./schema.ts";
import type { CanFrame } from "./slcan.ts";

/** Batches handed to storage and not yet stored, above which frames are dropped (and counted). */
const MAX_BATCHES_IN_FLIGHT = 64;

export interface CanCounters {
  /** Frames read from the bus. */
  received: number;
  /** Frames on an id no key is configured for (ignored, as upstream). */
  ignored: number;
  /** Frames that gave data for at least one device. */
  converted: number;
  /** Frames whose data was lost: no key could be read from them, or storage did not take them. */
  dropped: number;
  /** Frames written to the bus (polls, attribute updates, RPC). */
  sent: number;
}

interface Poll {
  key: CanKey;
  device: string;
  frame: CanFrame;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The uplink class `devices[].converters.uplink` names, loaded under the one rule for a class that cannot be used
 * (custom-uplink.ts); undefined when it names the built-in converter. start() and `run --check`
 * (the descriptor's prepare) both load it here, so they behave and log alike.
 */
export function loadDeviceUplink(d: CanDevice, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomUplink | "built-in" | "none"> | undefined {
  const name = d.converters?.uplink;
  if (!name || name === BUILT_IN_UPLINK) return undefined;
  const hasBuiltInMapping = d.attributes.length + d.timeseries.length > 0;
  return loadCustomUplinkOrFallBack({ extension: name, connectorType: "can", configDir: ctx.configDir, ctorConfig: d, log: ctx.log, where: `device "${d.name}"`, hasBuiltInMapping, otherwise: "its frames are dropped" });
}

/**
 * The downlink class `devices[].converters.downlink` names; undefined for the built-in encoding.
 * One that cannot be loaded is logged and stands in as unusable: the device's frames are still
 * read, its writes fail with the reason rather than carry the built-in encoding. start() and
 * `run --check` (the descriptor's prepare) both load it here, so they behave and log alike.
 */
export async function loadDeviceDownlink(d: CanDevice, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomDownlink | undefined> {
  const name = d.converters?.downlink;
  if (!name || name === BUILT_IN_DOWNLINK) return undefined;
  try {
    return await loadCustomDownlink({ extension: name, connectorType: "can", configDir: ctx.configDir, ctorConfig: d, log: ctx.log });
  } catch (e) {
    ctx.log.error(`device "${d.name}": downlink converter ${name} cannot be used (${errorText(e)}); its attribute updates and RPC fail until it is fixed`);
    return CustomDownlink.unusable(name, errorText(e));
  }
}

export class CanConnector implements Connector {
  readonly counters: CanCounters = { received: 0, ignored: 0, converted: 0, dropped: 0, sent: 0 };
  private readonly routes: Routes;
  private readonly devices = new Map<string, CanDevice>();
  private readonly polls: Poll[] = [];
  private bus?: CanBus;
  private open = false;
  private stopped = false;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private failuresInARow = 0;
  /** The bus failure was logged; the next one is not, until the bus worked again. */
  private busDown = false;
  private batch: ConvertedData[] = [];
  private batchFrames = 0;
  private immediate?: ReturnType<typeof setImmediate>;
  private inFlight = 0;
  /** Last logged problem per key or area, so a repeating problem logs once, not per frame. */
  private readonly problems = new Map<string, string>();
  /** Devices with a custom uplink class (`converters.uplink`), loaded at start; null: it could not be loaded. */
  private readonly customs = new Map<string, { custom: CustomUplink; chain: Promise<void> } | null>();
  /** Devices with a custom downlink class (`converters.downlink`), loaded at start. */
  private readonly downlinks = new Map<string, CustomDownlink>();

  constructor(
    private readonly config: CanConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.routes = buildRoutes(config);
    for (const d of config.devices) this.devices.set(d.name, d);
    for (const d of config.devices) {
      for (const key of [...d.attributes, ...d.timeseries]) {
        if (!key.polling) continue;
        const data = parseHex(key.polling.dataInHex) as Uint8Array; // checked by the schema
        this.polls.push({ key, device: d.name, frame: { id: key.nodeId, extended: key.isExtendedId, fd: key.isFd, brs: key.bitrateSwitch, data } });
      }
      for (const r of d.serverSideRpc) {
        if (r.dataInHex === undefined) continue;
        const hex = parseHex(r.dataInHex);
        if (typeof hex === "string") ctx.log.warn(`${d.name}: RPC "${r.method}": dataInHex ${hex}; calls to it will fail`);
      }
      for (const a of d.attributeUpdates) {
        const hex = a.dataInHex === undefined ? undefined : parseHex(a.dataInHex);
        if (typeof hex === "string") ctx.log.warn(`${d.name}: attribute update "${a.attributeOnThingsBoard ?? a.attribute}": dataInHex ${hex}; updates of it will fail`);
      }
    }
  }

  async start(): Promise<void> {
    for (const d of this.config.devices) {
      const downlink = await loadDeviceDownlink(d, this.ctx);
      if (downlink) this.downlinks.set(d.name, downlink);
      const loaded = await loadDeviceUplink(d, this.ctx);
      if (loaded === undefined) continue;
      if (loaded === "none") this.customs.set(d.name, null);
      else if (loaded !== "built-in") this.customs.set(d.name, { custom: loaded, chain: Promise.resolve() });
    }
    for (const d of this.config.devices) {
      if (d.attributes.length + d.timeseries.length + d.attributeUpdates.length + d.serverSideRpc.length > 0) this.ctx.addDevice(d.name, d.type ?? "can");
      else this.ctx.log.warn(`device "${d.name}" has no attributes, timeseries, attributeUpdates or serverSideRpc; ignored`);
    }
    this.bus = this.createBus();
    // the first opening is awaited (a failure schedules the next attempt), so downlink right after start finds the bus open
    await this.connect();
  }

  private createBus(): CanBus {
    const events: BusEvents = {
      frame: (f, ts) => this.onFrame(f, ts),
      failed: (e) => this.onBusFailed(e),
      note: (text) => this.ctx.log.warn(`${this.bus?.label}: ${text}`),
    };
    const c = this.config;
    if (c.interface === "slcan") return new SlcanBus({ channel: c.channel, ttyBaudrate: c.backend.ttyBaudrate, bitrate: c.backend.bitrate }, events);
    return new SocketCanBus({ channel: c.channel, fd: c.backend.fd }, events);
  }

  private async connect(): Promise<void> {
    const bus = this.bus!;
    try {
      await bus.open();
    } catch (e) {
      this.onBusFailed(e instanceof Error ? e : new Error(errorText(e)));
      return;
    }
    if (this.stopped) {
      await bus.close();
      return;
    }
    this.open = true;
    this.failuresInARow = 0;
    this.busDown = false;
    this.ctx.log.info(`connected to the CAN bus (${bus.label}); ${this.routes.size} arbitration id(s) listened to, ${this.polls.length} key(s) polled`);
    this.startPolling();
  }

  private onBusFailed(e: Error): void {
    this.open = false;
    this.stopPolling();
    if (this.stopped) return;
    const bus = this.bus!;
    void bus.close().catch(() => {});
    this.failuresInARow++;
    const max = this.config.reconnectCount;
    const retry = this.config.reconnect && (max === undefined || this.failuresInARow <= max);
    // logged when the bus goes down, not on every attempt to reopen it while it stays away
    if (!this.busDown) this.ctx.log.error(`CAN bus ${bus.label} failed: ${errorText(e)}${retry ? `; opening it again every ${this.config.reconnectPeriod} s` : ""}`);
    else this.ctx.log.debug(`CAN bus ${bus.label} still failing: ${errorText(e)}`);
    this.busDown = true;
    if (!retry) this.ctx.log.error(`CAN bus ${bus.label}: not opening it again (${this.config.reconnect ? `reconnectCount ${max} used up` : "reconnect is off"})`);
    if (retry) this.reconnectTimer = setTimeout(() => void this.connect(), this.config.reconnectPeriod * 1000);
  }

  /** Log `problem` for `area` when it differs from the last one; recovery (undefined) logs once. True when logged. */
  private report(area: string, problem: string | undefined, suffix = ""): boolean {
    const last = this.problems.get(area);
    if (problem === last) return false;
    if (problem) {
      this.problems.set(area, problem);
      this.ctx.log.error(problem + suffix);
    } else {
      this.problems.delete(area);
      this.ctx.log.info(`${area}: working again`);
    }
    return true;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    clearImmediate(this.immediate);
    this.flush(); // what was received before stop still goes to storage
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.stopPolling();
    this.open = false;
    await this.bus?.close().catch((e) => this.ctx.log.warn(`closing the CAN bus: ${errorText(e)}`));
    const c = this.counters;
    this.ctx.log.info(`frames received ${c.received}, converted ${c.converted}, dropped ${c.dropped}, on unconfigured ids ${c.ignored}; frames sent ${c.sent}`);
  }

  // ---- polling ----

  private startPolling(): void {
    for (const p of this.polls) {
      const polling = p.key.polling!;
      if (polling.type === "once") {
        void this.sendPoll(p);
        continue;
      }
      const periodMs = polling.period * 1000;
      const first = Date.now();
      let n = 0;
      const tick = () => {
        if (!this.open) return;
        void this.sendPoll(p);
        // keep to the grid first + n × period; a late timer does not shift later polls
        n = Math.max(n + 1, Math.ceil((Date.now() - first) / periodMs));
        p.timer = setTimeout(tick, Math.max(0, first + n * periodMs - Date.now()));
      };
      tick();
    }
  }

  private stopPolling(): void {
    for (const p of this.polls) clearTimeout(p.timer);
  }

  private async sendPoll(p: Poll): Promise<void> {
    try {
      await this.write(p.frame);
    } catch (e) {
      this.report(`poll ${p.device}/${p.key.key}`, `${p.device}: polling "${p.key.key}" failed: ${errorText(e)}`);
    }
  }

  private async write(frame: CanFrame): Promise<void> {
    if (!this.open || !this.bus) throw new Error(`the CAN bus (${this.bus?.label ?? this.config.interface}) is not open`);
    await this.bus.send(frame);
    this.counters.sent++;
  }

  // ---- uplink ----

  onFrame(frame: CanFrame, receivedTs: number): void {
    if (this.stopped) return;
    this.counters.received++;
    const rules = this.routes.get(frame.id);
    if (!rules || frame.remote) {
      this.counters.ignored++;
      return;
    }
    const builtIn = this.customs.size === 0 ? rules : rules.filter((rule) => !this.customs.has(rule.device));
    if (builtIn.length < rules.length) this.convertCustom(rules, frame);
    if (builtIn.length === 0) return;
    const r = convertFrame(builtIn, frame.data, receivedTs);
    // The frame's bytes are not part of the problem's state (a burst of bad frames that differ in a
    // counter byte is one problem, logged once), only shown with its first report.
    for (const { rule, error } of r.errors) this.report(`key ${rule.device}/${rule.key}`, `${rule.device}: "${rule.key}" from frame ${frame.id}: ${error}`, ` (data ${Buffer.from(frame.data).toString("hex")})`);
    if (r.data.length === 0) {
      if (r.matched > 0) this.dropFrames(1, "no key could be read from the frame (too short, or a value out of range)");
      else this.counters.ignored++; // on a known id but carrying none of its commands
      return;
    }
    if (this.problems.size > 0) for (const d of r.data) for (const k of [...Object.keys(d.attributes ?? {}), ...Object.keys(d.telemetry?.[0]?.values ?? {})]) this.report(`key ${d.deviceName}/${k}`, undefined);
    this.queue(r.data);
  }

  private queue(data: ConvertedData[]): void {
    if (this.inFlight >= MAX_BATCHES_IN_FLIGHT) {
      this.dropFrames(1, "storage is not keeping up with the CAN bus");
      this.report("storage", "storage is not keeping up with the CAN bus: frames are dropped (counted) until it does");
      return;
    }
    this.counters.converted++;
    this.batch.push(...data);
    this.batchFrames++;
    this.immediate ??= setImmediate(this.flush);
  }

  /**
   * The frame for devices with a custom uplink class, as upstream calls it: the configs of the
   * device's keys on this id whose command matches, and the frame's bytes; the device named by the
   * connector when the result names none. One device's frames stay in order.
   */
  private convertCustom(rules: readonly KeyRule[], frame: CanFrame): void {
    const byDevice = new Map<string, KeyRule[]>();
    for (const rule of rules) {
      if (!this.customs.has(rule.device) || (rule.command && !commandMatches(rule.command, frame.data))) continue;
      byDevice.set(rule.device, [...(byDevice.get(rule.device) ?? []), rule]);
    }
    for (const [device, matched] of byDevice) {
      const entry = this.customs.get(device);
      if (!entry) {
        this.dropFrames(1, "the device's uplink converter cannot be used", device);
        continue;
      }
      const configs = matched.map((r) => ({ ...r.config, ...r.value, is_ts: r.telemetry }));
      const data = Buffer.from(frame.data);
      entry.chain = entry.chain.then(async () => {
        const out = await entry.custom.convert(configs, data, { device: { deviceName: device, deviceType: matched[0]!.deviceType } });
        if (this.stopped) return;
        if (out.length === 0) this.dropFrames(1, "the uplink converter gave no data", device);
        else this.queue(out);
      });
    }
  }

  /**
   * Frames lost here, before storage: counted in our own counters and in the gateway's `dropped`
   * (statistics, status). Frames storage refused are not passed on: the gateway counted those itself.
   */
  private dropFrames(count: number, reason: string, device?: string): void {
    this.counters.dropped += count;
    this.ctx.countDropped?.(reason, count, device);
  }

  /**
   * The frame counters for statistics and status (Connector.ownCounters): received, converted,
   * dropped (data lost: no key readable, converter gave nothing, storage behind or refusing),
   * ignored (ids no key is configured for, remote frames), sent.
   */
  ownCounters(): Record<string, number> {
    const c = this.counters;
    return { framesReceived: c.received, framesConverted: c.converted, framesDropped: c.dropped, framesIgnored: c.ignored, framesSent: c.sent };
  }

  private readonly flush = (): void => {
    this.immediate = undefined;
    if (this.batch.length === 0 || this.stopped) return;
    const batch = this.batch;
    const frames = this.batchFrames;
    this.batch = [];
    this.batchFrames = 0;
    this.inFlight++;
    this.ctx
      .sendData(batch)
      .then((status) => {
        if (status === "SUCCESS" || status === "FORBIDDEN_DEVICE") {
          if (this.problems.has("storage") && this.inFlight <= 1) this.report("storage", undefined);
          return;
        }
        // a CAN frame cannot be asked for again: what storage refused is lost, and counted
        this.counters.dropped += frames;
        this.report("storage", `storage did not take ${frames} frame(s) of data (${status}); they are dropped (counted) while this lasts`);
      })
      .catch((e) => {
        this.dropFrames(frames, "handing data to storage failed");
        this.ctx.log.error(`handing ${batch.length} message(s) to storage failed: ${errorText(e)}`);
      })
      .finally(() => this.inFlight--);
  };

  // ---- downlink ----

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    const d = this.devices.get(update.device);
    if (!d) return;
    for (const [name, value] of Object.entries(update.data)) {
      const rule = d.attributeUpdates.find((a) => (a.attributeOnThingsBoard ?? a.attribute) === name);
      if (!rule) {
        this.ctx.log.warn(`${d.name}: no attributeUpdates rule for "${name}"; its update is not written`);
        continue;
      }
      try {
        await this.writeRule(d.name, rule, { value });
        this.ctx.log.debug(`${d.name}: attribute "${name}" written to ${rule.nodeId}`);
      } catch (e) {
        this.ctx.log.error(`${d.name}: writing attribute "${name}" failed: ${errorText(e)}`);
      }
    }
  }

  /**
   * One frame for `rule`: its data from the device's custom downlink class when it has one (as
   * upstream calls it: `convert(rule, data)`, data being {value} for an attribute update or the RPC
   * params), else the built-in encoding.
   */
  private async writeRule(device: string, rule: DownlinkRule, data: unknown): Promise<void> {
    if (rule.nodeId === undefined || !Number.isInteger(rule.nodeId)) throw new Error(`no nodeId (arbitration id) to write to, got ${JSON.stringify(rule.nodeId ?? null)}`);
    const custom = this.downlinks.get(device);
    let payload: Uint8Array;
    if (custom) {
      const r = await custom.convert(rule, data, (x) => frameBytes(x, rule.isFd === true));
      if (!r.ok) throw new Error(r.error);
      payload = r.value;
    } else payload = buildPayload(rule, data);
    await this.write({ id: rule.nodeId, extended: rule.isExtendedId === true || rule.nodeId > 0x7ff, fd: rule.isFd === true, brs: rule.bitrateSwitch === true, data: payload });
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (!req.device) return undefined;
    const d = this.devices.get(req.device);
    if (!d) return undefined;
    if (req.method === "set" && !d.serverSideRpc.some((r) => r.method === "set")) return this.reservedSet(d.name, req.params);
    const configured = d.serverSideRpc.find((r) => r.method === req.method);
    if (!configured && !d.enableUnknownRpc) {
      this.ctx.log.warn(`${d.name}: no serverSideRpc rule for RPC "${req.method}" and enableUnknownRpc is off; ignored`);
      return undefined;
    }
    const override = d.enableUnknownRpc || d.overrideRpcConfig;
    const rule: DownlinkRule = override ? mergeRpcRule(configured, req.params) : configured!;
    try {
      await this.writeRule(d.name, rule, req.params);
      return { success: true };
    } catch (e) {
      this.ctx.log.error(`${d.name}: RPC "${req.method}" (id ${req.id}) failed: ${errorText(e)}`);
      return { success: false, error: errorText(e) };
    }
  }

  /** Reserved `set`: params "nodeId=41;dataInHex=AABB;[isExtendedId=true;…]" define the frame. */
  private async reservedSet(device: string, params: unknown): Promise<RpcReply> {
    const fields = typeof params === "string" ? parseSetParams(params) : params;
    const rule = mergeRpcRule(undefined, fields);
    try {
      await this.writeRule(device, rule, fields);
      return { result: { success: true } };
    } catch (e) {
      return { success: false, error: errorText(e) };
    }
  }
}

/**
 * Frame data from a custom downlink converter's result: a byte array, or a list of integers
 * 0..255 (what upstream hands python-can), at most 8 bytes (64 for CAN FD), never empty.
 */
export function frameBytes(r: unknown, fd: boolean): Uint8Array {
  let bytes: Uint8Array;
  if (r instanceof Uint8Array) bytes = Uint8Array.from(r);
  else if (r instanceof ArrayBuffer) bytes = new Uint8Array(r.slice(0));
  else if (Array.isArray(r)) {
    bytes = Uint8Array.from(
      r.map((b, i) => {
        if (typeof b === "number" && Number.isInteger(b) && b >= 0 && b <= 255) return b;
        throw new Error(`byte ${i} is ${JSON.stringify(b) ?? String(b)}; give integers 0..255`);
      }),
    );
  } else throw new Error("give the frame data as a list of integers 0..255 or a byte array");
  if (bytes.length === 0) throw new Error("Converted data is empty.");
  const max = fd ? 64 : 8;
  if (bytes.length > max) throw new Error(`${bytes.length} bytes do not fit in a ${fd ? "CAN FD" : "classic CAN"} frame (at most ${max}${fd ? "" : "; set isFd for CAN FD"})`);
  return bytes;
}
