// Pure conversions between the protocol's key/value messages and the gateway's converted data
// (spec grpc.md §4.4 uplink, §4.5 downlink), with upstream's bugs fixed as §5 recommends.

import type { ConvertedData, TelemetryEntry } from "../../core/model.ts";
import type { AttributesMsg, KeyValueProto, TelemetryMsg, TsKvProto } from "./wire.ts";

/**
 * An int64 as the loader gives it (decimal text): a number when it is exact as one, else the
 * decimal text itself, so no digit is lost (the platform then stores it as a string).
 */
export function int64Value(v: string | number | undefined): number | string {
  if (v === undefined) return 0;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : String(v);
}

/** Value of one KeyValueProto by its type; undefined for a type this protocol does not define. */
export function kvValue(kv: KeyValueProto): unknown {
  switch (kv.type ?? "BOOLEAN_V") {
    case "BOOLEAN_V":
      return kv.bool_v ?? false;
    case "LONG_V":
      return int64Value(kv.long_v);
    case "DOUBLE_V":
      return kv.double_v ?? 0;
    case "STRING_V":
      return kv.string_v ?? "";
    case "JSON_V": {
      // upstream forwards the text (§5 #9); the connector meant a structure: parse it, raw text if it does not parse
      const text = kv.json_v ?? "";
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    }
    default:
      return undefined;
  }
}

/** Keys with a value; keys whose type is unknown are collected in `bad` (the caller logs them). */
function kvMap(list: KeyValueProto[] | undefined, bad: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) {
    if (!kv.key) continue;
    const v = kvValue(kv);
    if (v === undefined) bad.push(`${kv.key} (type ${String(kv.type)})`);
    else out[kv.key] = v;
  }
  return out;
}

/** ts in ms; 0 or absent = "now" (the gateway stamps it). */
function tsOf(ts: string | number | undefined): number | undefined {
  const n = Number(ts ?? 0);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** One record per TelemetryMsg / AttributesMsg; devices without a name or values are dropped and named in `dropped`. */
export function uplinkRecords(telemetry: TelemetryMsg[] | undefined, attributes: AttributesMsg[] | undefined, dropped: string[]): ConvertedData[] {
  const out: ConvertedData[] = [];
  for (const t of telemetry ?? []) {
    const entries: TelemetryEntry[] = [];
    for (const list of t.msg?.tsKvList ?? []) {
      const values = kvMap(list.kv, dropped);
      if (Object.keys(values).length === 0) continue;
      const ts = tsOf(list.ts);
      entries.push(ts === undefined ? { values } : { ts, values });
    }
    if (!t.deviceName) dropped.push("telemetry without deviceName");
    else if (entries.length === 0) dropped.push(`telemetry of ${t.deviceName} without values`);
    else out.push({ deviceName: t.deviceName, telemetry: entries });
  }
  for (const a of attributes ?? []) {
    const values = kvMap(a.msg?.kv, dropped);
    if (!a.deviceName) dropped.push("attributes without deviceName");
    else if (Object.keys(values).length === 0) dropped.push(`attributes of ${a.deviceName} without values`);
    else out.push({ deviceName: a.deviceName, attributes: values });
  }
  return out;
}

/** A JSON value as KeyValueProto (§4.5): arrays and null as JSON_V, not upstream's typeless entry (§5 #6). */
export function toKv(key: string, value: unknown): KeyValueProto {
  if (typeof value === "boolean") return { key, type: "BOOLEAN_V", bool_v: value };
  if (typeof value === "number") {
    if (Number.isInteger(value)) return { key, type: "LONG_V", long_v: String(value) };
    return { key, type: "DOUBLE_V", double_v: value };
  }
  if (typeof value === "bigint") return { key, type: "LONG_V", long_v: value.toString() };
  if (typeof value === "string") return { key, type: "STRING_V", string_v: value };
  return { key, type: "JSON_V", json_v: JSON.stringify(value ?? null) };
}

/** Shared-attribute update → notification: `{deleted:[…]}` alone → sharedDeleted, else one sharedUpdated per key. */
export function attributeNotification(data: Record<string, unknown>, now = Date.now()): { sharedUpdated?: TsKvProto[]; sharedDeleted?: string[] } {
  const keys = Object.keys(data);
  if (keys.length === 1 && keys[0] === "deleted" && Array.isArray(data.deleted)) return { sharedDeleted: data.deleted.map(String) };
  return { sharedUpdated: keys.map((k) => ({ ts: String(now), kv: toKv(k, data[k]) })) };
}

/** RPC params as text (§4.5): a string as is, anything else as JSON (not Python's str(), §5 #11). */
export function rpcParamsText(params: unknown): string {
  if (typeof params === "string") return params;
  return JSON.stringify(params ?? null);
}

/** The connector's RPC reply `data`: parsed when it is JSON, else the text. */
export function rpcReplyValue(data: string | undefined): unknown {
  const text = data ?? "";
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
