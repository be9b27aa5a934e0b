// KNX connector: one KNXnet/IP connection; each device polls its group addresses on its own timer,
// all its reads in flight at once, so one address nobody answers costs that device one read
// timeout and delays no other device (upstream queues every read of every device behind each
// other, 2 s per unanswered address). Values written on the bus by others (GroupValueWrite) are
// reported at once for the devices that read that address. Downlink: attribute updates and RPC
// become GroupValueWrite / GroupValueRead.

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ReportStrategyConfig, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { groupAddress } from "./address.ts";
import { KnxBus, type BusOptions, type GroupValue } from "./bus.ts";
import { loadCustomUplinkOrFallBack, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { convertPoll, convertValues, customPollData, planDevice, type DevicePlan, type PollAnswers } from "./converter.ts";
import { decodeDpt, encodeDpt, parseDpt, type Dpt } from "./dpt.ts";
import type { KnxClientConfig, KnxConfig, KnxDevice } from "./schema.ts";

interface DeviceState {
  config: KnxDevice;
  plan: DevicePlan;
  /** Name and profile of the last poll that resolved them (unsolicited values need them). */
  name?: string;
  profile?: string;
  timer?: ReturnType<typeof setTimeout>;
  /** Last logged problem per key, so a failing address logs once, not every poll. */
  problems: Map<string, string>;
  index: number;
  /** The user's converter class (`uplinkConverter`), loaded at start. */
  custom?: CustomUplink;
  /** Its class could not be loaded and it names no keys for the built-in converter (logged at start): the device is not polled. */
  unusable?: boolean;
}

/** The class name of the built-in converter: any other `uplinkConverter` is a user's class. */
export const BUILT_IN_CONVERTER = "KNXUplinkConverter";

/** Our individual address when routing without `individualAddress` (xknx's default). */
export const DEFAULT_ROUTING_ADDRESS = "15.15.250";

/** Connection settings from the client section: type, addresses, pace. */
export function busOptions(c: KnxClientConfig): BusOptions {
  const gatewayIp = c.gatewayIp ?? c.gatewayIP;
  const type = c.type === "AUTOMATIC" ? (gatewayIp ? "TUNNELING" : "ROUTING") : c.type;
  if (type.endsWith("_SECURE")) throw new Error(`client.type ${c.type}: KNX Secure is not supported yet; use TUNNELING, TUNNELING_TCP or ROUTING`);
  const routing = type === "ROUTING";
  if (!routing && !gatewayIp) throw new Error(`client.type ${c.type} needs client.gatewayIp (the KNX/IP interface address)`);
  const host = routing ? c.multicastGroup : gatewayIp!;
  let localIp = c.localIp && c.localIp !== "0.0.0.0" ? c.localIp : undefined;
  // The tunnel's return address must be one the interface can reach: loopback for a local one.
  if (!localIp && /^127\./.test(host)) localIp = "127.0.0.1";
  return {
    mode: routing ? "routing" : type === "TUNNELING_TCP" ? "tunnelTcp" : "tunnel",
    host,
    port: routing ? c.multicastPort : c.gatewayPort,
    localIp,
    // A tunnel gets its individual address from the interface; ours is only for routing, where
    // xknx (upstream) sends as 15.15.250 unless told otherwise.
    individualAddress: routing ? (c.individualAddress ?? DEFAULT_ROUTING_ADDRESS) : undefined,
    sendIntervalMs: c.rateLimit > 0 ? Math.ceil(1000 / c.rateLimit) : 0,
    connectTimeoutMs: 10_000,
  };
}

/** Reserved RPC params `groupAddress=1/0/5;dataType=string;value=x;` (or the same as an object). */
export function parseReservedParams(params: unknown): { groupAddress: string; dataType: string; value?: unknown; requestType?: string } {
  let fields: Record<string, unknown> = {};
  if (typeof params === "string") {
    for (const part of params.split(";")) {
      const i = part.indexOf("=");
      if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
  } else if (params && typeof params === "object") fields = params as Record<string, unknown>;
  if (typeof fields.groupAddress !== "string" || typeof fields.dataType !== "string") throw new Error('reserved get/set RPC takes params like "groupAddress=1/0/5;dataType=string;" (set: also "value=...;")');
  return { groupAddress: fields.groupAddress, dataType: fields.dataType, value: fields.value, requestType: typeof fields.requestType === "string" ? fields.requestType : undefined };
}

/** The value an RPC writes: `params.value` when params is an object holding one, else the params. */
function rpcValue(params: unknown): unknown {
  if (params && typeof params === "object" && !Array.isArray(params) && "value" in params) return (params as { value: unknown }).value;
  return params;
}

const fullMatch = (pattern: string, text: string) => {
  try {
    return new RegExp(`^(?:${pattern})$`).test(text);
  } catch {
    return pattern === text;
  }
};

/**
 * The uplink class `devices[].uplinkConverter` names, loaded under the one rule for a class that cannot be used
 * (custom-uplink.ts); undefined when it names the built-in converter. start() and `run --check`
 * (the descriptor's prepare) both load it here, so they behave and log alike.
 */
export function loadDeviceUplink(d: KnxDevice, index: number, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomUplink | "built-in" | "none"> | undefined {
  const name = d.uplinkConverter;
  if (!name || name === BUILT_IN_CONVERTER) return undefined;
  const where = `device #${index} ("${d.deviceInfo.deviceNameExpression}")`;
  const hasBuiltInMapping = d.attributes.length + d.timeseries.length > 0;
  return loadCustomUplinkOrFallBack({ extension: name, connectorType: "knx", configDir: ctx.configDir, ctorConfig: d, log: ctx.log, where, hasBuiltInMapping, otherwise: "this device is not polled" });
}

export class KnxConnector implements Connector {
  private devices: DeviceState[] = [];
  private bus?: KnxBus;
  private stopped = false;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private connectionProblem?: string;
  private readonly readTimeoutMs: number;

  constructor(
    private readonly config: KnxConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.readTimeoutMs = config.client.readTimeout * 1000;
  }

  async start(): Promise<void> {
    const opts = busOptions(this.config.client);
    this.config.devices.forEach((config, index) => this.devices.push({ config, plan: planDevice(config), problems: new Map(), index }));
    for (const d of this.devices) {
      const loaded = await loadDeviceUplink(d.config, d.index, this.ctx);
      if (loaded === undefined) continue;
      if (loaded === "none") d.unusable = true;
      else if (loaded !== "built-in") d.custom = loaded;
    }
    this.devices = this.devices.filter((d) => !d.unusable);
    this.bus = new KnxBus(opts, (v) => this.unsolicited(v), (reason) => this.disconnected(reason));
    if (this.config.client.gatewaysScanner.enabled) this.ctx.log.info("gatewaysScanner: interface discovery is not done by tb-gw; connecting to the configured interface");
    void this.connectLoop(opts);
    for (const d of this.devices) void this.pollLoop(d);
    this.ctx.log.info(`KNX ${opts.mode} to ${opts.host}:${opts.port}; polling ${this.devices.length} device(s)`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    for (const d of this.devices) clearTimeout(d.timer);
    await this.bus?.close();
  }

  private async connectLoop(opts: BusOptions): Promise<void> {
    while (!this.stopped && this.bus && !this.bus.isConnected) {
      try {
        await this.bus.connect();
        if (this.stopped) return void (await this.bus.close());
        this.connectionProblem = undefined;
        this.ctx.log.info(
          opts.mode === "routing"
            ? `routing: joined ${opts.host}:${opts.port} on ${this.bus.localAddress ?? "the interface knxultimate picked"}, sending as ${opts.individualAddress}`
            : `connected to the KNX/IP interface ${opts.host}:${opts.port}`,
        );
        // Poll at once rather than after a whole period. Started in one go, so that devices reading
        // one address send their reads in the same tick and share one telegram.
        for (const d of this.devices) void this.pollLoop(d);
        return;
      } catch (e) {
        const problem = errorText(e);
        if (problem !== this.connectionProblem) this.ctx.log.error(`KNX connection failed (trying again every ${this.config.client.autoReconnectWait} s): ${problem}`);
        this.connectionProblem = problem;
        await new Promise<void>((r) => (this.reconnectTimer = setTimeout(r, this.config.client.autoReconnectWait * 1000)));
      }
    }
  }

  private disconnected(reason: string): void {
    if (this.stopped) return;
    this.connectionProblem = reason;
    if (!this.config.client.autoReconnect) {
      this.ctx.log.error(`KNX connection lost: ${reason}; autoReconnect is off, so no more values until restart`);
      return;
    }
    this.ctx.log.error(`KNX connection lost: ${reason}; connecting again in ${this.config.client.autoReconnectWait} s`);
    this.reconnectTimer = setTimeout(() => void this.connectLoop(busOptions(this.config.client)), this.config.client.autoReconnectWait * 1000);
  }

  private report(d: DeviceState, key: string, problem: string | undefined): void {
    const last = d.problems.get(key);
    if (problem === last) return;
    const expr = d.config.deviceInfo.deviceNameExpression;
    const where = d.name === undefined ? `device #${d.index} ("${expr}")` : d.name === expr ? `device ${d.name}` : `device ${d.name} ("${expr}")`;
    if (problem) {
      d.problems.set(key, problem);
      this.ctx.log.error(`${where}: ${problem}`);
    } else {
      d.problems.delete(key);
      this.ctx.log.info(`${where}: ${key} answering again`);
    }
  }


  private polling = new Set<DeviceState>();

  private async pollLoop(d: DeviceState): Promise<void> {
    if (this.polling.has(d) || this.stopped) return;
    this.polling.add(d);
    clearTimeout(d.timer);
    const started = Date.now();
    try {
      if (this.bus?.isConnected) await this.pollOnce(d);
    } catch (e) {
      this.report(d, "", `poll failed: ${errorText(e)}`);
    } finally {
      this.polling.delete(d);
    }
    if (this.stopped) return;
    d.timer = setTimeout(() => void this.pollLoop(d), Math.max(0, d.config.pollPeriod - (Date.now() - started)));
  }

  /** One poll: every address of the device read at once (each once), then converted and sent. */
  async pollOnce(d: DeviceState): Promise<void> {
    const bus = this.bus!;
    const answers: PollAnswers = new Map();
    const results = await Promise.allSettled(d.plan.addresses.map(async (ga) => answers.set(ga.raw, await bus.read(ga, this.readTimeoutMs))));
    if (this.stopped) return;
    results.forEach((r, i) => this.report(d, `address ${d.plan.addresses[i]!.text}`, r.status === "rejected" ? errorText(r.reason) : undefined));
    if (d.custom) return this.convertCustom(d, d.custom, answers);
    const { data, problems } = convertPoll(d.plan, answers, Date.now(), d.config.reportStrategy as ReportStrategyConfig | undefined);
    for (const key of ["deviceName", "deviceProfile", ...[...d.plan.keys.values()].flat().map((k) => k.key)]) this.report(d, key, problems.get(key));
    if (!data) return;
    d.name = data.deviceName;
    d.profile = data.deviceType;
    if (data.attributes || data.telemetry) await this.ctx.sendData(data);
  }

  /** A poll through the user's class (upstream's shape: address → {type, response, keys}); the device it names takes downlink. */
  private async convertCustom(d: DeviceState, custom: CustomUplink, answers: PollAnswers): Promise<void> {
    const out = await custom.convert(d.config, customPollData(d.config, d.plan, answers));
    if (this.stopped || out.length === 0) return;
    d.name = out[0]!.deviceName;
    d.profile = out[0]!.deviceType;
    await this.ctx.sendData(out);
  }

  /** A GroupValueWrite by someone else: reported for every named device that reads the address. */
  private unsolicited(v: GroupValue): void {
    if (this.stopped || v.kind !== "write") return;
    for (const d of this.devices) {
      // a custom converter converts whole polls only (as upstream's converter is called)
      if (!d.name || d.custom || !d.plan.keys.has(v.address)) continue;
      const problems = new Map<string, string>();
      const data = convertValues(d.plan, new Map([[v.address, v.data]]), Date.now(), problems, d.name, d.profile ?? "default", d.config.reportStrategy as ReportStrategyConfig | undefined);
      for (const [key, problem] of problems) this.report(d, key, problem);
      if (data.attributes || data.telemetry) void this.ctx.sendData(data);
    }
  }

  private ownsDevice(name: string): boolean {
    return this.devices.some((d) => d.name === name);
  }

  private write(gaText: string, dpt: Dpt, value: unknown): void {
    if (!this.bus) throw new Error("KNX bus is not connected");
    this.bus.write(groupAddress(gaText), encodeDpt(dpt, value));
  }

  private async read(gaText: string, dpt: Dpt, timeoutMs: number): Promise<unknown> {
    if (!this.bus) throw new Error("KNX bus is not connected");
    return decodeDpt(dpt, await this.bus.read(groupAddress(gaText), timeoutMs));
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    if (!this.ownsDevice(update.device)) return;
    for (const [key, value] of Object.entries(update.data)) {
      const rule = this.config.attributeUpdates.find((r) => r.key === key && fullMatch(r.deviceNameFilter, update.device));
      if (!rule) continue;
      try {
        this.write(rule.groupAddress, dptOrThrow(rule.dataType), value);
        this.ctx.log.debug(`${update.device}: attribute "${key}" written to ${rule.groupAddress}`);
      } catch (e) {
        this.ctx.log.error(`${update.device}: attribute "${key}" not written to ${rule.groupAddress}: ${errorText(e)}`);
      }
    }
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (!req.device || !this.ownsDevice(req.device)) return undefined;
    // A read waits readTimeout, or the RPC's own timeout when that is shorter (the core answers then).
    const timeoutMs = Math.min(this.readTimeoutMs, req.timeoutSeconds ? req.timeoutSeconds * 1000 : Infinity);
    try {
      let ga: string;
      let dpt: Dpt;
      let write: boolean;
      let value: unknown;
      if (req.method === "get" || req.method === "set") {
        const p = parseReservedParams(req.params);
        ({ groupAddress: ga, value } = p);
        dpt = dptOrThrow(p.dataType);
        write = value !== undefined || p.requestType === "write";
      } else {
        const rule = this.config.serverSideRpc.find((r) => r.method === req.method && fullMatch(r.deviceNameFilter, req.device!));
        if (!rule) return { error: `no serverSideRpc rule for method "${req.method}" matches device "${req.device}"`, success: false };
        ga = rule.groupAddress;
        dpt = dptOrThrow(rule.dataType);
        // The rule decides: a read stays a read whatever the params (upstream writes `{}` to the bus).
        write = rule.requestType === "write";
        value = rpcValue(req.params);
      }
      if (write) {
        this.write(ga, dpt, value);
        return { result: { success: true } };
      }
      return { result: { value: await this.read(ga, dpt, timeoutMs) } };
    } catch (e) {
      return { error: errorText(e), success: false };
    }
  }
}

function dptOrThrow(name: string): Dpt {
  const d = parseDpt(name);
  if (typeof d === "string") throw new Error(d);
  return d;
}
