// Upstream's default BLE uplink converters (spec §3), on raw bytes:
// - bytes (characteristics): each [i] / [a:b] in valueExpression becomes the decimal values of the
//   selected bytes written one after another, the rest of the text stays: "[0:2]cm" on 12 34 → "1852cm";
// - hex (advertisements): [a:b] is the integer of those bytes' hex, [i] the integer of the first hex
//   digit of byte i (upstream quirk); optional `compute` (a Python expression on `value`, evaluated by the
//   shared safe evaluator); the result is the last value computed. A range
//   that selects no bytes or ends past the received bytes is an error for that key (not a 0).

import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import { compileCompute } from "./compute.ts";
import type { BleKey } from "./schema.ts";

const SELECTOR = /\[(-?\d*)(?:(:)(-?\d*))?\]/g;

/** Python-style index/slice bounds on a length. */
function bounds(len: number, a: string, colon: string | undefined, b: string | undefined): [number, number] {
  const norm = (s: string, dflt: number) => {
    if (s === "") return dflt;
    const n = Number(s);
    return Math.min(len, Math.max(0, n < 0 ? len + n : n));
  };
  if (!colon) {
    const n = Number(a);
    const i = n < 0 ? len + n : n;
    if (a === "" || i < 0 || i >= len) throw new Error(`byte index [${a}] is outside the ${len} received byte(s)`);
    return [i, i + 1];
  }
  return [norm(a, 0), norm(b ?? "", len)];
}

export function bytesConvert(valueExpression: string, data: Uint8Array): string {
  return valueExpression.replace(SELECTOR, (_m, a: string, colon: string | undefined, b: string | undefined) => {
    const [s, e] = bounds(data.length, a, colon, b);
    return Array.from(data.subarray(s, e), (x) => String(x)).join("");
  });
}

const computeCache = new Map<string, (v: number) => unknown>();

export function hexConvert(valueExpression: string, data: Uint8Array, compute?: string): unknown {
  const hex = Buffer.from(data).toString("hex");
  let result: unknown;
  for (const m of valueExpression.matchAll(SELECTOR)) {
    const [, a = "", colon, b] = m;
    const [s, e] = bounds(data.length, a, colon, b);
    // A slice past the end of a short (truncated) frame would read as 0 or as fewer bytes and send a
    // wrong number: refuse it (upstream raises on the empty case only).
    const wantEnd = colon && b !== undefined && b !== "" ? Number(b) : undefined;
    if (colon && (e <= s || (wantEnd !== undefined && wantEnd > 0 && wantEnd > data.length))) {
      throw new Error(`byte range [${a}:${b ?? ""}] is outside the ${data.length} received byte(s)`);
    }
    const value = colon ? parseInt(hex.slice(s * 2, e * 2), 16) : parseInt(hex[s * 2]!, 16);
    if (compute) {
      let fn = computeCache.get(compute);
      if (!fn) computeCache.set(compute, (fn = compileCompute(compute)));
      result = fn(value);
    } else result = value;
  }
  return result;
}

export interface KeyValue {
  section: "telemetry" | "attributes";
  key: BleKey;
}

/** Convert the keys that read from `data`; per-key failures go to `onError` and drop that key only. */
export function convertKeys(
  device: { name: string; deviceType: string; type?: "bytes" | "hex"; reportStrategy?: ReportStrategyConfig },
  keys: KeyValue[],
  data: Uint8Array,
  onError: (key: string, e: Error) => void,
): ConvertedData | undefined {
  const out: ConvertedData = { deviceName: device.name, deviceType: device.deviceType };
  const attributes: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  for (const { section, key } of keys) {
    const kind = device.type ?? (key.dataSourceType === "advertisement" ? "hex" : "bytes");
    try {
      const v = kind === "hex" ? hexConvert(key.valueExpression, data, key.compute) : bytesConvert(key.valueExpression, data);
      if (v === undefined) continue;
      (section === "attributes" ? attributes : values)[key.key] = v;
    } catch (e) {
      onError(key.key, e as Error);
    }
  }
  if (Object.keys(attributes).length) out.attributes = attributes;
  if (Object.keys(values).length) out.telemetry = [{ values }];
  if (!out.attributes && !out.telemetry) return undefined;
  if (device.reportStrategy) out.deviceStrategy = device.reportStrategy;
  return out;
}
