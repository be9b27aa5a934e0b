// Default uplink conversion, as upstream's SNMPUplinkConverter (spec §3): one ConvertedData per
// device poll; dicts and lists are flattened to text, falsy results are dropped (upstream quirk).

import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import type { SnmpResult, SnmpValue } from "./client.ts";

function text(v: SnmpValue | unknown): string {
  return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** One request's response as the value sent to the platform; `undefined` = dropped. */
export function convertResult(result: SnmpResult | undefined): unknown {
  if (result === null || result === undefined) return undefined;
  let out: unknown = result;
  if (Array.isArray(result)) {
    if (result.length > 0 && result.every((r) => r !== null && typeof r === "object")) {
      const merged: Record<string, string> = {};
      for (const row of result as Array<Record<string, SnmpValue>>) for (const [k, v] of Object.entries(row)) merged[k] = text(v);
      out = merged;
    } else {
      out = result.map(text).join(",");
    }
  } else if (typeof result === "object") {
    out = Object.fromEntries(Object.entries(result).map(([k, v]) => [k, text(v)]));
  }
  // Upstream sends only truthy values: 0, "", false and empty dicts never reach the platform.
  if (!out || (typeof out === "object" && Object.keys(out as object).length === 0)) return undefined;
  return out;
}

export interface PollResponses {
  attributes: Record<string, SnmpResult | undefined>;
  telemetry: Record<string, SnmpResult | undefined>;
}

export function toConvertedData(
  device: { deviceName: string; deviceType: string; reportStrategy?: ReportStrategyConfig },
  responses: PollResponses,
): ConvertedData {
  const pick = (from: Record<string, SnmpResult | undefined>) => {
    const out: Record<string, unknown> = {};
    for (const [k, r] of Object.entries(from)) {
      const v = convertResult(r);
      if (v !== undefined) out[k] = v;
    }
    return out;
  };
  const attributes = pick(responses.attributes);
  const values = pick(responses.telemetry);
  const data: ConvertedData = { deviceName: device.deviceName, deviceType: device.deviceType };
  if (Object.keys(attributes).length > 0) data.attributes = attributes;
  if (Object.keys(values).length > 0) data.telemetry = [{ values }];
  if (device.reportStrategy) data.deviceStrategy = device.reportStrategy;
  return data;
}
