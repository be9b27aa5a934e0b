// Socket connector: frames from TCP connections or UDP datagrams are matched to device rules by
// the sender's "ip:port" (upstream's address filters), converted by byte positions, and handed to
// the gateway in one batch per event-loop turn. While storage is behind, TCP connections stop
// reading (the kernel then slows the devices down). Downlink bytes go to the device's last address.

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcReply, RpcRequest } from "../../core/model.ts";
import { StoreUntilTaken } from "../../core/store-until-taken.ts";
import { textOf } from "../../common/expressions/index.ts";
import { errorText } from "../../observe/logger.ts";
import { encodeText, pyJsonDumps } from "./codec.ts";
import { compileDevice, convertFrame, hasWildcard, requestedNames, type DeviceRule } from "./converter.ts";
import { withFallBack } from "../../common/converters/custom-uplink.ts";
import { loadSocketConverter, type CustomSocketConverter } from "./custom-converter.ts";
import type { FramingConfig } from "./framing.ts";
import type { SocketConfig, SocketDevice } from "./schema.ts";
import { TcpClients, TcpServer, type TransportEvents } from "./tcp.ts";
import { UdpTransport } from "./udp.ts";

interface Transport {
  start(): void;
  stop(): Promise<void>;
  write(address: string, bytes: Buffer): Promise<void>;
  resumeReading(): void;
}

/** One device rule and where its device was last heard from (the downlink goes there). */
interface DeviceState {
  rule: DeviceRule;
  address?: string;
  /** A custom converter class (`converter` other than the built-in), loaded at start. */
  custom?: CustomSocketConverter;
  /** The custom converter could not be loaded and it names no keys for the built-in one (logged at start): the device's frames are dropped. */
  unusable?: boolean;
}

export const BUILT_IN_CONVERTER = "BytesSocketUplinkConverter";

/** Batches handed to the gateway and not yet in storage, above which TCP reading pauses. */
const MAX_BATCHES_IN_FLIGHT = 4;
/** Peers remembered for matching and for "unknown sender" logging (then forgotten and relearnt). */
const MAX_REMEMBERED_PEERS = 10_000;

export function framingOf(cfg: SocketConfig["socket"]): FramingConfig {
  const f = cfg.framing;
  if (!f || f.type === "none") return { type: "none" };
  if (f.type === "fixed") return { type: "fixed", length: f.length! };
  const delimiter = f.delimiterHex !== undefined ? Buffer.from(f.delimiterHex, "hex") : Buffer.from(f.delimiter!, "utf8");
  return { type: "delimiter", delimiter, includeDelimiter: f.includeDelimiter };
}

/** Reserved `set` params `address=10.0.0.5;port=5000;value=text` (upstream's replies on errors). */
export function parseSetParams(params: unknown): { address: string; value: string } | { error: string } {
  const fields: Record<string, string> = {};
  for (const part of String(params ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && i < part.length - 1) fields[part.slice(0, i).trim()] = part.slice(i + 1);
  }
  if (fields.address === undefined || fields.port === undefined || fields.value === undefined) return { error: "Not enough params" };
  const port = Number(fields.port.trim());
  if (!/^\s*\d+\s*$/.test(fields.port) || port < 1 || port > 65535) return { error: 'Param "port" have to be int type' };
  return { address: `${fields.address.trim()}:${port}`, value: fields.value };
}

/**
 * The uplink class `devices[].converter` names, loaded under the one rule for a class that cannot be used
 * (custom-uplink.ts); undefined when it names the built-in converter. start() and `run --check`
 * (the descriptor's prepare) both load it here, so they behave and log alike.
 */
