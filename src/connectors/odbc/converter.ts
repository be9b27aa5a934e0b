// Rows to ConvertedData (upstream odbc_uplink_converter.py): pure, no I/O.
// - values are typed: integers as numbers (BIGINT beyond ±2^53 as its decimal text), DECIMAL and
//   NUMERIC as numbers, BIT as booleans, binary as hex; NULL is JSON null;
// - `"*"` as attributes sends every non-NULL column (upstream stops at the first NULL);
// - an item that fails (unknown column, expression error) is dropped alone, with the reason;
// - telemetry ts = the row's `ts` column when it is a time, else the time of the poll;
// - `mapping: "*"` (upstream's special case): each row is already gateway data, in the columns
//   deviceName, deviceType, attributes and telemetry (or timeseries), JSON as text or as values.

import { compileExpression, type Expression } from "../../common/expressions/python/index.ts";
import { normalizeConverted } from "../../common/converters/custom.ts";
import type { ConvertedData } from "../../core/model.ts";
import type { OdbcColumn } from "./addon.ts";
import type { OdbcConfig, OdbcMappingItem } from "./schema.ts";

type Row = Record<string, unknown>;

interface Item {
  key: string | Expression;
  column?: string;
  value?: Expression;
  /** how the item reads in a config, for error messages */
  label: string;
}

type Mapping = "*" | { all: boolean; items: Item[] } | undefined;

export interface CompiledMapping {
  deviceName: Expression;
  /** device type: an expression, or plain text when it is not one over the row */
  deviceType: { expression?: Expression; text: string };
  attributes: Mapping;
  timeseries: Mapping;
}

function compileItem(item: OdbcMappingItem): Item | "*" {
  if (typeof item === "string") return item === "*" ? "*" : { key: item, column: item, label: JSON.stringify(item) };
  const label = JSON.stringify(item);
  return {
    key: item.nameExpression !== undefined ? compileExpression(item.nameExpression) : item.name!,
    column: item.column,
    value: item.column === undefined && item.value !== undefined ? compileExpression(item.value) : undefined,
    label,
  };
}

function compileList(list: Exclude<OdbcConfig["mapping"], "*">["timeseries"]): Mapping {
  if (list === undefined || list === "*") return list;
  const items: Item[] = [];
  let all = false;
  for (const i of list) {
    const c = compileItem(i);
    if (c === "*") all = true;
    else items.push(c);
  }
  return { all, items };
}

/** The built-in conversion of a config: its compiled mapping, or "*" for rows that are gateway data already. */
export type RowMapping = CompiledMapping | "*";

/** Throws ExpressionSyntaxError for a bad expression (validate reports those first, at their place). */
export function compileMapping(mapping: OdbcConfig["mapping"]): RowMapping {
  if (mapping === "*") return "*";
  const typeText = mapping.device.type ?? "default";
  let typeExpr: Expression | undefined;
  try {
    typeExpr = compileExpression(typeText);
  } catch {
    typeExpr = undefined; // plain text such as "my sensors"
  }
  return {
    deviceName: compileExpression(mapping.device.name),
    deviceType: { expression: typeExpr, text: typeText },
    attributes: compileList(mapping.attributes),
    timeseries: compileList(mapping.timeseries),
  };
}

const SQL_NUMERIC = 2;
const SQL_DECIMAL = 3;
const SQL_BIT = -7;
const BINARY_TYPES = new Set([-2, -3, -4]); // SQL_BINARY, SQL_VARBINARY, SQL_LONGVARBINARY

/** One value as the binding gives it, as JSON should carry it. */
export function typedValue(v: unknown, dataType?: number): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (dataType === SQL_BIT) return v === true || v === 1 || v === "1" || v === "t" || v === "true";
  if ((dataType === SQL_NUMERIC || dataType === SQL_DECIMAL) && typeof v === "string") {
    const n = Number(v);
    return v.trim() !== "" && Number.isFinite(n) ? n : v;
  }
  if (v instanceof ArrayBuffer) return Buffer.from(v).toString("hex");
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
  if (dataType !== undefined && BINARY_TYPES.has(dataType) && typeof v === "string") return v;
  return v;
}

/** A result row with typed values (the same object shape, column name → value). */
export function typedRow(row: Row, columns: OdbcColumn[] | undefined): Row {
  const out: Row = {};
  if (columns) for (const c of columns) out[c.name] = typedValue(row[c.name], c.dataType);
  else for (const [k, v] of Object.entries(row)) out[k] = typedValue(v);
  return out;
}

