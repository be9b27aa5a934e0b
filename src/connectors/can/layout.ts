// Where a value or a command id sits in a CAN frame: upstream's "start:length:[byteorder:]type[:extra]"
// and "start:length:[byteorder:]value" strings, or their object forms, read into one shape. Also
// hex payload text (`dataInHex`, `dataBefore`, `dataAfter`) as Python's bytes.fromhex reads it.

export const VALUE_TYPES = ["bool", "boolean", "int", "long", "float", "double", "string", "raw"] as const;
export type ValueType = (typeof VALUE_TYPES)[number];
export type ByteOrder = "big" | "little";

export interface ValueLayout {
  start: number;
  /** Bytes from `start`; -1 = to the end of the frame. */
  length: number;
  byteorder: ByteOrder;
  type: ValueType;
  signed: boolean;
  encoding: string;
}

export interface CommandLayout {
  start: number;
  length: number;
  byteorder: ByteOrder;
  value: bigint;
}

/** Bytes in a CAN FD frame at most; a position beyond it can never be in a frame. */
export const MAX_FRAME_BYTES = 64;

const int = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);

function position(start: unknown, length: unknown, allowToEnd: boolean): { start: number; length: number } | string {
  const st = typeof start === "number" ? start : typeof start === "string" ? int(start.trim()) : undefined;
  if (st === undefined || !Number.isInteger(st) || st < 0 || st >= MAX_FRAME_BYTES) return `start must be a byte index 0..${MAX_FRAME_BYTES - 1}, got ${JSON.stringify(start)}`;
  const lenText = typeof length === "string" ? length.trim() : length;
  const len = lenText === "" || lenText === undefined ? -1 : lenText === "-1" ? -1 : typeof lenText === "number" ? lenText : int(String(lenText));
  if (len === undefined || !Number.isInteger(len) || (len === -1 ? !allowToEnd : len < 1 || st + len > MAX_FRAME_BYTES))
    return `length must be ${allowToEnd ? "-1 (to the end of the frame) or " : ""}a byte count 1..${MAX_FRAME_BYTES - st}, got ${JSON.stringify(length)}`;
  return { start: st, length: len };
}

function byteorderOf(v: unknown): ByteOrder | string {
  if (v === undefined || v === null || v === "") return "big";
  const s = String(v).toLowerCase();
  return s === "big" || s === "little" ? s : `byteorder must be "big" or "little", got ${JSON.stringify(v)}`;
}

/** `value` of a key: "4:2:big:int", "0:-1:string:utf-8", "4:1:int:signed" or {start, length, byteorder, type, signed, encoding}. */
export function parseValueLayout(spec: unknown): ValueLayout | string {
  let start: unknown, length: unknown, byteorder: unknown, type: unknown, signed: unknown, encoding: unknown;
  if (typeof spec === "string") {
    const parts = spec.split(":");
    if (parts.length < 3) return `"${spec}" is not "start:length:[byteorder:]type[:signed|encoding]"`;
    [start, length] = parts;
    let rest = parts.slice(2);
    if (rest[0] === "big" || rest[0] === "little") [byteorder, ...rest] = rest;
    [type] = rest;
    const extra = rest[1];
    if (rest.length > 2) return `"${spec}" has too many parts; expected "start:length:[byteorder:]type[:signed|encoding]"`;
    const t = String(type);
    if (extra !== undefined && extra !== "") {
      if (t[0] === "i" || t[0] === "l") {
        if (extra !== "signed" && extra !== "unsigned") return `"${spec}": after an int type only "signed" or "unsigned" may follow, got "${extra}"`;
        signed = extra === "signed";
      } else if (t[0] === "s" || t[0] === "r") encoding = extra;
      else return `"${spec}": nothing may follow the type "${t}", got "${extra}"`;
    }
  } else if (spec && typeof spec === "object" && !Array.isArray(spec)) {
    ({ start, length, byteorder, type, signed, encoding } = spec as Record<string, unknown>);
    if (length === undefined) return `a value object needs "length" (bytes, or -1 to the end of the frame)`;
  } else return `a value layout is a text "start:length:[byteorder:]type" or an object {start, length, byteorder, type}`;
  const pos = position(start, length, true);
  if (typeof pos === "string") return pos;
  const order = byteorderOf(byteorder);
  if (order !== "big" && order !== "little") return order;
  if (!(VALUE_TYPES as readonly string[]).includes(String(type))) return `type must be one of ${VALUE_TYPES.join(", ")}, got ${JSON.stringify(type)}`;
  const t = type as ValueType;
  if ((t === "float" && pos.length !== -1 && pos.length < 4) || (t === "double" && pos.length !== -1 && pos.length < 8))
    return `a ${t} needs ${t === "float" ? 4 : 8} bytes, the length is ${pos.length}`;
  if (signed !== undefined && typeof signed !== "boolean") return `signed must be true or false, got ${JSON.stringify(signed)}`;
  if (encoding !== undefined && typeof encoding !== "string") return `encoding must be a text such as "ascii" or "utf-8", got ${JSON.stringify(encoding)}`;
  return { ...pos, byteorder: order, type: t, signed: signed === true, encoding: ((encoding as string | undefined) || "ascii").toLowerCase() };
}

/** `command`: "2:2:big:48059" or {start, length, byteorder, value}: the frame carries this unsigned id there. */
export function parseCommandLayout(spec: unknown): CommandLayout | string {
  let start: unknown, length: unknown, byteorder: unknown, value: unknown;
  if (typeof spec === "string") {
    const parts = spec.split(":");
    if (parts.length === 4) [start, length, byteorder, value] = parts;
    else if (parts.length === 3) [start, length, value] = parts;
    else return `"${spec}" is not "start:length:[byteorder:]value"`;
  } else if (spec && typeof spec === "object" && !Array.isArray(spec)) ({ start, length, byteorder, value } = spec as Record<string, unknown>);
  else return `a command is a text "start:length:[byteorder:]value" or an object {start, length, byteorder, value}`;
  const pos = position(start, length, false);
  if (typeof pos === "string") return pos;
  const order = byteorderOf(byteorder);
  if (order !== "big" && order !== "little") return order;
  const v = typeof value === "number" && Number.isInteger(value) && value >= 0 ? BigInt(value) : typeof value === "string" && /^\d+$/.test(value.trim()) ? BigInt(value.trim()) : undefined;
  if (v === undefined) return `the command value must be a non-negative integer, got ${JSON.stringify(value)}`;
  if (v >= 1n << BigInt(8 * pos.length)) return `the command value ${v} does not fit in ${pos.length} byte(s)`;
  return { ...pos, byteorder: order, value: v };
}

/** Python's bytes.fromhex: pairs of hex digits, blanks allowed between pairs (not inside one). */
export function parseHex(text: string): Uint8Array | string {
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    const pair = text.slice(i, i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return `"${text}" is not hex bytes: "${text[i]}${/[0-9a-fA-F]/.test(text[i]!) ? text[i + 1] ?? "" : ""}" at position ${i} is not a pair of hex digits`;
    out.push(parseInt(pair, 16));
    i += 2;
  }
  return new Uint8Array(out);
}