export function loadDeviceConverter(cfg: SocketDevice, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomSocketConverter | "built-in" | "none"> | undefined {
  const name = cfg.converter;
  if (!name || name === BUILT_IN_CONVERTER) return undefined;
  const hasBuiltInMapping = cfg.telemetry.length + cfg.attributes.length > 0;
  return withFallBack(() => loadSocketConverter(name, cfg, ctx.configDir, ctx.log), { extension: name, log: ctx.log, where: cfg.deviceName, hasBuiltInMapping, otherwise: "this device's data is dropped" });
}

export class SocketConnector implements Connector {
  private readonly states: DeviceState[] = [];
  private readonly byName = new Map<string, DeviceState[]>();
  private readonly byPeer = new Map<string, DeviceState[]>();
  private readonly unknownPeers = new Set<string>();
  readonly transport: Transport & { boundPort?: number };
  private batch: ConvertedData[] = [];
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private inFlight = 0;
  private stopped = false;
  private readonly storing: StoreUntilTaken;

  constructor(
    private readonly config: SocketConfig,
    private readonly ctx: ConnectorContext,
  ) {
    for (const device of config.devices) {
      const { rule, problems } = compileDevice(device);
      for (const p of problems) ctx.log.error(`${device.deviceName}: ${p}; this attribute request is ignored`);
      const state: DeviceState = { rule, address: hasWildcard(device.address) ? undefined : device.address };
      this.states.push(state);
      const same = this.byName.get(device.deviceName);
      if (same) same.push(state);
      else this.byName.set(device.deviceName, [state]);
    }
    this.storing = new StoreUntilTaken(ctx, "not reading from the devices meanwhile", "dropped");
    const s = config.socket;
    const events: TransportEvents = {
      frame: (peer, bytes, ts) => this.onFrame(peer, bytes, ts),
      note: (level, text) => ctx.log[level === "warn" ? "warn" : level](text),
      busy: () => this.inFlight >= MAX_BATCHES_IN_FLIGHT,
    };
    if (s.type === "UDP") this.transport = new UdpTransport(s.address, s.port, s.bufferSize, events);
    else if (s.mode === "client") this.transport = new TcpClients([...new Set(config.devices.map((d) => d.address))], framingOf(s), s.bufferSize, events);
    else this.transport = new TcpServer(s.address, s.port, framingOf(s), s.bufferSize, events);
  }

  async start(): Promise<void> {
    for (const d of this.states) {
      const loaded = await loadDeviceConverter(d.rule.config, this.ctx);
      if (loaded === undefined) continue;
      if (loaded === "none") d.unusable = true;
      else if (loaded !== "built-in") d.custom = loaded;
    }
    this.transport.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    // what was received before stop still goes to storage
    clearImmediate(this.immediate);
    this.storing.stop();
    this.flush();
    this.stopped = true;
    await this.transport.stop();
  }

  // ---- uplink ----

  private devicesFor(peer: string): DeviceState[] {
    let found = this.byPeer.get(peer);
    if (found) return found;
    found = this.states.filter((s) => s.rule.matches(peer));
    if (this.byPeer.size >= MAX_REMEMBERED_PEERS) this.byPeer.clear();
    this.byPeer.set(peer, found);
    return found;
  }

  /** One frame from `peer`: every matching device rule converts it (upstream), unless it is an attribute request. */
  onFrame(peer: string, bytes: Buffer, receivedTs: number): void {
    if (this.stopped) return;
    const devices = this.devicesFor(peer);
    if (devices.length === 0) return this.unknownPeer(peer);
    for (const d of devices) {
      d.address = peer;
      try {
        if (d.rule.requests.length > 0 && this.attributeRequest(d, bytes)) continue;
        if (d.unusable) continue;
        if (d.custom) {
          this.convertCustom(d, bytes, peer);
          continue;
        }
        const data = convertFrame(d.rule, bytes, receivedTs);
        if (data) this.queue(data);
      } catch (e) {
        // a converter bug must not stop the connector: this frame is lost, the next one is read
        this.ctx.log.error(`${d.rule.config.deviceName}: converting a frame from ${peer} failed: ${errorText(e)}`);
      }
    }
  }

  private convertCustom(d: DeviceState, bytes: Buffer, peer: string): void {
    const fail = (e: unknown) => this.ctx.log.error(`${d.rule.config.deviceName}: converter ${d.rule.config.converter} failed on a frame from ${peer}: ${errorText(e)}`);
    const take = (r: ConvertedData[] | string) => {
      if (typeof r === "string") this.ctx.log.debug(`${d.rule.config.deviceName}: ${r}`);
      else if (!this.stopped) for (const data of r) this.queue(data);
    };
    const r = d.custom!.convert(bytes);
    if (r instanceof Promise) r.then(take, fail);
    else take(r);
  }

  private unknownPeer(peer: string): void {
    if (this.unknownPeers.has(peer)) return;
    if (this.unknownPeers.size >= MAX_REMEMBERED_PEERS) this.unknownPeers.clear();
    this.unknownPeers.add(peer);
    this.ctx.log.warn(`data from ${peer} matches no device address; dropped (logged once per sender)`);
  }

  private queue(data: ConvertedData): void {
    this.batch.push(data);
    this.immediate ??= setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.immediate = undefined;
    if (this.batch.length === 0 || this.stopped) return;
    const batch = this.batch;
    this.batch = [];
    this.inFlight++;
    // storage full: the batch is kept and offered again while reading stays paused (in flight),
    // so TCP pushes back to the devices instead of their data being dropped
    void this.storing
      .store(batch, `${batch.length} message(s)`)
      .finally(() => {
        this.inFlight--;
        if (this.inFlight < MAX_BATCHES_IN_FLIGHT) this.transport.resumeReading();
      });
  };

  /** True when the frame is one of the device's attribute requests (then it is not data). */
  private attributeRequest(d: DeviceState, bytes: Buffer): boolean {
    let matched = false;
    for (const r of d.rule.requests) {
      const names = requestedNames(r, bytes);
      if (!names) continue;
      matched = true;
      void this.answerRequest(d, r.scope, names);
    }
    return matched;
  }

  /** The platform's answer as JSON text (Python's spelling) written back to the device. */
  private async answerRequest(d: DeviceState, scope: "shared" | "client", names: string[]): Promise<void> {
    const device = d.rule.config.deviceName;
    try {
      const values = await this.ctx.requestAttributes(device, names, scope);
      if (this.stopped) return;
      const value = names.length === 1 ? (values[names[0]!] ?? null) : values;
      await this.writeTo(d, Buffer.from(pyJsonDumps(value), "utf8"));
    } catch (e) {
      this.ctx.log.error(`${device}: answering its request for ${scope} attributes ${names.join(", ")} failed: ${errorText(e)}`);
    }
  }

  // ---- downlink ----

  /** The device's state to write to: the first rule of that name with a known address. */
  private target(device: string): DeviceState | undefined {
    const list = this.byName.get(device);
    return list?.find((s) => s.address) ?? list?.[0];
  }

  private async writeTo(d: DeviceState, bytes: Buffer): Promise<void> {
    if (!d.address) throw new Error(`no address to write to yet: nothing received from it, and its address "${d.rule.config.address}" has wildcards`);
    await this.transport.write(d.address, bytes);
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    const d = this.target(update.device);
    if (!d) {
      this.ctx.log.error(`attribute update for ${update.device}: Device not found`);
      return;
    }
    for (const rule of d.rule.config.attributeUpdates) {
      if (!Object.hasOwn(update.data, rule.attributeOnThingsBoard)) continue;
      const key = rule.attributeOnThingsBoard;
      try {
        await this.writeTo(d, encodeText(textOf(update.data[key]), rule.encoding ?? d.rule.config.encoding));
        this.ctx.log.debug(`${update.device}: attribute ${key} written to ${d.address}`);
      } catch (e) {
        this.ctx.log.error(`${update.device}: writing attribute ${key} failed: ${errorText(e)}`);
      }
    }
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (!req.device) return this.connectorRpc(req);
    const d = this.target(req.device);
    if (!d) return undefined;
    if (req.method === "set") return this.reservedSet(d, req.params);
    return this.deviceRpc(d, req.method, req.params);
  }

  /** `socket_set` (no device needed), or `socket_<method>` with params "deviceName=<name> <params>" (upstream). */
  private async connectorRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    const prefix = `${this.ctx.type}_`;
    const method = req.method.startsWith(prefix) ? req.method.slice(prefix.length) : req.method;
    if (method === "set") return this.reservedSet(undefined, req.params);
    const text = typeof req.params === "string" ? req.params : "";
    const first = text.split(" ")[0]!;
    const d = this.target(first.slice(first.indexOf("=") + 1));
    if (!d) return { error: `${req.method}: params must start with the device, e.g. "deviceName=Device Example <params>"`, success: false };
    return this.deviceRpc(d, method, text.slice(first.length + 1));
  }

  private async reservedSet(d: DeviceState | undefined, params: unknown): Promise<RpcReply> {
    const p = parseSetParams(params);
    if ("error" in p) return { error: p.error, success: false };
    try {
      await this.transport.write(p.address, encodeText(p.value, d?.rule.config.encoding ?? "utf-8"));
      return "ok";
    } catch (e) {
      return { error: errorText(e), success: false };
    }
  }

  private async deviceRpc(d: DeviceState, method: string, params: unknown): Promise<RpcReply | undefined> {
    const device = d.rule.config.deviceName;
    const rule = d.rule.config.serverSideRpc.find((r) => r.methodRPC === method);
    if (!rule) {
      this.ctx.log.error(`${device}: no serverSideRpc rule for RPC method "${method}"`);
      return undefined;
    }
    try {
      await this.writeTo(d, encodeText(textOf(params), rule.encoding ?? d.rule.config.encoding));
      return rule.withResponse ? "ok" : { success: true };
    } catch (e) {
      return { error: errorText(e), success: false };
    }
  }
}
