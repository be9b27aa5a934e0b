// ConvertedData → storage records. A record is the compact JSON of upstream's record shape
// {"deviceName","deviceType","attributes":{..},"telemetry":[{ts,values}]}, split so that each
// stays under the effective payload limit.

import type { ConvertedData, TelemetryEntry } from "./model.ts";

export interface StoredRecordShape {
  deviceName: string;
  deviceType: string;
  attributes?: Record<string, unknown>;
  telemetry?: Array<{ ts: number; values: Record<string, unknown> }>;
}

/**
 * Stamp entries without ts, drop empty ones, and serialise to one or more records under
 * `maxBytes`. Entries are never merged, so values converted in the same millisecond stay distinct
 * (upstream merged equal timestamps and lost values).
 */
export function toRecords(data: ConvertedData, deviceType: string, now: number, maxBytes: number): string[] {
  const telemetry: Array<{ ts: number; values: Record<string, unknown> }> = [];
  for (const e of data.telemetry ?? []) {
    if (!hasKeys(e.values)) continue;
    telemetry.push({ ts: validTs(e) ?? now, values: e.values });
  }
  const attributes = data.attributes && hasKeys(data.attributes) ? data.attributes : undefined;
  const rec: StoredRecordShape = { deviceName: data.deviceName, deviceType };
  if (attributes) rec.attributes = attributes;
  if (telemetry.length) rec.telemetry = telemetry;
  const json = exactJson(rec);
  if (json.length <= maxBytes || Buffer.byteLength(json) <= maxBytes) return [json];
  return split(rec, maxBytes);
}

function validTs(e: TelemetryEntry): number | undefined {
  const ts = e.ts;
  return typeof ts === "number" && Number.isFinite(ts) ? Math.trunc(ts) : undefined;
}

function hasKeys(o: Record<string, unknown>): boolean {
  for (const _ in o) return true;
  return false;
}

/** Split into records, attributes first, then telemetry data points one by one (as upstream). */
function split(rec: StoredRecordShape, maxBytes: number): string[] {
  const out: string[] = [];
  const base = { deviceName: rec.deviceName, deviceType: rec.deviceType };
  const baseSize = Buffer.byteLength(JSON.stringify(base)) + 40;
  let cur: StoredRecordShape = { ...base };
  let size = baseSize;
  const flush = () => {
    if (cur.attributes || cur.telemetry) out.push(exactJson(cur));
    cur = { ...base };
    size = baseSize;
  };
  for (const [k, v] of Object.entries(rec.attributes ?? {})) {
    const s = Buffer.byteLength(exactJson({ [k]: v }));
    if (size + s > maxBytes && (cur.attributes || cur.telemetry)) flush();
    (cur.attributes ??= {})[k] = v;
    size += s;
  }
  for (const entry of rec.telemetry ?? []) {
    // A fresh target per source entry (and per flush): entries sharing a ts are never merged.
    let target: { ts: number; values: Record<string, unknown> } | undefined;
    for (const [k, v] of Object.entries(entry.values)) {
      const s = Buffer.byteLength(exactJson({ [k]: v })) + 30;
      if (size + s > maxBytes && (cur.attributes || cur.telemetry)) {
        flush();
        target = undefined;
      }
      if (!target) {
        target = { ts: entry.ts, values: {} };
        (cur.telemetry ??= []).push(target);
      }
      target.values[k] = v;
      size += s;
    }
  }
  flush();
  return out;
}

// Integers beyond ±2^53 (OPC-UA Int64/UInt64, ...) reach the core as bigint. They are written as
// exact JSON integers, as upstream's json.dumps writes Python ints, and ThingsBoard keeps them as
// longs (or as text beyond the long range). JSON.rawJSON and JSON.parse's source text (both in Bun)
// do this without a hand-written serialiser.
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
const bigintAsDigits = (_k: string, v: unknown) => (typeof v === "bigint" ? rawJSON(v.toString()) : v);
const LONG_DIGITS = /\d{16}/;

/** JSON.stringify that writes bigint as exact JSON integers (the replacer only runs when needed). */
export function exactJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return JSON.stringify(value, bigintAsDigits);
  }
}

/** JSON.parse that keeps integers beyond ±2^53 exact (as bigint), so `exactJson` writes them back unchanged. */
export function parseExact(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_k, v, ctx?: { source?: string }) =>
    typeof v === "number" && !Number.isSafeInteger(v) && ctx?.source && /^-?\d+$/.test(ctx.source) ? BigInt(ctx.source) : v,
  );
}

export function countDatapoints(rec: StoredRecordShape): number {
  let n = 0;
  if (rec.attributes) n += Object.keys(rec.attributes).length;
  for (const e of rec.telemetry ?? []) n += Object.keys(e.values).length;
  return n;
}
