// Value conversion both ways (spec §3 and §5). Uplink follows the upstream converter: floats rounded
// to 2 decimals, every other scalar as a string, binary present values as 1/0, errors skipped.
// Downlink picks the BACnet application tag a write needs from the object type and property.

import { ApplicationTag as T, ObjectType as O, PropertyIdentifier as P, type BACNetAppData } from "@bacnet-js/client";
import { objectTypeName, propertyName } from "./names.ts";

export interface DecodedValue {
  type: number;
  value: unknown;
}

/** A property read that failed (BACnet error class/code): skipped with a log, never sent. */
export class PropertyError extends Error {}

const BINARY_TYPES = new Set<number>([O.BINARY_INPUT, O.BINARY_OUTPUT, O.BINARY_VALUE, O.BINARY_LIGHTING_OUTPUT]);

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;

/**
 * A decoded value whose shape is not what its application tag decodes to (a malformed or
 * truncated packet): that property is skipped and logged, the device's other values still go.
 */
function malformed(v: DecodedValue): PropertyError {
  const x = v.value;
  const shape = x === null ? "null" : Array.isArray(x) ? "an array" : x instanceof Date ? "an invalid date" : typeof x;
  return new PropertyError(`application tag ${v.type} came with ${shape} instead of its value (a malformed answer)`);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** One decoded application value → what ThingsBoard gets. */
function scalar(v: DecodedValue, objectType: number, propertyId: number): unknown {
  const x = v.value;
  switch (v.type) {
    case T.NULL:
      return "None";
    case T.REAL:
    case T.DOUBLE:
      return typeof x === "number" ? Math.round(x * 100) / 100 : String(x);
    case T.BOOLEAN:
      return x ? "True" : "False"; // upstream: str(bool)
    case T.ENUMERATED:
      if (propertyId === P.PRESENT_VALUE && BINARY_TYPES.has(objectType)) return Number(x) ? 1 : 0;
      return String(x);
    case T.CHARACTER_STRING:
      return String(x);
    case T.OBJECTIDENTIFIER: {
      if (!isObj(x) || typeof x.type !== "number" || typeof x.instance !== "number") throw malformed(v);
      return `${objectTypeName(x.type)}:${x.instance}`;
    }
    case T.BIT_STRING: {
      if (!isObj(x) || typeof x.bitsUsed !== "number" || !Array.isArray(x.value)) throw malformed(v);
      const bytes = x.value as unknown[];
      // a bit string carries at most its bytes' bits, whatever bitsUsed claims
      const used = Math.max(0, Math.min(Math.floor(x.bitsUsed) || 0, bytes.length * 8));
      return Array.from({ length: used }, (_, i) => (Number(bytes[i >> 3] ?? 0) >> (i & 7)) & 1);
    }
    case T.DATE:
    case T.DATETIME:
      if (x instanceof Date && Number.isNaN(x.getTime())) throw malformed(v);
      return x instanceof Date ? localIso(x, v.type === T.DATE) : String(JSON.stringify(x));
    case T.TIME:
      if (x instanceof Date && Number.isNaN(x.getTime())) throw malformed(v);
      return x instanceof Date ? `${pad(x.getHours())}:${pad(x.getMinutes())}:${pad(x.getSeconds())}` : String(x);
    case T.OCTET_STRING:
      if (Array.isArray(x) && !x.every((b) => typeof b === "number")) throw malformed(v);
      return Array.isArray(x) ? Buffer.from(x as number[]).toString("hex") : String(x);
    case T.OBJECT_PROPERTY_REFERENCE:
    case T.DEVICE_OBJECT_PROPERTY_REFERENCE: {
      if (!isObj(x)) throw malformed(v);
      const r = x as { objectId?: { type: number; instance: number }; id?: number; arrayIndex?: number };
      return {
        objectId: isObj(r.objectId) ? `${objectTypeName(r.objectId.type)}:${r.objectId.instance}` : undefined,
        propertyId: r.id !== undefined ? propertyName(r.id) : undefined,
        propertyArrayIndex: r.arrayIndex === 0xffffffff ? null : (r.arrayIndex ?? null),
      };
    }
    default:
      return typeof x === "number" || typeof x === "string" ? String(x) : x;
  }
}

function localIso(d: Date, dateOnly: boolean): string {
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return dateOnly ? date : `${date}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The decoded values of one property → one TB value. A single value gives a scalar (stringified
 * unless it is a float, or a binary present value); several give a list. Throws PropertyError for a
 * BACnet error result.
 */
export function toTbValue(values: DecodedValue[], objectType: number, propertyId: number): unknown {
  const err = values.find((v) => v.type === T.ERROR);
  if (err) {
    const e = (isObj(err.value) ? err.value : {}) as { errorClass?: number; errorCode?: number };
    throw new PropertyError(`BACnet error class ${e.errorClass} code ${e.errorCode}`);
  }
  if (values.length === 1) {
    const s = scalar(values[0]!, objectType, propertyId);
    return typeof s === "number" && values[0]!.type !== T.REAL && values[0]!.type !== T.DOUBLE ? String(s) : s;
  }
  // Arrays (priorityArray, objectList, ...): upstream renders priority-array slots as strings.
  return values.map((v) => {
    const s = scalar(v, objectType, propertyId);
    return propertyId === P.PRIORITY_ARRAY ? String(s) : s;
  });
}

/**
 * The decoded values of one property as a custom converter gets them (upstream hands its converter
 * the stack's decoded value, before its own rounding and stringification): numbers unrounded,
 * enumerations as numbers, booleans as booleans, Null as null, several values as a list; the other
 * types as the built-in conversion renders them (object ids "analogInput:1", bit strings as 0/1
 * lists, dates as ISO text). A BACnet error result is a PropertyError (upstream: the error object).
 */
export function plainValue(values: DecodedValue[], objectType: number, propertyId: number): unknown {
  const err = values.find((v) => v.type === T.ERROR);
  if (err) {
    const e = err.value as { errorClass: number; errorCode: number };
    return new PropertyError(`BACnet error class ${e.errorClass} code ${e.errorCode}`);
  }
  const one = (v: DecodedValue): unknown => {
    switch (v.type) {
      case T.NULL:
        return null;
      case T.BOOLEAN:
        return Boolean(v.value);
      case T.REAL:
      case T.DOUBLE:
      case T.UNSIGNED_INTEGER:
      case T.SIGNED_INTEGER:
      case T.ENUMERATED:
        return typeof v.value === "number" || typeof v.value === "bigint" ? v.value : Number(v.value);
      default:
        return scalar(v, objectType, propertyId);
    }
  };
  return values.length === 1 ? one(values[0]!) : values.map(one);
}

/** Python-style repr of an RPC reply dict: upstream replies `str({'value': v})`. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isInteger(v) && !Object.is(v, -0) ? String(v) : String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "object") return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(", ")}}`;
  return String(v);
}

export class WriteValueError extends Error {}

function toNumber(value: unknown): number {
  const n = typeof value === "number" ? value : typeof value === "boolean" ? Number(value) : Number(String(value).trim());
  if (typeof value === "string" && value.trim() === "") throw new WriteValueError(`"${value}" is not a number`);
  if (!Number.isFinite(n)) throw new WriteValueError(`"${String(value)}" is not a number`);
  return n;
}

function binary(value: unknown): number {
  if (typeof value === "string") {
    const s = value.trim().toLowerCase();
    if (["active", "true", "on", "1"].includes(s)) return 1;
    if (["inactive", "false", "off", "0"].includes(s)) return 0;
    throw new WriteValueError(`"${value}" is not a binary value (use 1/0, true/false, active/inactive)`);
  }
  return toNumber(value) ? 1 : 0;
}

/** The application-tagged value to write to objectType/propertyId. null → Null (relinquish). */
export function encodeForWrite(value: unknown, objectType: number, propertyId: number): BACNetAppData {
  if (value === null || (typeof value === "string" && value.trim().toLowerCase() === "null")) return { type: T.NULL, value: null };
  const tagged = (type: T, v: unknown): BACNetAppData => ({ type, value: v }) as BACNetAppData;
  if (propertyId === P.PRESENT_VALUE || propertyId === P.RELINQUISH_DEFAULT) {
    switch (objectType) {
      case O.ANALOG_INPUT:
      case O.ANALOG_OUTPUT:
      case O.ANALOG_VALUE:
        return tagged(T.REAL, toNumber(value));
      case O.LARGE_ANALOG_VALUE:
        return tagged(T.DOUBLE, toNumber(value));
      case O.BINARY_INPUT:
      case O.BINARY_OUTPUT:
      case O.BINARY_VALUE:
        return tagged(T.ENUMERATED, binary(value));
      case O.MULTI_STATE_INPUT:
      case O.MULTI_STATE_OUTPUT:
      case O.MULTI_STATE_VALUE:
      case O.POSITIVE_INTEGER_VALUE:
        return tagged(T.UNSIGNED_INTEGER, Math.trunc(toNumber(value)));
      case O.INTEGER_VALUE:
        return tagged(T.SIGNED_INTEGER, Math.trunc(toNumber(value)));
      case O.CHARACTERSTRING_VALUE:
        return tagged(T.CHARACTER_STRING, String(value));
    }
  }
  if (propertyId === P.OBJECT_NAME || propertyId === P.DESCRIPTION || propertyId === P.LOCATION) return tagged(T.CHARACTER_STRING, String(value));
  if (propertyId === P.OUT_OF_SERVICE) return tagged(T.BOOLEAN, binary(value) === 1);
  if (typeof value === "boolean") return tagged(T.BOOLEAN, value);
  if (typeof value === "number") return Number.isInteger(value) ? tagged(value >= 0 ? T.UNSIGNED_INTEGER : T.SIGNED_INTEGER, value) : tagged(T.REAL, value);
  if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value.trim())) return encodeForWrite(Number(value), objectType, propertyId);
  return tagged(T.CHARACTER_STRING, String(value));
}
