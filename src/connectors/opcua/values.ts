// OPC-UA values ↔ JSON values (spec/connectors/opcua.md §3 for uplink; §5 for typed writes).
// Int64/UInt64 beyond 2^53 come out as bigint so they are never rounded through a double; values
// inside the safe range are plain numbers.

import { DataType, StatusCode, Variant, VariantArrayType, type DataValue } from "node-opcua-client";

type Int64Pair = [number, number];

function int64ToBigInt(v: Int64Pair, signed: boolean): bigint {
  const u = (BigInt(v[0] >>> 0) << 32n) | BigInt(v[1] >>> 0);
  return signed ? BigInt.asIntN(64, u) : u;
}

function exactInteger(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** One scalar element to its JSON form. */
export function scalarToJson(dataType: DataType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (dataType) {
    case DataType.Int64:
    case DataType.UInt64:
      // node-opcua gives [high, low] words; anything else (a malformed value) passes as it is
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number") return exactInteger(int64ToBigInt(v as Int64Pair, dataType === DataType.Int64));
      return typeof v === "bigint" ? exactInteger(v) : v;
    case DataType.DateTime:
      return v instanceof Date ? (Number.isNaN(v.getTime()) ? null : v.toISOString()) : String(v);
    case DataType.ByteString:
      return Buffer.isBuffer(v) ? v.toString("hex") : String(v);
    case DataType.StatusCode:
      return (v as StatusCode).name ?? String(v);
    case DataType.LocalizedText:
      return (v as { text?: string | null }).text ?? null;
    case DataType.Guid:
    case DataType.XmlElement:
    case DataType.NodeId:
    case DataType.ExpandedNodeId:
    case DataType.QualifiedName:
    case DataType.DiagnosticInfo:
      return String(v);
    case DataType.ExtensionObject:
      return safeJsonText(v);
    case DataType.Variant:
      return v instanceof Variant ? variantToJson(v) : v;
    default:
      return v;
  }
}

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * bigint → exact JSON integer (JSON.rawJSON) throughout an RPC reply: the core serialises replies
 * with plain JSON.stringify, which throws on bigint (uplink records go through the core's exactJson).
 */
export function exactReply<T>(v: T): T {
  if (typeof v === "bigint") return rawJSON(v.toString()) as T;
  if (Array.isArray(v)) return v.map(exactReply) as T;
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, exactReply(x)])) as T;
  }
  return v;
}

function safeJsonText(v: unknown): string {
  try {
    const j = (v as { toJSON?: () => unknown }).toJSON?.() ?? v;
    return JSON.stringify(j, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
  } catch {
    return String(v);
  }
}

/** Array element as upstream prints it: "True"/"False", shortest decimal numbers, strings as is. */
function arrayElementText(dataType: DataType, v: unknown): string {
  const j = scalarToJson(dataType, v);
  if (typeof j === "boolean") return j ? "True" : "False";
  if (j === null) return "None";
  return String(j);
}

export function variantToJson(variant: Variant): unknown {
  if (variant.dataType === DataType.Null) return null;
  if (variant.arrayType !== VariantArrayType.Scalar) {
    const arr = variant.value as ArrayLike<unknown> | null;
    if (!arr) return [];
    return Array.from(arr, (e) => arrayElementText(variant.dataType, e));
  }
  return scalarToJson(variant.dataType, variant.value);
}

/** Uplink conversion of one read/notified value, including the bad-status text of upstream. */
export function dataValueToJson(dv: DataValue, nodeText: string): unknown {
  const value = dv.value ? variantToJson(dv.value) : null;
  if ((value === null || value === undefined) && dv.statusCode && dv.statusCode.isNotGood()) {
    return `Bad status code: ${dv.statusCode.name} for node: ${nodeText} with description ${dv.statusCode.description}`;
  }
  return value;
}

// ---------- downlink: JSON → typed Variant ---------------------------------------------------------

const INT_RANGES: Partial<Record<DataType, [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32768, 32767],
  [DataType.UInt16]: [0, 65535],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt32]: [0, 4294967295],
};

