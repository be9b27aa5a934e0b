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

/**
 * Split into records of at most `maxBytes` (sizes counted exactly): attributes first, then whole
 * telemetry entries. A record is cut between entries, never inside one, unless an entry is larger
 * than a record alone; only then are its keys spread over several entries with its ts.
 * (Upstream cuts data point by data point wherever the limit falls: a row straddling a cut reached
 * the platform as two half entries with the same ts, in two messages, e.g. 190 of 200,000 rows
 * when each device's message carried 1,000 rows.)
 */
function split(rec: StoredRecordShape, maxBytes: number): string[] {
  const out = new RecordWriter(rec.deviceName, rec.deviceType, maxBytes);
  for (const [k, v] of Object.entries(rec.attributes ?? {})) {
    const kv = member(k, v);
    if (kv !== undefined) out.attribute(kv);
  }
  for (const entry of rec.telemetry ?? []) {
    const whole = exactJson(entry);
    if (out.fitsAlone(whole)) out.entry(whole);
    else splitEntry(out, entry);
  }
  return out.finish();
}

/** `"key":value`, or undefined for a value JSON leaves out (as JSON.stringify drops the key). */
function member(k: string, v: unknown): string | undefined {
  const json = exactJson(v) as string | undefined;
  return json === undefined ? undefined : `${JSON.stringify(k)}:${json}`;
}

/** An entry larger than a record alone: its keys in pieces `{ts, values:{..}}`, each filling what the record has left. */
function splitEntry(out: RecordWriter, entry: { ts: number; values: Record<string, unknown> }): void {
  const head = `{"ts":${exactJson(entry.ts)},"values":{`;
  let kvs: string[] = [];
  let size = Buffer.byteLength(head) + 2;
  for (const [k, v] of Object.entries(entry.values)) {
    const kv = member(k, v);
    if (kv === undefined) continue;
    const len = Buffer.byteLength(kv) + (kvs.length > 0 ? 1 : 0);
    if (!out.hasRoomFor(size + len)) {
      // the piece so far fitted (or is a single key larger than a record): it goes, the key starts the next record
      if (kvs.length > 0) {
        out.entry(`${head}${kvs.join(",")}}}`);
        kvs = [];
        size = Buffer.byteLength(head) + 2;
      }
      out.cut();
    }
    size += Buffer.byteLength(kv) + (kvs.length > 0 ? 1 : 0);
    kvs.push(kv);
  }
  if (kvs.length > 0) out.entry(`${head}${kvs.join(",")}}}`);
}

/** Builds `{"deviceName":..,"deviceType":..,"attributes":{..},"telemetry":[..]}` records, cutting one when the next part would not fit. */
class RecordWriter {
  private readonly head: string;
  private readonly empty: number;
  private attributes: string[] = [];
  private entries: string[] = [];
  private size: number;
  readonly records: string[] = [];

  constructor(deviceName: string, deviceType: string, private readonly maxBytes: number) {
    const base = exactJson({ deviceName, deviceType });
    this.head = base.slice(0, -1);
    this.empty = Buffer.byteLength(base);
    this.size = this.empty;
  }

  /** Bytes a telemetry entry of `bytes` adds to the current record (with `,"telemetry":[]` for the first). */
  private entryCost(bytes: number): number {
    return bytes + (this.entries.length > 0 ? 1 : ATTRIBUTES_OR_TELEMETRY_OPENING);
  }

  /** Whether an entry this big fits the current record within the limit. */
  hasRoomFor(entryBytes: number): boolean {
    return this.size + this.entryCost(entryBytes) <= this.maxBytes;
  }

  /** Whether the entry fits a record of its own. */
  fitsAlone(entry: string): boolean {
    return this.empty + ATTRIBUTES_OR_TELEMETRY_OPENING + Buffer.byteLength(entry) <= this.maxBytes;
  }

  private get isEmpty(): boolean {
    return this.attributes.length === 0 && this.entries.length === 0;
  }

  attribute(kv: string): void {
    const cost = () => Buffer.byteLength(kv) + (this.attributes.length > 0 ? 1 : ATTRIBUTES_OR_TELEMETRY_OPENING);
    if (!this.isEmpty && this.size + cost() > this.maxBytes) this.cut();
    this.size += cost();
    this.attributes.push(kv);
  }

  /** Appends a serialised entry, first cutting the record when the entry would not fit. */
  entry(json: string): void {
    const bytes = Buffer.byteLength(json);
    // an empty record takes it even when it is larger: something must go
    if (!this.isEmpty && !this.hasRoomFor(bytes)) this.cut();
    this.size += this.entryCost(bytes);
    this.entries.push(json);
  }

  /** Closes the current record (if it holds anything). */
  cut(): void {
    if (this.isEmpty) return;
    let json = this.head;
    if (this.attributes.length > 0) json += `,"attributes":{${this.attributes.join(",")}}`;
    if (this.entries.length > 0) json += `,"telemetry":[${this.entries.join(",")}]`;
    this.records.push(`${json}}`);
    this.attributes = [];
    this.entries = [];
    this.size = this.empty;
  }

  finish(): string[] {
    this.cut();
    return this.records;
  }
}

/** `,"attributes":{}` is 16 bytes, `,"telemetry":[]` 15: the larger bounds both. */
const ATTRIBUTES_OR_TELEMETRY_OPENING = 16;

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
