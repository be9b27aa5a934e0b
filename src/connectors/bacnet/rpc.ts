// RPC request parsing for the BACnet connector (spec §5): the reserved `get`/`set` methods with
// "objectType=..;objectId=..;propertyId=..;[priority=..;][value=..;]" params, and configured
// serverSideRpc entries. Pure: it turns a request into a read or write plan, or an error text.

import { expandObjectIds, objectTypeNumber, propertyNumber } from "./names.ts";
import type { BacnetRpcItem } from "./schema.ts";

export const RPC_OBJECT_TYPES = ["analogInput", "analogOutput", "analogValue", "binaryInput", "binaryOutput", "binaryValue"];

export interface RpcPlan {
  kind: "read" | "write";
  objectType: number;
  instance: number;
  propertyId: number;
  priority?: number;
  value?: unknown;
  timeoutMs?: number;
}

export type PlanResult = { plan: RpcPlan } | { error: string };

const GET_SCHEMA = "objectType=<objectType>;objectId=<objectId>;propertyId=<propertyId>;";
const SET_SCHEMA = "objectType=<objectType>;objectId=<objectId>;propertyId=<propertyId>;[priority=<1-16>;]value=<value>;";

function checkType(objectType: string, anyType = false): number | string {
  if (anyType) return objectTypeNumber(objectType) ?? `Invalid objectType: ${objectType} (a camelCase BACnet object type such as analogInput or device)`;
  if (!RPC_OBJECT_TYPES.includes(objectType)) return `Invalid objectType: ${objectType}. Allowed object types: ${RPC_OBJECT_TYPES.join(", ")}`;
  return objectTypeNumber(objectType)!;
}

/** Reserved `get` / `set`. `anyType`: every object type (connector RPC), not only upstream's six. */
export function planReserved(method: "get" | "set", params: unknown, anyType = false): PlanResult {
  if (params === undefined || params === null || (typeof params === "string" && params.trim() === "")) return { error: "No params section found in RPC request" };
  const schema = method === "get" ? GET_SCHEMA : SET_SCHEMA;
  const mismatch = { error: `The requested RPC does not match with the schema: ${schema}` };
  if (typeof params !== "string") return mismatch;
  const fields = new Map<string, string>();
  for (const part of params.split(";")) {
    if (!part.trim()) continue;
    const eq = part.indexOf("=");
    if (eq <= 0) return mismatch;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const objectType = fields.get("objectType"), objectId = fields.get("objectId"), propertyId = fields.get("propertyId");
  if (!objectType || objectId === undefined || !propertyId) return mismatch;
  if (method === "set" && !fields.has("value") && !fields.has("priority")) return mismatch;
  const type = checkType(objectType, anyType);
  if (typeof type === "string") return { error: type };
  const ids = expandObjectIds(objectId);
  if (!Array.isArray(ids) || ids.length !== 1) return { error: `Invalid objectId: ${objectId}` };
  const prop = propertyNumber(propertyId);
  if (prop === undefined) return { error: `Invalid propertyId: ${propertyId}` };
  const plan: RpcPlan = { kind: method === "get" ? "read" : "write", objectType: type, instance: ids[0]!, propertyId: prop };
  if (method === "set") {
    if (fields.has("priority")) {
      const p = Number(fields.get("priority"));
      if (!Number.isInteger(p) || p < 1 || p > 16) return { error: `Invalid priority: ${fields.get("priority")} (1-16)` };
      plan.priority = p;
    }
    // No value with a priority = relinquish that priority slot (write Null).
    plan.value = fields.has("value") ? fields.get("value") : null;
  }
  return { plan };
}

/** A configured serverSideRpc entry: params are the value for writeProperty. */
export function planConfigured(item: BacnetRpcItem, params: unknown): PlanResult {
  const type = checkType(item.objectType);
  if (typeof type === "string") return { error: type };
  if (item.requestType !== "readProperty" && item.requestType !== "writeProperty")
    return { error: `Invalid requestType: ${item.requestType}. Allowed: readProperty, writeProperty` };
  const ids = expandObjectIds(item.objectId);
  if (!Array.isArray(ids) || ids.length !== 1) return { error: `Invalid objectId: ${String(item.objectId)}` };
  const propName = Array.isArray(item.propertyId) ? item.propertyId[0] : item.propertyId;
  const prop = propName !== undefined ? propertyNumber(propName) : undefined;
  if (prop === undefined) return { error: `Invalid propertyId: ${String(item.propertyId)}` };
  const plan: RpcPlan = { kind: item.requestType === "readProperty" ? "read" : "write", objectType: type, instance: ids[0]!, propertyId: prop, timeoutMs: item.requestTimeout };
  if (plan.kind === "write") {
    plan.priority = item.priority;
    plan.value = params ?? null;
  }
  return { plan };
}

export const CONNECTOR_RPC_SCHEMA =
  "params {address: \"host[:port]\" | device: \"<name>\", objectType, objectId, propertyId, [priority], [value]} or the string \"address=<host[:port]>;objectType=..;objectId=..;propertyId=..;[priority=..;][value=..;]\"";

/**
 * Connector RPC `bacnet_get` / `bacnet_set` (tb-gw; upstream has none): one read or write on any
 * device, named by its address or by the name of a discovered device. Params as an object or as
 * the reserved-method string with an extra `address=` (or `device=`) field.
 */
export function planConnectorRpc(method: string, params: unknown): { plan: RpcPlan; address?: string; device?: string } | { error: string } | undefined {
  const m = /^bacnet_(get|set)$/.exec(method.trim());
  if (!m) return undefined;
  const op = m[1] as "get" | "set";
  let fields: Record<string, unknown>;
  if (typeof params === "string") {
    fields = {};
    for (const part of params.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  } else if (params && typeof params === "object" && !Array.isArray(params)) fields = params as Record<string, unknown>;
  else return { error: `${method}: no params; expected ${CONNECTOR_RPC_SCHEMA}` };
  const { address, device, value, ...rest } = fields;
  if (typeof address !== "string" && typeof device !== "string") return { error: `${method}: params need "address" (host[:port]) or "device" (a discovered device name)` };
  if (typeof address === "string" && !/^\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?$/.test(address.trim())) return { error: `${method}: invalid address "${address}" (expected IPv4 host[:port])` };
  // Reuse the reserved-method parser so both accept the same fields and give the same errors.
  const text = Object.entries(rest)
    .filter(([k]) => ["objectType", "objectId", "propertyId", "priority"].includes(k))
    .map(([k, v]) => `${k}=${String(v)};`)
    .join("");
  const planned = planReserved(op, text + (value !== undefined && value !== null ? "value=x;" : ""), true);
  if ("error" in planned) return { error: planned.error.replace(GET_SCHEMA, CONNECTOR_RPC_SCHEMA).replace(SET_SCHEMA, CONNECTOR_RPC_SCHEMA) };
  if (op === "set") planned.plan.value = value ?? null;
  return { plan: planned.plan, address: typeof address === "string" ? address.trim() : undefined, device: typeof device === "string" ? device : undefined };
}
