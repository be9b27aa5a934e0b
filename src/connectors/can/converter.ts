// CAN frames to platform data and platform data to frame bytes, as upstream's bytes converters do
// (spec/connectors/can.md §3, §4), without eval: expressions go through the shared Python-expression
// evaluator (src/common/expressions/python) with exactNumbers, so an int result is a bigint and a
// float a number, as Python's int and float. Pure code.
//
// Routing differs from upstream where upstream loses data: every key is matched against a frame on
// its own (its id and, when it has one, its command), so a key without `command` on an id that also
// has commanded keys no longer switches those off, several command layouts on one id work, and
// keys of several devices on one id each reach their own device.

import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import { compileExpression, ExpressionError, type Expression } from "../../common/expressions/python/index.ts";
import { parseHex, type CommandLayout, type ValueLayout } from "./layout.ts";
import { VALUE_VARIABLES, type CanConfig, type CanKey, type DownlinkRule } from "./schema.ts";

export interface KeyRule {
  device: string;
  deviceType: string;
  key: string;
  telemetry: boolean;
  value: ValueLayout;
  command?: CommandLayout;
  expression?: Expression;
  reportStrategy?: ReportStrategyConfig;
  deviceStrategy?: ReportStrategyConfig;
  /** The key's entry as configured (what a custom converter is handed). */
  config: CanKey;
}

/** Key rules by arbitration id: what the connector looks up for each frame. */
export type Routes = Map<number, KeyRule[]>;

const expressionCache = new Map<string, Expression>();
/** Compiled once per text (RPC params may bring new ones: the cache is bounded). Throws ExpressionSyntaxError. */
export function compiled(src: string, variables?: readonly string[]): Expression {
  const key = `${variables?.join(",") ?? "*"}:${src}`;
  let c = expressionCache.get(key);
  if (!c) {
    if (expressionCache.size >= 1000) expressionCache.clear();
    expressionCache.set(key, (c = compileExpression(src, { variables, exactNumbers: true })));
  }
  return c;
}

/** A decoded value: int is bigint, float number, as Python's. */
export type FrameValue = bigint | number | boolean | string;

/** JSON from the platform (RPC params, attribute values) as the evaluator's exact numbers: integral numbers are ints. */
export function fromJson(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJson(x)]));
  return v;
}