/** The row's `ts` as epoch ms when it is one (a number, numeric text or a date text), else undefined. */
export function rowTimestamp(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "") {
    if (/^\d+$/.test(v.trim())) return Number(v);
    const t = Date.parse(v.includes("T") || v.endsWith("Z") ? v : `${v.replace(" ", "T")}`);
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

function applyMapping(mapping: Mapping, row: Row, skipNulls: boolean, onError: (message: string) => void): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (mapping === undefined) return out;
  if (mapping === "*" || mapping.all) {
    for (const [k, v] of Object.entries(row)) if (!(skipNulls && v === null)) out[k] = v;
    if (mapping === "*") return out;
  }
  for (const item of mapping.items) {
    try {
      const key = typeof item.key === "string" ? item.key : String(item.key.evaluate(row));
      if (item.column !== undefined) {
        if (!Object.hasOwn(row, item.column)) throw new Error(`the query has no column "${item.column}" (columns: ${Object.keys(row).join(", ")})`);
        out[key] = row[item.column];
      } else if (item.value) {
        const v = item.value.evaluate(row);
        out[key] = typeof v === "bigint" ? v.toString() : v;
      }
    } catch (e) {
      onError(`mapping item ${item.label} dropped: ${errText(e)}`);
    }
  }
  return out;
}

function deviceTypeOf(m: CompiledMapping, row: Row): string {
  const { expression, text } = m.deviceType;
  if (expression && expression.names.every((n) => Object.hasOwn(row, n))) {
    try {
      const v = expression.evaluate(row);
      if (v !== null && v !== undefined && v !== "" && v !== false) return String(v);
      return "default";
    } catch {
      // not an expression over this row: the text itself
    }
  }
  return text || "default";
}

/** The row's device from `mapping.device` (with "*": its deviceName and deviceType columns), or the reason it has none. */
export function rowDevice(m: RowMapping, row: Row): { deviceName: string; deviceType: string } | string {
  if (m === "*") {
    const { deviceName, deviceType } = row;
    if (typeof deviceName !== "string" || deviceName === "") return `mapping "*" needs a deviceName column (text) in each row; this row's columns: ${Object.keys(row).join(", ")}`;
    return { deviceName, deviceType: typeof deviceType === "string" && deviceType !== "" ? deviceType : "default" };
  }
  try {
    const v = m.deviceName.evaluate(row);
    if (v === null || v === undefined || v === "") throw new Error("it gave no name");
    return { deviceName: String(v), deviceType: deviceTypeOf(m, row) };
  } catch (e) {
    return `the device name ${JSON.stringify(m.deviceName.source)} failed on a row: ${errText(e)}`;
  }
}

/**
 * One row to one device's data, or undefined when nothing came out of it (no device name, or no
 * key). `onError` gets each problem once per call (the connector logs it once per change).
 */
export function convertRow(m: RowMapping, row: Row, now: number, onError: (message: string) => void): ConvertedData | undefined {
  if (m === "*") return convertFormattedRow(row, now, onError);
  const device = rowDevice(m, row);
  if (typeof device === "string") {
    onError(device);
    return undefined;
  }
  const attributes = applyMapping(m.attributes, row, true, onError);
  const values = applyMapping(m.timeseries, row, false, onError);
  const data: ConvertedData = { ...device };
  if (Object.keys(attributes).length) data.attributes = attributes;
  if (Object.keys(values).length) data.telemetry = [{ ts: rowTimestamp(row.ts) ?? now, values }];
  return data.attributes || data.telemetry ? data : undefined;
}

/** A column holding JSON (text from most drivers, a value from a JSON-aware one). */
function jsonColumn(row: Row, column: string): unknown {
  const v = row[column];
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new Error(`column ${column} is not JSON (${errText(e)}): ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v)}`);
  }
}

const asList = (v: unknown): unknown[] => (v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Upstream's `"*"` case: a row that is gateway data already, taken when it has the columns
 * deviceName, attributes and telemetry or timeseries (upstream's condition). Attributes: a JSON
 * object or a list of {key: value}; telemetry: a list of {ts, values} or {key: value}, or one
 * object. Entries without a time get the row's `ts` column, else the poll's time.
 */
export function convertFormattedRow(row: Row, now: number, onError: (message: string) => void): ConvertedData | undefined {
  const device = rowDevice("*", row);
  if (typeof device === "string" || !Object.hasOwn(row, "attributes") || !(Object.hasOwn(row, "telemetry") || Object.hasOwn(row, "timeseries"))) {
    onError(`mapping "*" takes rows that are gateway data already: columns deviceName, attributes and telemetry (or timeseries); this row's columns: ${Object.keys(row).join(", ")}`);
    return undefined;
  }
  let normalized: ReturnType<typeof normalizeConverted>;
  try {
    const attributes = jsonColumn(row, "attributes");
    const telemetry = [...asList(jsonColumn(row, "telemetry")), ...asList(jsonColumn(row, "timeseries"))];
    normalized = normalizeConverted({ ...device, attributes: attributes ?? undefined, telemetry });
  } catch (e) {
    onError(`row of device ${JSON.stringify(device.deviceName)} dropped: ${errText(e)}`);
    return undefined;
  }
  const data = typeof normalized === "string" ? undefined : normalized[0];
  if (!data) return undefined;
  const ts = rowTimestamp(row.ts) ?? now;
  if (data.telemetry) {
    data.telemetry = data.telemetry.filter((e) => e.values && typeof e.values === "object" && Object.keys(e.values).length).map((e) => (e.ts === undefined ? { ...e, ts } : e));
    if (!data.telemetry.length) delete data.telemetry;
  }
  if (data.attributes && !Object.keys(data.attributes).length) delete data.attributes;
  return data.attributes || data.telemetry ? data : undefined;
}
