// The Modbus connector: builds shared links and polled slaves from modbus.json, routes downlink.

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, RpcRequest } from "../../core/model.ts";
import { loadCustomUplinkOrFallBack, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { CustomDownlink, loadCustomDownlink } from "../../common/converters/custom-downlink.ts";
import { errorText } from "../../observe/logger.ts";
import { PolledSlave } from "./device.ts";
import { executeKey, parseReserved, reservedSchemaText, withTimeout, type Target } from "./downlink.ts";
import { ModbusLink, linkKey, type LinkOptions } from "./link.ts";
import { SlaveSchema, type KeyConfig, type ModbusConfig, type SlaveConfig } from "./schema.ts";
import { startSlaveServer, type SlaveServer } from "./server.ts";

const ATTRIBUTE_UPDATE_TIMEOUT_S = 5;

export function linkOptionsOf(s: SlaveConfig): LinkOptions {
  return {
    type: s.type,
    host: s.host,
    port: s.port,
    method: s.method,
    timeoutMs: s.timeout * 1000,
    retries: s.retries,
    baudrate: s.baudrate,
    bytesize: s.bytesize,
    parity: s.parity,
    stopbits: s.stopbits,
    handleLocalEcho: s.handleLocalEcho,
    connectAttemptTimeMs: s.connectAttemptTimeMs,
    connectAttemptCount: s.connectAttemptCount,
    waitAfterFailedAttemptsMs: s.waitAfterFailedAttemptsMs,
    delayBetweenRequestsMs: s.delayBetweenRequestsMs,
  };
}

/** Device templates (tb-gw extension): `unitIds` declares one register map for many slaves. */
export function expandTemplates(slaves: SlaveConfig[]): SlaveConfig[] {
  return slaves.flatMap((s) =>
    s.unitIds?.length
      ? s.unitIds.map((u) => ({ ...s, unitId: u, unitIds: undefined, deviceName: s.deviceName.replaceAll("${unitId}", String(u)) }))
      : [s],
  );
}

function rpcEntries(s: SlaveConfig): KeyConfig[] {
  if (Array.isArray(s.rpc)) return s.rpc;
  return Object.entries(s.rpc).map(([method, k]) => ({ ...k, tag: k.tag ?? method }) as KeyConfig);
}

/** The class name of the built-in uplink converter: any other `uplinkConverter` is a user's class. */
export const BUILT_IN_UPLINK = "BytesModbusUplinkConverter";
/** The class name of the built-in downlink converter: any other `downlinkConverter` is a user's class. */
const BUILT_IN_DOWNLINK = "BytesModbusDownlinkConverter";

/**
 * The uplink class `slaves[].uplinkConverter` names, loaded under the one rule for a class that cannot be used
 * (loadCustomUplinkOrFallBack); undefined when it names the built-in converter. start() and
 * `run --check` (the descriptor's prepare) both load it here, so they say the same.
 */
export function loadSlaveUplink(cfg: SlaveConfig, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomUplink | "built-in" | "none"> | undefined {
  const name = cfg.uplinkConverter;
  if (!name || name === BUILT_IN_UPLINK) return undefined;
  const hasBuiltInMapping = cfg.timeseries.length + cfg.attributes.length > 0;
  return loadCustomUplinkOrFallBack({ extension: name, connectorType: "modbus", configDir: ctx.configDir, ctorConfig: cfg, log: ctx.log, where: cfg.deviceName, hasBuiltInMapping, otherwise: "this slave is not polled" });
}

/**
 * The downlink class `slaves[].downlinkConverter` names; undefined for the built-in converter. A class
 * that cannot be used is one error and an unusable stand-in: polling goes on, the slave's writes fail
 * with that reason rather than write the built-in encoding. start() and `run --check` both load it here.
 */
export async function loadSlaveDownlink(cfg: SlaveConfig, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomDownlink | undefined> {
  const name = cfg.downlinkConverter;
  if (!name || name === BUILT_IN_DOWNLINK) return undefined;
  try {
    return await loadCustomDownlink({ extension: name, connectorType: "modbus", configDir: ctx.configDir, ctorConfig: cfg, log: ctx.log });
  } catch (e) {
    ctx.log.error(`${cfg.deviceName}: downlink converter ${name} cannot be used (${errorText(e)}); attribute updates and RPC writes to this slave fail until it is fixed`);
    return CustomDownlink.unusable(name, errorText(e));
  }
}

export class ModbusConnector implements Connector {
  private readonly links = new Map<string, ModbusLink>();
  private readonly slaves: PolledSlave[] = [];
  private server?: SlaveServer;
  private stopped = false;
  /** Slaves with a custom downlink class (`downlinkConverter`), loaded at start. */
  private readonly downlinks = new Map<PolledSlave, CustomDownlink>();

  constructor(
    private readonly config: ModbusConfig,
    private readonly ctx: ConnectorContext,
  ) {}

  private linkFor(s: SlaveConfig): ModbusLink {
    const key = linkKey(s);
    let link = this.links.get(key);
    if (!link) {
      link = new ModbusLink(linkOptionsOf(s), this.ctx.log);
      link.onDisconnected = () => {
        for (const sl of this.slaves) if (sl.link === link) sl.markDisconnected();
      };
      this.links.set(key, link);
    }
    return link;
  }

  async start(): Promise<void> {
    const slaves = expandTemplates(this.config.master.slaves);
    const kinds = new Set(slaves.map((s) => (s.type === "SERIAL" ? "serial" : "net")));
    if (kinds.size > 1) this.ctx.log.warn("this connector mixes serial and TCP/UDP slaves; consider one connector per bus");
    const srv = this.config.slave;
    if (srv?.sendDataToThingsBoard) {
      this.server = await startSlaveServer(srv, this.ctx.log);
      const polling = this.server.pollingSlave;
      if (this.server.localStream)
        this.links.set(linkKey(polling), new ModbusLink({ ...linkOptionsOf(polling), localStream: this.server.localStream }, this.ctx.log));
      slaves.push(polling);
    }
    for (const s of slaves) this.slaves.push(new PolledSlave(s, this.linkFor(s), this.ctx, this.ctx.log));
    for (const s of [...this.slaves]) {
      const loaded = await loadSlaveUplink(s.cfg, this.ctx);
      if (loaded === undefined) continue;
      if (loaded === "none") this.slaves.splice(this.slaves.indexOf(s), 1);
      else if (loaded !== "built-in") s.custom = loaded;
    }
    for (const s of this.slaves) {
      const downlink = await loadSlaveDownlink(s.cfg, this.ctx);
      if (downlink) this.downlinks.set(s, downlink);
    }
    for (const s of this.slaves) s.start();
    this.ctx.log.info(`modbus: ${this.slaves.length} slave(s) on ${this.links.size} link(s)`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Slaves first (each marks itself stopped at once, then waits for its poll in flight): closing
    // a link fails every read in flight on it, and a slave not yet told would log each of those as
    // a device error (one ERROR "connector stopped" per slave on SIGTERM).
    const slavesStopped = Promise.all(this.slaves.map((s) => s.stop()));
    await Promise.all([...this.links.values()].map((l) => l.close()));
    await slavesStopped;
    await this.server?.close();
  }

  /** Slaves by device name (read-only view for tests and the benchmark). */
  get polled(): readonly PolledSlave[] {
    return this.slaves;
  }

  sharedAttributeKeys(device: string): string[] {
    return this.find(device)?.cfg.attributeUpdates.map((k) => k.tag) ?? [];
  }

  private find(device: string): PolledSlave | undefined {
    return this.slaves.find((s) => s.name === device);
  }

  private target(s: PolledSlave): Target {
    return { link: s.link, unitId: s.cfg.unitId, byteOrder: s.cfg.byteOrder, wordOrder: s.cfg.wordOrder, downlink: this.downlinks.get(s), device: s.name };
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    const slave = this.find(update.device);
    if (!slave) return this.ctx.log.error(`attribute update for unknown device ${update.device}`);
    const keys = slave.cfg.attributeUpdates.filter((k) => k.tag in update.data);
    if (keys.length === 0) return this.ctx.log.error(`${update.device}: no attributeUpdates mapping for ${Object.keys(update.data).join(", ")}`);
    for (const k of keys) {
      try {
        await withTimeout(executeKey(this.target(slave), k, update.data[k.tag]), ATTRIBUTE_UPDATE_TIMEOUT_S, update.device);
      } catch (e) {
        this.ctx.log.error(`${update.device}: writing ${k.tag} (fc ${k.functionCode} address ${k.address}) failed: ${errorText(e)}`);
      }
    }
  }

  async onRpc(req: RpcRequest): Promise<unknown> {
    const timeout = req.timeoutSeconds ?? 5;
    if (!req.device) return this.connectorRpc(req, timeout);
    const slave = this.find(req.device);
    if (!slave) return { result: { error: "Device not found" } };
    const method = req.method;
    if ((method === "get" || method === "set") && typeof req.params === "string") {
      const parsed = parseReserved(method, req.params);
      if (!parsed)
        return { result: { error: `The requested RPC either does not match with the schema ${reservedSchemaText(method)} or incorrect value/values provided` } };
      // a downlink class gets the value parsed from the text, as the built-in encoding does
      return this.reply(slave, parsed.key, parsed.value, timeout, { ...req, params: parsed.value });
    }
    const key = rpcEntries(slave.cfg).find((k) => k.tag === method);
    if (!key) return { result: { error: `Method not found for ${method}` } };
    return this.reply(slave, key, req.params, timeout, req);
  }

  private async reply(slave: PolledSlave, key: KeyConfig, value: unknown, timeout: number, req: RpcRequest): Promise<unknown> {
    const content = { device: req.device, data: { id: req.id, method: req.method, params: req.params } };
    try {
      return { result: { value: await withTimeout(executeKey(this.target(slave), key, value, content), timeout, slave.name) } };
    } catch (e) {
      return { result: { error: errorText(e) } };
    }
  }

  /** `modbus_<name>` RPC to the gateway: run against every slave, or a one-off slave from params. */
  private async connectorRpc(req: RpcRequest, timeout: number): Promise<unknown> {
    const p = (typeof req.params === "object" && req.params !== null ? req.params : {}) as Record<string, unknown>;
    const key = { tag: req.method, type: p.type ?? "16int", functionCode: p.functionCode, objectsCount: p.objectsCount ?? 1, address: p.address } as KeyConfig;
    if (![1, 2, 3, 4, 5, 6, 15, 16].includes(Number(key.functionCode))) return { error: "Unsupported function code in RPC request." };
    const run = async (t: Target, name: string) => {
      try {
        return { result: await withTimeout(executeKey(t, key, p.value), timeout, name), device_name: name };
      } catch (e) {
        return { error: errorText(e), device_name: name };
      }
    };
    if (p.host === undefined && p.port === undefined && p.unitId === undefined)
      return Promise.all(this.slaves.map((s) => run(this.target(s), s.name)));
    const { type: dataType, ...conn } = p;
    if (typeof dataType === "string" && /^(tcp|udp|serial)$/i.test(dataType)) conn.type = dataType;
    const parsed = SlaveSchema.safeParse({ pollPeriod: 1000, method: "socket", ...conn });
    if (!parsed.success) return { error: `Invalid connection parameters: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`, success: false };
    const link = new ModbusLink(linkOptionsOf(parsed.data), this.ctx.log);
    try {
      await link.ensureConnected();
    } catch {
      await link.close();
      return { error: `Failed to connect to device ${parsed.data.deviceName}`, success: false };
    }
    try {
      const t: Target = { link, unitId: parsed.data.unitId, byteOrder: parsed.data.byteOrder, wordOrder: parsed.data.wordOrder };
      return [await run(t, parsed.data.deviceName)];
    } finally {
      await link.close();
    }
  }
}

export default async function create(config: ModbusConfig, ctx: ConnectorContext): Promise<Connector> {
  return new ModbusConnector(config, ctx);
}
