// SNMP manager: each configured agent is polled on its own timer with its own session, so slow or
// dead agents never hold up the others. Downlink: shared attributes and RPC become SET/GET requests.

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { SnmpClient, SnmpTimeoutError, type SnmpResult } from "./client.ts";
import { toConvertedData, type PollResponses } from "./converter.ts";
import { SnmpMethods, type SnmpConfig, type SnmpDevice, type SnmpMethod, type SnmpOperation } from "./schema.ts";
import { errorText } from "../../observe/logger.ts";
import { BUILT_IN_INSTEAD, loadCustomUplink, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { CustomDownlink, classHas, loadCustomDownlink } from "../../common/converters/custom-downlink.ts";
import { extensionsDir, findConverterClass } from "../../common/converters/custom.ts";

interface DeviceState {
  config: SnmpDevice;
  client: SnmpClient;
  timer?: ReturnType<typeof setTimeout>;
  /** Last logged problem per key ("" = poll level), so a failing agent logs once, not every poll. */
  problems: Map<string, string>;
  /** The user's converter class (`converter`), loaded at start. */
  custom?: CustomUplink;
  /** Its downlink side, when the class has `convertDownlink(config, data)`: the value each SET writes. */
  downlink?: CustomDownlink;
}

/** The class name of the built-in converter: any other `converter` is a user's class. */
export const BUILT_IN_CONVERTER = "SNMPUplinkConverter";
const BUILT_IN_DOWNLINK = "SNMPDownlinkConverter";

/** Reserved RPC params `method=get;oid=1.3.6.1.2.1.1.1.0;value=x;` → an operation and its value. */
export function parseReservedParams(params: unknown): { op: SnmpOperation; value?: unknown } {
  if (typeof params !== "string") throw new Error('reserved get/set RPC takes params like "method=get;oid=1.3.6.1.2.1.1.1.0;"');
  const fields: Record<string, string> = {};
  for (const part of params.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  const method = (fields.method ?? "").toLowerCase();
  if (!(SnmpMethods as readonly string[]).includes(method)) throw new Error(`unknown SNMP method "${fields.method ?? ""}" in params; use one of ${SnmpMethods.join(", ")}`);
  const oid = fields.oid?.includes(",") ? fields.oid.split(",").map((s) => s.trim()) : fields.oid;
  return { op: { method: method as SnmpMethod, oid }, value: fields.value };
}

function replyText(result: SnmpResult): string {
  return result !== null && typeof result === "object" ? JSON.stringify(result) : String(result);
}

/**
 * The device's `converter` class, which upstream builds for both directions: `convert` for the
 * polls; `convertDownlink`, when the class has it, for the value of every SET (upstream builds
 * the downlink side but never calls it, so a class without that method leaves SETs as they are).
 * Nothing for the built-in converters. start() and `run --check` (the descriptor's prepare) both
 * load it here, so they behave and log alike.
 */
export async function loadDeviceConverter(config: SnmpDevice, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<Pick<DeviceState, "custom" | "downlink">> {
  const name = config.converter;
  if (!name || name === BUILT_IN_CONVERTER || name === BUILT_IN_DOWNLINK) return {};
  const common = { extension: name, connectorType: "snmp", configDir: ctx.configDir, ctorConfig: config, log: ctx.log };
  let cls: unknown;
  try {
    cls = await findConverterClass(name, extensionsDir(ctx.configDir, "snmp"));
  } catch (e) {
    // A migrated config may name upstream's Python class (the upstream sample does): keep the
    // device's data flowing with the built-in conversion rather than losing it.
    ctx.log.error(`${config.deviceName}: converter ${name} cannot be used (${errorText(e)}); ${BUILT_IN_INSTEAD}`);
    return {};
  }
  const out: Pick<DeviceState, "custom" | "downlink"> = {};
  const downlinkOnly = classHas(cls, "convertDownlink") && !classHas(cls, "convert");
  if (!downlinkOnly) {
    try {
      out.custom = await loadCustomUplink({ ...common, where: config.deviceName });
    } catch (e) {
      ctx.log.error(`${config.deviceName}: converter ${name} cannot be used (${errorText(e)}); ${BUILT_IN_INSTEAD}`);
    }
  }
  if (!classHas(cls, "convertDownlink")) return out;
  try {
    out.downlink = await loadCustomDownlink({ ...common, method: "convertDownlink" });
  } catch (e) {
    // SETs fail with this reason rather than write what the class was meant to change
    out.downlink = CustomDownlink.unusable(name, errorText(e));
    ctx.log.error(`${config.deviceName}: the downlink side of converter ${name} cannot be used (${errorText(e)}); its SETs fail until it is fixed`);
  }
  return out;
}

export class SnmpConnector implements Connector {
  private devices: DeviceState[] = [];
  private stopped = false;

  constructor(
    private readonly config: SnmpConfig,
    private readonly ctx: ConnectorContext,
  ) {}

  async start(): Promise<void> {
    for (const config of this.config.devices) {
      const state: DeviceState = { config, client: new SnmpClient(config), problems: new Map(), ...(await loadDeviceConverter(config, this.ctx)) };
      this.devices.push(state);
      if (config.attributes.length + config.telemetry.length > 0) void this.pollLoop(state);
    }
    this.ctx.log.info(`polling ${this.devices.length} SNMP agent(s)`);
  }

  /**
   * The value a SET writes: the update's or RPC's own, or what the class's convertDownlink(rule,
   * content) gives; throws with the reason when the class fails or gives nothing usable.
   */
  private async valueToSet(d: DeviceState, op: SnmpOperation, value: unknown, content: unknown): Promise<unknown> {
    if (!d.downlink || (op.method !== "set" && op.method !== "multiset")) return value;
    const r = await d.downlink.convert(op, content, settable);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const d of this.devices) {
      clearTimeout(d.timer);
      d.client.close();
    }
  }

  private report(d: DeviceState, key: string, problem: string | undefined): void {
    const last = d.problems.get(key);
    if (problem === last) return;
    const where = `${d.config.deviceName} (${d.config.ip}:${d.config.port})${key ? ` key "${key}"` : ""}`;
    if (problem) {
      d.problems.set(key, problem);
      this.ctx.log.error(`${where}: ${problem}`);
    } else {
      d.problems.delete(key);
      this.ctx.log.info(`${where}: answering again`);
    }
  }

  private async pollLoop(d: DeviceState): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      await this.pollOnce(d);
      if (this.stopped) return;
      const wait = Math.max(0, d.config.pollPeriod - (Date.now() - started));
      await new Promise<void>((r) => (d.timer = setTimeout(r, wait)));
    }
  }

  /** One poll: every request in order; a timeout abandons the poll (nothing sent), as upstream. */
  async pollOnce(d: DeviceState): Promise<void> {
    const responses: PollResponses = { attributes: {}, telemetry: {} };
    for (const [section, items] of [
      ["attributes", d.config.attributes],
      ["telemetry", d.config.telemetry],
    ] as const) {
      for (const item of items) {
        if (this.stopped) return;
        try {
          responses[section][item.key] = await d.client.execute(item);
          this.report(d, item.key, undefined);
        } catch (e) {
          if (this.stopped) return;
          if (e instanceof SnmpTimeoutError) {
            this.report(d, "", `poll abandoned: ${errorText(e)}`);
            return;
          }
          this.report(d, item.key, `${item.method} ${JSON.stringify(item.oid ?? item.scalarOid ?? "")} failed: ${errorText(e)}`);
        }
      }
    }
    this.report(d, "", undefined);
    if (d.custom) return this.convertCustom(d, d.custom, responses);
    const data = toConvertedData(d.config, responses);
    if (this.stopped || (!data.attributes && !data.telemetry)) return;
    await this.ctx.sendData(data);
  }

  /**
   * A poll through the user's class, called as upstream calls its SNMP converter: once per key
   * answered, with `[section, keyConfig]` and the response; results without a device name get the
   * device's. Everything the poll gave goes to storage at once.
   */
  private async convertCustom(d: DeviceState, custom: CustomUplink, responses: PollResponses): Promise<void> {
    const out = [];
    const device = { deviceName: d.config.deviceName, deviceType: d.config.deviceType };
    for (const [section, items] of [
      ["attributes", d.config.attributes],
      ["telemetry", d.config.telemetry],
    ] as const) {
      for (const item of items) {
        if (!(item.key in responses[section])) continue;
        out.push(...(await custom.convert([section, item], responses[section][item.key], { device, place: `key ${item.key}` })));
      }
    }
    if (this.stopped || out.length === 0) return;
    await this.ctx.sendData(out);
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    for (const d of this.devices.filter((x) => x.config.deviceName === update.device)) {
      for (const [key, value] of Object.entries(update.data)) {
        for (const rule of d.config.attributeUpdateRequests) {
          if (!safeRegex(rule.attributeFilter).test(key)) continue;
          try {
            await d.client.execute(rule, await this.valueToSet(d, rule, value, { device: update.device, data: { [key]: value } }));
            this.ctx.log.debug(`${d.config.deviceName}: ${rule.method} for attribute "${key}" done`);
          } catch (e) {
            this.ctx.log.error(`${d.config.deviceName}: ${rule.method} for attribute "${key}" failed: ${errorText(e)}`);
          }
        }
      }
    }
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (!req.device) return undefined;
    const d = this.devices.find((x) => x.config.deviceName === req.device);
    if (!d) return undefined;
    let op: SnmpOperation;
    let value: unknown = req.params;
    let waitS = 5;
    if (req.method === "get" || req.method === "set") {
      try {
        ({ op, value } = parseReservedParams(req.params));
      } catch (e) {
        return { error: errorText(e), success: false };
      }
    } else {
      // Upstream searches the RPC method name (as a pattern) inside each rule's requestFilter.
      const rule = d.config.serverSideRpcRequests.find((r) => safeRegex(req.method).test(r.requestFilter));
      if (!rule) {
        this.ctx.log.error(`${d.config.deviceName}: no serverSideRpcRequests rule for RPC method "${req.method}"`);
        return undefined;
      }
      op = rule;
      waitS = rule.timeout ?? 5;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const content = { device: req.device, data: { id: req.id, method: req.method, params: req.params } };
      const result = await Promise.race([
        this.valueToSet(d, op, value, content).then((v) => d.client.execute(op, v)),
        new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`no result within ${waitS} s`)), waitS * 1000))),
      ]);
      return { result: replyText(result) };
    } catch (e) {
      return { error: errorText(e), success: false };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A converter's value for a SET: text, a number, a bool, or an object ({type, value}, multiset mappings). */
function settable(v: unknown): unknown {
  if (v === undefined || v === null) throw new Error("no value to set");
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error("not a finite number");
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (typeof v === "object" && !(v instanceof Uint8Array)) {
    try {
      JSON.stringify(v);
    } catch (e) {
      throw new Error(`it cannot be written as text: ${errorText(e)}`);
    }
    return v;
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8");
  throw new Error(`a ${typeof v} is not a value SNMP can set`);
}

function safeRegex(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  }
}
