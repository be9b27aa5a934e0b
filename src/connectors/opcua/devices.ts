// Device discovery (spec §1, §2.3): each mapping's deviceNodePattern is resolved to device nodes,
// their names/profiles are evaluated, and every configured key is resolved to a node.

import { AttributeIds, coerceNodeId, type ClientSession, type NodeId } from "node-opcua-client";
import type { CustomUplink } from "../../common/converters/custom-uplink.ts";
import type { ReportStrategyConfig } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import { ROOT, type Browser } from "./browse.ts";
import { fillTemplate, isNodeId, parseRef, parseSegment, splitPath, templateParts, type NodeRef, type PathSegment } from "./paths.ts";
import type { OpcuaKey, OpcuaMapping } from "./schema.ts";
import { dataValueToJson } from "./values.ts";

export type TimestampLocation = "gateway" | "sourcetimestamp" | "servertimestamp";

export interface DeviceKey {
  key: string;
  section: "attributes" | "telemetry";
  refText: string;
  ref?: NodeRef;
  /** Resolved node; undefined while the node cannot be found. */
  nodeId?: NodeId;
  constant?: unknown;
  tsLocation: TimestampLocation;
  strategy?: ReportStrategyConfig;
  /** Set when the node failed (unresolved, or read/monitor status says it is gone); logged once. */
  missing: boolean;
}

export interface Device {
  name: string;
  type: string;
  nodeId: NodeId;
  mapping: OpcuaMapping;
  keys: DeviceKey[];
  /** The user's converter class (`converter`), set by the connector when it could be loaded. */
  custom?: CustomUplink;
}

/**
 * Where a mapping's device nodes are, parsed before any I/O: one node id, or a browse path below
 * Root. Throws on a pattern that does not parse. Discovery and `run --check` (the descriptor's
 * prepare) both parse it here.
 */
export function deviceNodeTarget(m: OpcuaMapping): { nodeId: NodeId } | { path: PathSegment[] } {
  const pattern = m.deviceNodePattern;
  const source = m.deviceNodeSource ?? (isNodeId(pattern) ? "identifier" : "path");
  const inner = pattern.replace(/^\$\{|\}$/g, "");
  if (source === "identifier" || isNodeId(inner)) return { nodeId: coerceNodeId(inner.trim()) };
  const segs = splitPath(inner);
  return { path: (segs[0] === "Root" ? segs.slice(1) : segs).map(parseSegment) };
}

/** Device nodes for one mapping entry. */
export async function findDeviceNodes(browser: Browser, m: OpcuaMapping): Promise<NodeId[]> {
  const target = deviceNodeTarget(m);
  return "nodeId" in target ? [target.nodeId] : browser.resolveSegments(ROOT, target.path);
}

async function readText(session: ClientSession, nodeId: NodeId): Promise<string | undefined> {
  const dv = await session.read({ nodeId, attributeId: AttributeIds.Value });
  if (dv.statusCode.isNotGood()) return undefined;
  const v = dataValueToJson(dv, nodeId.toString());
  return v === null || v === undefined ? undefined : String(v);
}

/** Evaluate a name/profile expression: constant text, or `${...}` parts replaced by node values. */
async function evalExpression(browser: Browser, session: ClientSession, source: string, expr: string, base: NodeId): Promise<string | undefined> {
  const parts = templateParts(expr);
  if (source === "constant" || parts.length === 0) {
    if (source === "identifier" && isNodeId(expr)) return readText(session, coerceNodeId(expr.trim()));
    return expr;
  }
  const values = new Map<string, string>();
  for (const inner of parts) {
    const nodeId = await browser.resolve(parseRef(`\${${inner}}`), base);
    const text = nodeId ? await readText(session, nodeId) : undefined;
    if (text === undefined) return undefined;
    values.set(inner, text);
  }
  return fillTemplate(expr, (inner) => values.get(inner) ?? "");
}

/** A mapping's keys with their node references parsed (before any I/O; throws on one that does not parse). */
export function makeKeys(m: OpcuaMapping): DeviceKey[] {
  const one = (k: OpcuaKey, section: DeviceKey["section"]): DeviceKey => {
    const base = { key: k.key, section, refText: String(k.value), tsLocation: (k.timestampLocation ?? "gateway") as TimestampLocation, strategy: k.reportStrategy as ReportStrategyConfig | undefined, missing: false };
    if (k.type === "constant") return { ...base, constant: k.value };
    return { ...base, ref: parseRef(String(k.value)) };
  };
  return [...m.attributes.map((k) => one(k, "attributes")), ...m.timeseries.map((k) => one(k, "telemetry"))];
}

/** Resolve key nodes that are not resolved yet; returns the keys that became resolvable. */
export async function resolveKeys(browser: Browser, device: Device, log: Logger): Promise<DeviceKey[]> {
  const fresh: DeviceKey[] = [];
  for (const k of device.keys) {
    if (!k.ref || k.nodeId) continue;
    try {
      k.nodeId = await browser.resolve(k.ref, device.nodeId);
    } catch {
      k.nodeId = undefined;
    }
    if (k.nodeId) {
      if (k.missing) log.info(`device "${device.name}": node for key "${k.key}" (${k.refText}) found again`);
      k.missing = false;
      fresh.push(k);
    } else if (!k.missing) {
      k.missing = true;
      log.warn(`device "${device.name}": cannot find node ${k.refText} for key "${k.key}"; skipped until it appears`);
    }
  }
  return fresh;
}

/** Discover all devices of all mappings. Errors per mapping are logged and that mapping skipped. */
export async function discoverDevices(browser: Browser, session: ClientSession, mappings: OpcuaMapping[], log: Logger): Promise<Device[]> {
  const devices: Device[] = [];
  for (const m of mappings) {
    let nodes: NodeId[];
    try {
      nodes = await findDeviceNodes(browser, m);
    } catch (e) {
      log.error(`mapping "${m.deviceNodePattern}": ${errorText(e)}`);
      continue;
    }
    if (nodes.length === 0) log.warn(`mapping "${m.deviceNodePattern}": no matching device node found (will retry on the next scan)`);
    for (const nodeId of nodes) {
      const info = m.deviceInfo;
      const name = await evalExpression(browser, session, info.deviceNameExpressionSource, info.deviceNameExpression, nodeId).catch(() => undefined);
      if (!name) {
        log.warn(`mapping "${m.deviceNodePattern}": device name "${info.deviceNameExpression}" could not be evaluated for node ${nodeId.toString()}`);
        continue;
      }
      const type = (await evalExpression(browser, session, info.deviceProfileExpressionSource, info.deviceProfileExpression, nodeId).catch(() => undefined)) ?? "default";
      const device: Device = { name, type, nodeId, mapping: m, keys: makeKeys(m) };
      await resolveKeys(browser, device, log);
      devices.push(device);
    }
  }
  return devices;
}
