// Downlink (spec §5): attribute updates write nodes with the node's own data type; RPC calls methods
// with typed arguments (types from the method's InputArguments, else from the config), reserved
// get/set read and write nodes, and connector-level RPC calls a method on every device node.

import { AttributeIds, DataType, coerceNodeId, type ClientSession, type NodeId, type Variant } from "node-opcua-client";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { Browser } from "./browse.ts";
import type { Device } from "./devices.ts";
import { parseRef, parseSegment, splitPath, isNodeId } from "./paths.ts";
import { dataTypeFromName, guessFromString, guessVariant, jsonToVariant, variantToJson } from "./values.ts";

export interface Link {
  session: ClientSession;
  browser: Browser;
  devices: Device[];
  log: Logger;
}

const typeCache = new WeakMap<ClientSession, Map<string, { dataType: DataType; isArray: boolean }>>();

async function nodeType(session: ClientSession, nodeId: NodeId): Promise<{ dataType: DataType; isArray: boolean }> {
  let cache = typeCache.get(session);
  if (!cache) typeCache.set(session, (cache = new Map()));
  const hit = cache.get(nodeId.toString());
  if (hit) return hit;
  const dataType = await session.getBuiltInDataType(nodeId);
  const rank = await session.read({ nodeId, attributeId: AttributeIds.ValueRank });
  const t = { dataType, isArray: typeof rank.value.value === "number" && rank.value.value > 0 };
  cache.set(nodeId.toString(), t);
  return t;
}

/** Write a JSON value to a node using the node's data type; returns the value written. */
export async function writeValue(session: ClientSession, nodeId: NodeId, value: unknown): Promise<unknown> {
  const { dataType, isArray } = await nodeType(session, nodeId);
  const variant: Variant =
    dataType === DataType.Null || dataType === DataType.Variant ? guessVariant(value) : jsonToVariant(dataType, typeof value === "string" && isArray ? parseArray(value) : value, isArray);
  const status = await session.write({ nodeId, attributeId: AttributeIds.Value, value: { value: variant } });
  if (status.isNotGood()) throw new Error(`write to ${nodeId.toString()} failed: ${status.name}`);
  return variantToJson(variant);
}

function parseArray(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text.split(",").map((s) => s.trim());
  }
}

/** Resolve a reference text relative to a device (node id, absolute path, relative path, or a key). */
async function resolveFor(link: Link, device: Device, text: string): Promise<NodeId | undefined> {
  const ref = parseRef(text);
  if (ref.kind === "relative" && ref.segments.length === 1) {
    const byKey = device.keys.find((k) => k.key === ref.segments[0]!.name && k.nodeId);
    if (byKey) return byKey.nodeId;
  }
  return link.browser.resolve(ref, device.nodeId);
}

export async function onAttributeUpdate(link: Link, update: AttributeUpdate): Promise<void> {
  const device = link.devices.find((d) => d.name === update.device);
  if (!device) return link.log.warn(`attribute update for unknown device "${update.device}"`);
  const section = device.mapping.attributes_updates;
  if (section.length === 0) return link.log.error(`device "${device.name}": no attributes_updates section; update ${JSON.stringify(update.data)} ignored`);
  for (const [key, value] of Object.entries(update.data)) {
    const conf = section.find((u) => u.key === key);
    if (!conf) {
      link.log.warn(`device "${device.name}": attribute "${key}" is not listed in attributes_updates; ignored`);
      continue;
    }
    try {
      const nodeId = await resolveFor(link, device, conf.value);
      if (!nodeId) throw new Error(`node ${conf.value} not found`);
      await writeValue(link.session, nodeId, value);
    } catch (e) {
      link.log.error(`device "${device.name}": writing "${key}" = ${JSON.stringify(value)} failed: ${errorText(e)}`);
    }
  }
}

async function findMethod(link: Link, objectId: NodeId, name: string): Promise<NodeId | undefined> {
  if (isNodeId(name)) return coerceNodeId(name);
  const kids = await link.browser.childrenOf(objectId);
  const seg = parseSegment(name);
  return kids.find((c) => c.nodeClass === 4 && c.name === seg.name && (seg.ns === undefined || seg.ns === c.nsIndex))?.nodeId;
}

async function inputTypes(link: Link, methodId: NodeId): Promise<DataType[] | undefined> {
  const kids = await link.browser.childrenOf(methodId);
  const inArgs = kids.find((c) => c.name === "InputArguments");
  if (!inArgs) return [];
  const dv = await link.session.read({ nodeId: inArgs.nodeId, attributeId: AttributeIds.Value });
  const list = dv.value?.value as Array<{ dataType: NodeId }> | null;
  if (!list) return undefined;
  return Promise.all(list.map(async (a) => (a.dataType.namespace === 0 && Number(a.dataType.value) <= 25 ? (Number(a.dataType.value) as DataType) : DataType.Variant)));
}

