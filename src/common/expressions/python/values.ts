// The evaluator's value model and Python's rules for it: int is bigint (exact, any size up to a
// bound), float is a JS number, str a JS string, list a JS array, tuple a Tuple, dict a Map (only
// from the caller's variables), None null. Nothing else exists inside an evaluation: values from the
// caller are converted on the way in and back on the way out, so no JS object, prototype or
// function is ever reachable from an expression.

import { fail } from "./errors.ts";

export class Tuple {
  constructor(readonly items: readonly Value[]) {}
}

/** A built-in function (`len`, `str`, ...). The only callable value. */
export class Builtin {
  constructor(
    readonly name: string,
    readonly call: (ctx: Ctx, args: Value[], kwargs: Map<string, Value>) => Value,
  ) {}
}

export type Value = null | boolean | bigint | number | string | Value[] | Tuple | Map<string, Value> | Builtin;

/** Bounds for one evaluation. */
export const LIMITS = {
  /** Work units (loop iterations, characters and elements created) per evaluation. */
  work: 2_000_000,
  /** Longest string or list one operation may produce. */
  size: 1_000_000,
  /** Largest int, in bits. */
  intBits: 4096,
  /** Deepest nested list/dict taken from the caller's variables. */
  inputDepth: 32,
};

/** State of one evaluation: the caller's variables, comprehension slots and the work budget. */
export interface Ctx {
  scope: Record<string, unknown> | Map<string, unknown>;
  slots: Value[];
  work: number;
  /** Variables already converted in this evaluation. */
  vars?: Map<string, Value>;
  /** CompileOptions.exactNumbers: bigint ↔ int, number ↔ float, both ways. */
  exact?: boolean;
}

export function charge(ctx: Ctx, n: number): void {
  ctx.work += n;
  if (ctx.work > LIMITS.work) fail("LimitError", `the expression does too much work (limit ${LIMITS.work} steps)`);
}

export function checkSize(n: number, what: string): void {
  if (n > LIMITS.size) fail("LimitError", `${what} would have ${n} elements (limit ${LIMITS.size})`);
}

export function checkInt(v: bigint): bigint {
  if ((v < 0n ? -v : v) >> BigInt(LIMITS.intBits) !== 0n) fail("OverflowError", `integer larger than ${LIMITS.intBits} bits`);
  return v;
}

export const isInt = (v: Value): v is bigint | boolean => typeof v === "bigint" || typeof v === "boolean";
export const isNum = (v: Value): v is bigint | boolean | number => typeof v === "bigint" || typeof v === "boolean" || typeof v === "number";
export const asBig = (v: bigint | boolean): bigint => (typeof v === "boolean" ? (v ? 1n : 0n) : v);
export const asFloat = (v: bigint | boolean | number): number => (typeof v === "number" ? v : Number(asBig(v)));

export function typeName(v: Value): string {
  if (v === null) return "NoneType";
  if (Array.isArray(v)) return "list";
  if (v instanceof Tuple) return "tuple";
  if (v instanceof Map) return "dict";
  if (v instanceof Builtin) return "builtin_function_or_method";
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "bigint":
      return "int";
    case "number":
      return "float";
    default:
      return "str";
  }
}

export function truthy(v: Value): boolean {
  if (v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "bigint") return v !== 0n;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Tuple) return v.items.length > 0;
  if (v instanceof Map) return v.size > 0;
  return true;
}

