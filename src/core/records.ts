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
  const json = JSON.stringify(rec);
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
    if (cur.attributes || cur.telemetry) out.push(JSON.stringify(cur));
    cur = { ...base };
    size = baseSize;
  };
  for (const [k, v] of Object.entries(rec.attributes ?? {})) {
    const s = Buffer.byteLength(JSON.stringify({ [k]: v }));
    if (size + s > maxBytes && (cur.attributes || cur.telemetry)) flush();
    (cur.attributes ??= {})[k] = v;
    size += s;
  }
  for (const entry of rec.telemetry ?? []) {
    // A fresh target per source entry (and per flush): entries sharing a ts are never merged.
    let target: { ts: number; values: Record<string, unknown> } | undefined;
    for (const [k, v] of Object.entries(entry.values)) {
      const s = Buffer.byteLength(JSON.stringify({ [k]: v })) + 30;
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

export function countDatapoints(rec: StoredRecordShape): number {
  let n = 0;
  if (rec.attributes) n += Object.keys(rec.attributes).length;
  for (const e of rec.telemetry ?? []) n += Object.keys(e.values).length;
  return n;
}