/** Upstream's guess for untyped text: "true"/"false" → bool, has "." → float, int, else string. */
export function guessFromString(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const t = v.trim();
  if (t.toLowerCase() === "true") return true;
  if (t.toLowerCase() === "false") return false;
  if (t.includes(".") && t !== "" && !Number.isNaN(Number(t))) return Number(t);
  if (/^[-+]?\d+$/.test(t)) return Number.isSafeInteger(Number(t)) ? Number(t) : BigInt(t);
  return v;
}

function toBool(v: unknown): boolean {
  if (typeof v === "string") {
    const t = v.trim().toLowerCase();
    if (t === "true" || t === "1") return true;
    if (t === "false" || t === "0" || t === "") return false;
    throw new Error(`cannot convert "${v}" to Boolean`);
  }
  return Boolean(v);
}

function toBigInt(v: unknown): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^\s*[-+]?\d+\s*$/.test(v)) return BigInt(v.trim());
  if (typeof v === "boolean") return v ? 1n : 0n;
  const n = Number(v);
  if (Number.isFinite(n)) return BigInt(Math.trunc(n));
  throw new Error(`cannot convert ${JSON.stringify(String(v))} to an integer`);
}

function coerceScalar(dataType: DataType, v: unknown): unknown {
  const range = INT_RANGES[dataType];
  if (range) {
    const n = Number(toBigInt(v));
    if (n < range[0] || n > range[1]) throw new Error(`${n} is out of range for ${DataType[dataType]}`);
    return n;
  }
  switch (dataType) {
    case DataType.Int64:
    case DataType.UInt64: {
      const u = BigInt.asUintN(64, toBigInt(v));
      return [Number(u >> 32n), Number(u & 0xffffffffn)];
    }
    case DataType.Float:
    case DataType.Double: {
      const n = typeof v === "bigint" ? Number(v) : Number(typeof v === "boolean" ? +v : v);
      if (Number.isNaN(n)) throw new Error(`cannot convert ${JSON.stringify(String(v))} to ${DataType[dataType]}`);
      return n;
    }
    case DataType.Boolean:
      return toBool(v);
    case DataType.String:
    case DataType.XmlElement:
      return typeof v === "string" ? v : JSON.stringify(v);
    case DataType.DateTime: {
      const d = new Date(typeof v === "string" || typeof v === "number" ? v : String(v));
      if (Number.isNaN(d.getTime())) throw new Error(`cannot convert ${JSON.stringify(String(v))} to DateTime`);
      return d;
    }
    case DataType.ByteString:
      return typeof v === "string" && /^([0-9a-f]{2})*$/i.test(v) ? Buffer.from(v, "hex") : Buffer.from(String(v));
    case DataType.LocalizedText:
      return { text: String(v) };
    default:
      return v;
  }
}

/** Build a Variant of `dataType` from a JSON value (arrays map element-wise). */
export function jsonToVariant(dataType: DataType, value: unknown, isArray = Array.isArray(value)): Variant {
  if (isArray) {
    const list = Array.isArray(value) ? value : [value];
    return new Variant({ dataType, arrayType: VariantArrayType.Array, value: list.map((e) => coerceScalar(dataType, e)) });
  }
  return new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: coerceScalar(dataType, value) });
}

/** Config argument type names (upstream RPC and old format) → OPC-UA data type. */
export function dataTypeFromName(name: string | undefined): DataType | undefined {
  if (!name) return undefined;
  const aliases: Record<string, DataType> = {
    integer: DataType.Int64,
    int: DataType.Int32,
    double: DataType.Double,
    float: DataType.Float,
    string: DataType.String,
    str: DataType.String,
    boolean: DataType.Boolean,
    bool: DataType.Boolean,
  };
  const a = aliases[name.toLowerCase()];
  if (a !== undefined) return a;
  const exact = (DataType as unknown as Record<string, DataType>)[name];
  return typeof exact === "number" ? exact : undefined;
}

/** A Variant for a JSON value with no known target type (used before reading the node's type). */
export function guessVariant(value: unknown): Variant {
  const v = guessFromString(value);
  if (typeof v === "boolean") return jsonToVariant(DataType.Boolean, v);
  if (typeof v === "bigint") return jsonToVariant(DataType.Int64, v);
  if (typeof v === "number") return jsonToVariant(Number.isInteger(v) ? DataType.Int64 : DataType.Double, v);
  return jsonToVariant(DataType.String, v);
}