/** Python's repr() of a float: shortest round-trip digits, exponent form outside 1e-4 ≤ |x| < 1e16. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expText] = x.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const sign = mant.startsWith("-") ? "-" : "";
  const digits = mant.replace(/^-/, "").replace(".", "");
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1);
    return `${sign}${int}.${frac || "0"}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

export function strRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += "\\" + q;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + q;
}

export function repr(v: Value, ctx?: Ctx): string {
  if (typeof v === "string") return strRepr(v);
  if (Array.isArray(v)) return `[${v.map((x) => repr(x, ctx)).join(", ")}]`;
  if (v instanceof Tuple) return v.items.length === 1 ? `(${repr(v.items[0]!, ctx)},)` : `(${v.items.map((x) => repr(x, ctx)).join(", ")})`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${strRepr(k)}: ${repr(x, ctx)}`).join(", ")}}`;
  return str(v, ctx);
}

export function str(v: Value, ctx?: Ctx): string {
  let s: string;
  if (v === null) s = "None";
  else if (typeof v === "boolean") s = v ? "True" : "False";
  else if (typeof v === "bigint") s = v.toString();
  else if (typeof v === "number") s = floatRepr(v);
  else if (typeof v === "string") s = v;
  else if (v instanceof Builtin) s = `<built-in function ${v.name}>`;
  else s = repr(v, ctx);
  if (ctx) charge(ctx, s.length);
  return s;
}

/** Python `==`. */
export function equal(a: Value, b: Value): boolean {
  if (isNum(a) && isNum(b)) {
    if (typeof a !== "number" && typeof b !== "number") return asBig(a) === asBig(b);
    return asFloat(a) === asFloat(b);
  }
  if (typeof a === "string" || typeof b === "string" || a === null || b === null) return a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]!));
  if (a instanceof Tuple && b instanceof Tuple) return a.items.length === b.items.length && a.items.every((x, i) => equal(x, b.items[i]!));
  if (a instanceof Map && b instanceof Map) return a.size === b.size && [...a].every(([k, x]) => b.has(k) && equal(x, b.get(k)!));
  return a === b;
}

/** Python ordering (`<`): numbers, strings, lists and tuples of like kind; anything else is a TypeError. */
export function less(a: Value, b: Value, op = "<"): boolean {
  if (isNum(a) && isNum(b)) {
    if (typeof a !== "number" && typeof b !== "number") return asBig(a) < asBig(b);
    return asFloat(a) < asFloat(b);
  }
  if (typeof a === "string" && typeof b === "string") return a < b;
  const seq = (x: Value) => (Array.isArray(x) ? x : x instanceof Tuple ? x.items : undefined);
  const sa = seq(a);
  const sb = seq(b);
  if (sa && sb && Array.isArray(a) === Array.isArray(b)) {
    for (let i = 0; i < sa.length && i < sb.length; i++) if (!equal(sa[i]!, sb[i]!)) return less(sa[i]!, sb[i]!, op);
    return sa.length < sb.length;
  }
  return fail("TypeError", `'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

/** The caller's value as an evaluator value; `exact`: a number is a float even when integral (ints come as bigint). */
export function fromJs(x: unknown, depth = 0, exact = false): Value {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case "boolean":
    case "string":
    case "bigint":
      return x;
    case "number":
      return !exact && Number.isInteger(x) && !Object.is(x, -0) ? BigInt(x) : x;
  }
  if (depth >= LIMITS.inputDepth) fail("LimitError", `a variable is nested more than ${LIMITS.inputDepth} levels deep`);
  if (Array.isArray(x)) {
    checkSize(x.length, "a list variable");
    return x.map((e) => fromJs(e, depth + 1, exact));
  }
  if (x instanceof Uint8Array) return Array.from(x, (b) => BigInt(b));
  if (typeof x === "object" && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null)) {
    const m = new Map<string, Value>();
    for (const k of Object.keys(x)) m.set(k, fromJs((x as Record<string, unknown>)[k], depth + 1, exact));
    return m;
  }
  return fail("TypeError", `a variable holds a value of unsupported type (${typeof x === "object" ? "object" : typeof x})`);
}

/** An evaluator value as a plain JS value: int within ±2^53 as number, beyond as bigint; `exact`: every int as bigint. */
export function toJs(v: Value, exact = false): unknown {
  if (typeof v === "bigint") return exact || v < -9007199254740991n || v > 9007199254740991n ? v : Number(v);
  if (Array.isArray(v)) return v.map((x) => toJs(x, exact));
  if (v instanceof Tuple) return v.items.map((x) => toJs(x, exact));
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, toJs(x, exact)]));
  if (v instanceof Builtin) return `<built-in function ${v.name}>`;
  return v;
}