/** A result as platform data: ints as numbers (bigint beyond 2^53), lists and dicts likewise inside. */
export function toJson(v: unknown): unknown {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

function keyExpression(device: string, k: CanKey): Expression {
  try {
    return compiled(k.expression!, VALUE_VARIABLES);
  } catch (e) {
    // validate reports it at its character; a config that skipped validate fails here, with the key
    if (e instanceof ExpressionError) throw new Error(`${device}: key "${k.key}": expression "${k.expression}": ${e.message}`);
    throw e;
  }
}

export function buildRoutes(config: Pick<CanConfig, "devices">): Routes {
  const routes: Routes = new Map();
  for (const d of config.devices) {
    const add = (k: CanKey, telemetry: boolean) => {
      const rule: KeyRule = {
        device: d.name,
        deviceType: d.type ?? "can",
        key: k.key,
        telemetry,
        value: k.value,
        command: k.command,
        expression: k.expression ? keyExpression(d.name, k) : undefined,
        reportStrategy: k.reportStrategy,
        deviceStrategy: d.reportStrategy,
        config: k,
      };
      const list = routes.get(k.nodeId);
      if (list) list.push(rule);
      else routes.set(k.nodeId, [rule]);
    };
    for (const k of d.attributes) add(k, false);
    for (const k of d.timeseries) add(k, true);
  }
  return routes;
}

/** Unsigned (or signed) integer from `bytes` in `order`, as Python's int.from_bytes. */
export function intFrom(bytes: Uint8Array, order: "big" | "little", signed: boolean): bigint {
  let n = 0n;
  const len = bytes.length;
  for (let i = 0; i < len; i++) n = (n << 8n) | BigInt(bytes[order === "big" ? i : len - 1 - i]!);
  if (signed && len > 0 && n >= 1n << BigInt(8 * len - 1)) n -= 1n << BigInt(8 * len);
  return n;
}

function decodeText(b: Uint8Array, encoding: string): string {
  const enc = encoding.toLowerCase().replace(/_/g, "-");
  if (enc === "ascii" || enc === "us-ascii") {
    for (const [i, x] of b.entries()) if (x > 0x7f) throw new Error(`'ascii' codec can't decode byte 0x${x.toString(16)} in position ${i}`);
    return Buffer.from(b).toString("latin1");
  }
  if (enc === "latin-1" || enc === "latin1" || enc === "iso-8859-1") return Buffer.from(b).toString("latin1");
  const name = enc === "utf8" ? "utf-8" : enc === "utf-16-le" ? "utf-16le" : enc === "utf-16-be" ? "utf-16be" : enc;
  try {
    return new TextDecoder(name as ConstructorParameters<typeof TextDecoder>[0], { fatal: true, ignoreBOM: name !== "utf-16" }).decode(b);
  } catch (e) {
    if (e instanceof RangeError) throw new Error(`unknown encoding "${encoding}"`);
    throw new Error(`bytes ${Buffer.from(b).toString("hex")} are not valid ${encoding}`);
  }
}

/** The bytes a value layout covers; throws when the frame is too short (never a silent 0). */
function bytesOf(layout: ValueLayout, data: Uint8Array): Uint8Array {
  const need = layout.length === -1 ? 1 : layout.length;
  if (data.length < layout.start + need)
    throw new Error(`the frame has ${data.length} byte(s); the value needs ${layout.length === -1 ? `at least byte ${layout.start}` : `bytes ${layout.start}..${layout.start + layout.length - 1}`}`);
  return layout.length === -1 ? data.subarray(layout.start) : data.subarray(layout.start, layout.start + layout.length);
}

/** The raw value at `layout` in `data`, as the Python value upstream computes. */
export function decodeValue(layout: ValueLayout, data: Uint8Array): FrameValue {
  const b = bytesOf(layout, data);
  switch (layout.type) {
    case "bool":
    case "boolean":
      return b[0]! !== 0;
    case "int":
    case "long":
      return intFrom(b, layout.byteorder, layout.signed);
    case "float":
    case "double": {
      const size = layout.type === "float" ? 4 : 8;
      if (b.length < size) throw new Error(`a ${layout.type} needs ${size} bytes, the frame gives ${b.length} from byte ${layout.start}`);
      const view = new DataView(b.buffer, b.byteOffset, size);
      const little = layout.byteorder === "little";
      return size === 4 ? view.getFloat32(0, little) : view.getFloat64(0, little);
    }
    case "string":
      return decodeText(b, layout.encoding);
    case "raw":
      return Buffer.from(b).toString("hex");
  }
}

export function commandMatches(cmd: CommandLayout, data: Uint8Array): boolean {
  if (data.length < cmd.start + cmd.length) return false;
  return intFrom(data.subarray(cmd.start, cmd.start + cmd.length), cmd.byteorder, false) === cmd.value;
}

export interface FrameResult {
  data: ConvertedData[];
  /** Keys whose value could not be had from this frame, with why. */
  errors: Array<{ rule: KeyRule; error: string }>;
  /** Rules whose id and command matched. */
  matched: number;
}

/** One frame's data for every device with a key on its id; `ts` stamps the telemetry. */
export function convertFrame(rules: readonly KeyRule[], data: Uint8Array, ts: number): FrameResult {
  const byDevice = new Map<string, ConvertedData>();
  const errors: FrameResult["errors"] = [];
  let matched = 0;
  for (const rule of rules) {
    if (rule.command && !commandMatches(rule.command, data)) continue;
    matched++;
    let value: unknown;
    try {
      value = decodeValue(rule.value, data);
      if (rule.expression) value = rule.expression.evaluate({ value, can_data: data });
    } catch (e) {
      errors.push({ rule, error: e instanceof Error ? e.message : String(e) });
      continue;
    }
    let out = byDevice.get(rule.device);
    if (!out) {
      out = { deviceName: rule.device, deviceType: rule.deviceType };
      if (rule.deviceStrategy) out.deviceStrategy = rule.deviceStrategy;
      byDevice.set(rule.device, out);
    }
    if (rule.telemetry) {
      out.telemetry ??= [{ ts, values: {} }];
      out.telemetry[0]!.values[rule.key] = toJson(value);
    } else (out.attributes ??= {})[rule.key] = toJson(value);
    if (rule.reportStrategy) (out.keyStrategies ??= {})[rule.key] = rule.reportStrategy;
  }
  return { data: [...byDevice.values()], errors, matched };
}

// ---- downlink ----

/** Bytes of an integer in `length` bytes, as Python's int.to_bytes (OverflowError when it does not fit). */
export function intTo(n: bigint, length: number, order: "big" | "little", signed: boolean): Uint8Array {
  const bits = BigInt(8 * length);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (n < min || n > max) throw new Error(`int ${n} does not fit in ${length} byte(s)${signed ? " signed" : n < 0n ? " (negative needs dataSigned)" : ""}`);
  let u = n < 0n ? n + (1n << bits) : n;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[order === "big" ? length - 1 - i : i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return out;
}

function encodeString(s: string, encoding: string): Uint8Array {
  const enc = encoding.toLowerCase().replace(/_/g, "-");
  if (enc === "ascii" || enc === "latin-1" || enc === "latin1") {
    const max = enc === "ascii" ? 0x7f : 0xff;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > max) throw new Error(`'${encoding}' codec can't encode character '${s[i]}' in position ${i}`);
    return Uint8Array.from(Buffer.from(s, "latin1"));
  }
  if (enc === "utf-8" || enc === "utf8") return Uint8Array.from(Buffer.from(s, "utf8"));
  if (enc === "utf-16-le" || enc === "utf-16le") return Uint8Array.from(Buffer.from(s, "utf16le"));
  throw new Error(`dataEncoding "${encoding}" is not supported (ascii, latin-1, utf-8, utf-16-le)`);
}

const hexBytes = (text: string, field: string): Uint8Array => {
  const r = parseHex(text);
  if (typeof r === "string") throw new Error(`${field}: ${r}`);
  return r;
};

/**
 * Frame data for a downlink `rule` and the request `data` (the RPC params, or {value} for an
 * attribute update), in upstream's order: the rule's dataInHex, the data's dataInHex, then
 * dataBefore + value (from dataExpression or data.value) + dataAfter. Throws with the reason.
 */
export function buildPayload(rule: DownlinkRule, data: unknown): Uint8Array {
  if (rule.dataInHex) return hexBytes(rule.dataInHex, "dataInHex");
  if (data === null || typeof data !== "object" || Array.isArray(data) || Object.keys(data).length === 0)
    throw new Error("the request data is empty or not an object (give {\"value\": …}, dataInHex, or a dataExpression's names)");
  const params = data as Record<string, unknown>;
  if (typeof params.dataInHex === "string" && params.dataInHex) return hexBytes(params.dataInHex, "dataInHex");
  let value: unknown;
  if (rule.dataExpression) {
    try {
      value = compiled(rule.dataExpression).evaluate(fromJson(params) as Record<string, unknown>);
    } catch (e) {
      if (e instanceof ExpressionError) throw new Error(`dataExpression "${rule.dataExpression}": ${e.message}`);
      throw e;
    }
  } else if ("value" in params) value = fromJson(params.value);
  else throw new Error('no "value" in the request data and no dataExpression');
  const parts: Uint8Array[] = [];
  if (rule.dataBefore) parts.push(hexBytes(rule.dataBefore, "dataBefore"));
  const order = rule.dataByteorder ?? "big";
  if (typeof value === "boolean") parts.push(Uint8Array.of(value ? 1 : 0));
  else if (typeof value === "bigint") parts.push(intTo(value, rule.dataLength ?? 1, order, (rule.dataSigned ?? false) || value < 0n));
  else if (typeof value === "number") {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, order === "little");
    parts.push(b);
  } else if (typeof value === "string") parts.push(encodeString(value, rule.dataEncoding ?? "ascii"));
  else throw new Error(`the value is ${value === null || value === undefined ? "None" : Array.isArray(value) ? "a list" : "a dict"} and cannot be written; give a number, bool or text`);
  if (rule.dataAfter) parts.push(hexBytes(rule.dataAfter, "dataAfter"));
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** Fields of a frame definition RPC params may carry (upstream's merge list). */
const OVERRIDABLE = ["nodeId", "isExtendedId", "isFd", "bitrateSwitch", "response", "dataLength", "dataByteorder", "dataSigned", "dataExpression", "dataEncoding", "dataBefore", "dataAfter", "dataInHex"] as const;

/** A rule with the RPC params' frame fields laid over it (overrideRpcConfig), `response` true unless given. */
export function mergeRpcRule(rule: DownlinkRule | undefined, params: unknown): DownlinkRule {
  const p = params && typeof params === "object" && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
  const out: Record<string, unknown> = { ...(rule ?? {}), response: rule?.response ?? true };
  for (const k of OVERRIDABLE) if (k in p) out[k] = p[k];
  // params arrive as JSON: "nodeId": "41" (upstream's reserved set passes text) is a number here
  if (typeof out.nodeId === "string" && /^\s*(0x[0-9a-f]+|\d+)\s*$/i.test(out.nodeId)) out.nodeId = Number(out.nodeId.trim());
  for (const k of ["isExtendedId", "isFd", "bitrateSwitch", "dataSigned", "response"] as const) if (typeof out[k] === "string") out[k] = (out[k] as string).trim().toLowerCase() === "true";
  if (typeof out.dataLength === "string" && /^\d+$/.test(out.dataLength)) out.dataLength = Number(out.dataLength);
  return out as DownlinkRule;
}

/** Reserved RPC `set` params "nodeId=41;dataInHex=AABB;isExtendedId=true" as a frame definition. */
export function parseSetParams(params: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof params !== "string") return out;
  for (const part of params.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