/** Call a method of a device node; returns the output (single value, or a list for several). */
export async function callMethod(link: Link, objectId: NodeId, name: string, args: Array<{ type?: string; value: unknown }>): Promise<unknown> {
  const methodId = await findMethod(link, objectId, name);
  if (!methodId) throw new Error(`method ${name} not found on ${objectId.toString()}`);
  const types = await inputTypes(link, methodId).catch(() => undefined);
  const inputArguments = args.map((a, i) => {
    const t = types?.[i] ?? dataTypeFromName(a.type);
    return t === undefined || t === DataType.Variant ? guessVariant(a.value) : jsonToVariant(t, a.value);
  });
  const res = await link.session.call({ objectId, methodId, inputArguments });
  if (res.statusCode.isNotGood()) throw new Error(`call ${name}: ${res.statusCode.name}`);
  const out = (res.outputArguments ?? []).map(variantToJson);
  return out.length === 0 ? null : out.length === 1 ? out[0] : out;
}

export async function onRpc(link: Link, req: RpcRequest, connectorType = "opcua"): Promise<RpcReply | undefined> {
  const params = unwrapParams(req.params);
  if (!req.device) {
    const method = req.method.startsWith(`${connectorType}_`) ? req.method.slice(connectorType.length + 1) : req.method;
    const args = (params as { arguments?: Array<{ type?: string; value: unknown }> } | undefined)?.arguments ?? [];
    return Promise.all(
      link.devices.map(async (d) => {
        try {
          return { result: await callMethod(link, d.nodeId, method, args), device_name: d.name };
        } catch (e) {
          return { error: errorText(e), device_name: d.name };
        }
      }),
    );
  }
  const device = link.devices.find((d) => d.name === req.device);
  if (!device) return { result: { error: "Device not found" } };
  const method = req.method.toLowerCase();
  if (method === "get" || method === "set") return reservedRpc(link, device, method, params);
  const conf = device.mapping.rpc_methods.find((m) => m.method === req.method);
  if (!conf) return { result: { error: "Requested rpc method is not found in config" } };
  let args: Array<{ type?: string; value: unknown }>;
  if (params !== undefined && params !== null && params !== "" && !Array.isArray(params)) {
    return { result: { error: "The arguments must be specified in the square quotes []" } };
  }
  const given = (params as unknown[] | undefined) ?? [];
  if (given.length > 0 && given.length === conf.arguments.length) {
    args = given.map((v, i) => ({ type: conf.arguments[i]!.type, value: v }));
  } else if (given.length === 0 && conf.arguments.every((a) => a.value !== undefined)) {
    args = conf.arguments;
  } else if (given.length > 0) {
    return { result: { error: `Expected ${conf.arguments.length} arguments, but got ${given.length}` } };
  } else {
    return { result: { error: "You must either define values for arguments in config or along with rpc request" } };
  }
  try {
    return { result: { result: await callMethod(link, device.nodeId, conf.method, args) } };
  } catch (e) {
    return { result: { error: errorText(e) } };
  }
}

function unwrapParams(p: unknown): unknown {
  // Old form `{method, params, id}` wrapped into `data`.
  if (p && typeof p === "object" && !Array.isArray(p) && "data" in p && Object.keys(p).length === 1) return (p as { data: unknown }).data;
  return p;
}

const SET_DELIMITERS = ["; ", ";=", "=", " "];

async function reservedRpc(link: Link, device: Device, method: "get" | "set", params: unknown): Promise<RpcReply> {
  const text = typeof params === "string" ? params : params && typeof params === "object" ? objectParams(params) : String(params ?? "");
  let target = text.trim();
  let value: unknown;
  if (method === "set") {
    const skip = nodeIdPrefixLength(target);
    const delim = SET_DELIMITERS.find((d) => target.indexOf(d, skip) >= 0);
    if (!delim) return { error: `Could not find identifier in string ${text}` };
    const at = target.indexOf(delim, skip);
    value = guessFromString(target.slice(at + delim.length).trim());
    target = target.slice(0, at);
  }
  target = target.replace(/[;\s]+$/, "");
  try {
    const nodeId = await resolveFor(link, device, isNodeId(target) || target.includes("${") ? target : `\${${escapePlain(target)}}`);
    if (!nodeId) return { error: `Could not find identifier in string ${target}` };
    if (method === "get") {
      const dv = await link.session.read({ nodeId, attributeId: AttributeIds.Value });
      if (dv.statusCode.isNotGood()) return { error: `read ${nodeId.toString()}: ${dv.statusCode.name}` };
      return { result: { value: variantToJson(dv.value) } };
    }
    return { result: { value: await writeValue(link.session, nodeId, value) } };
  } catch (e) {
    return { error: errorText(e) };
  }
}

function objectParams(p: object): string {
  const o = p as Record<string, unknown>;
  if (typeof o.path === "string") return o.value !== undefined ? `${o.path} ${o.value}` : o.path;
  return JSON.stringify(p);
}

/** Length of a leading `ns=2;s=` (a node id itself contains ";" and "=", which are not delimiters). */
function nodeIdPrefixLength(text: string): number {
  const m = /^\s*(ns=\d+;)?[isgb]=/.exec(text);
  return m ? m[0].length : 0;
}

function escapePlain(path: string): string {
  return splitPath(path).join("\\.");
}
