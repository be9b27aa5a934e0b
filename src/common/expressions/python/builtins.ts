// Built-in functions: conversions (str int float bool list tuple), numbers (abs round divmod pow hex
// bin oct), sequences (len min max sum sorted reversed range any all), characters (chr ord) and
// repr/format. Each is a Builtin value; there is no other way to call anything.

import { fail } from "./errors.ts";
import { formatValue } from "./format.ts";
import { binary, iterate, pyLen, toIndex } from "./ops.ts";
import { asBig, asFloat, Builtin, charge, checkInt, checkSize, type Ctx, isInt, isNum, less, repr, str, truthy, Tuple, typeName, type Value } from "./values.ts";

function args(name: string, a: Value[], k: Map<string, Value>, min: number, max: number, keywords: string[] = []): void {
  for (const key of k.keys()) if (!keywords.includes(key)) fail("TypeError", `${name}() got an unexpected keyword argument '${key}'`);
  if (a.length < min || a.length > max) fail("TypeError", `${name}() takes ${min === max ? `exactly ${min}` : `${min} to ${max}`} argument${max === 1 ? "" : "s"} (${a.length} given)`);
}

const DIGITS: Record<number, string> = { 2: "01", 8: "0-7", 10: "0-9", 16: "0-9a-fA-F" };

function intFromText(s: string, base: number): bigint {
  const t = s.trim();
  const bad = () => fail("ValueError", `invalid literal for int() with base ${base}: ${repr(s)}`);
  const m = /^([+-]?)(0[xXoObB])?(.*)$/s.exec(t)!;
  const [, sign, prefix, rest = ""] = m;
  let b = base;
  let body = rest;
  if (prefix) {
    const p = prefix[1]!.toLowerCase();
    const pb = p === "x" ? 16 : p === "o" ? 8 : 2;
    if (b === 0 || b === pb) {
      b = pb;
      if (body.startsWith("_")) body = body.slice(1);
    } else body = prefix + rest; // "0b1" in base 16 is the digits 0, b, 1
  } else if (b === 0) b = 10;
  if (b < 2 || b > 36) fail("ValueError", "int() base must be >= 2 and <= 36, or 0");
  if (body.length > LIMIT_DIGITS) fail("LimitError", "the number text is too long");
  const chars = DIGITS[b] ?? (b < 10 ? `0-${b - 1}` : `0-9a-${String.fromCharCode(86 + b)}A-${String.fromCharCode(54 + b)}`);
  if (!new RegExp(`^[${chars}](?:_?[${chars}])*$`).test(body)) bad();
  const clean = body.replace(/_/g, "").toLowerCase();
  let n = 0n;
  if (b === 10) n = BigInt(clean);
  else if (b === 16 || b === 8 || b === 2) n = BigInt(`0${b === 16 ? "x" : b === 8 ? "o" : "b"}${clean}`);
  else for (const c of clean) n = n * BigInt(b) + BigInt(parseInt(c, b));
  return checkInt(sign === "-" ? -n : n);
}
const LIMIT_DIGITS = 4300;

function floatFromText(s: string): number {
  const t = s.trim().toLowerCase();
  const m = /^([+-]?)(inf|infinity|nan)$/.exec(t);
  if (m) return m[2] === "nan" ? NaN : m[1] === "-" ? -Infinity : Infinity;
  if (!/^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:e[+-]?\d(?:_?\d)*)?$/.test(t)) fail("ValueError", `could not convert string to float: ${repr(s)}`);
  return Number(t.replace(/_/g, ""));
}

function toInt(v: Value): bigint {
  if (isInt(v)) return asBig(v);
  if (typeof v === "number") {
    if (Number.isNaN(v)) fail("ValueError", "cannot convert float NaN to integer");
    if (!Number.isFinite(v)) fail("OverflowError", "cannot convert float infinity to integer");
    return checkInt(BigInt(Math.trunc(v)));
  }
  if (typeof v === "string") return intFromText(v, 10);
  return fail("TypeError", `int() argument must be a string or a real number, not '${typeName(v)}'`);
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

function round(v: Value, nd: Value | undefined): Value {
  if (!isNum(v)) fail("TypeError", `type ${typeName(v)} doesn't define __round__ method`);
  if (nd !== undefined && nd !== null && !isInt(nd)) fail("TypeError", `'${typeName(nd)}' object cannot be interpreted as an integer`);
  if (typeof v !== "number") {
    const x = asBig(v as bigint | boolean);
    if (nd === undefined || nd === null || asBig(nd as bigint) >= 0n) return x;
    const q = 10n ** -asBig(nd as bigint);
    const r = ((x % q) + q) % q;
    const down = x - r;
    return r * 2n > q || (r * 2n === q && (down / q) % 2n !== 0n) ? down + q : down;
  }
  if (nd === undefined || nd === null) {
    if (!Number.isFinite(v)) fail(Number.isNaN(v) ? "ValueError" : "OverflowError", `cannot convert float ${floatName(v)} to integer`);
    return checkInt(BigInt(roundHalfEven(v)));
  }
  const n = Math.max(-400, Math.min(400, toIndex(nd)));
  if (!Number.isFinite(v)) return v;
  if (n >= 0 && n <= 60) {
    // toFixed rounds the exact binary value (so 2.675 → 2.67, as Python); only exact ties differ:
    // toFixed goes away from zero, Python to the even digit.
    const a = Math.abs(v);
    const exact = a.toFixed(Math.min(100, n + 40));
    const tie = /^50*$/.test(exact.replace(".", "").slice(exact.replace(".", "").length - 40));
    let r = Number(a.toFixed(n));
    if (tie) {
      const down = Number(exact.slice(0, exact.length - 40));
      const lastDigit = Number(exact.replace(".", "").slice(0, -40).slice(-1));
      r = lastDigit % 2 === 0 ? down : r;
    }
    return v < 0 || Object.is(v, -0) ? -r : r;
  }
  const m = 10 ** n;
  return Number.isFinite(v * m) ? roundHalfEven(v * m) / m : v;
}
const floatName = (v: number) => (Number.isNaN(v) ? "NaN" : "infinity");

function extreme(ctx: Ctx, name: string, a: Value[], k: Map<string, Value>, pick: (x: Value, best: Value) => boolean): Value {
  args(name, a, k, 1, Infinity, ["default"]);
  const items = a.length === 1 ? iterate(ctx, a[0]!) : a;
  if (items.length === 0) return k.has("default") ? k.get("default")! : fail("ValueError", `${name}() arg is an empty sequence`);
  let best: Value = items[0]!;
  for (const x of items.slice(1)) if (pick(x, best)) best = x;
  return best;
}

function radix(name: string, v: Value, base: number, prefix: string): string {
  if (!isInt(v)) fail("TypeError", `'${typeName(v)}' object cannot be interpreted as an integer`);
  const n = asBig(v as bigint | boolean);
  return (n < 0n ? "-" : "") + prefix + (n < 0n ? -n : n).toString(base);
}

function range(ctx: Ctx, a: Value[]): Value[] {
  for (const x of a) if (!isInt(x)) fail("TypeError", `'${typeName(x)}' object cannot be interpreted as an integer`);
  const n = a.map((x) => asBig(x as bigint | boolean));
  const [start, stop, step] = n.length === 1 ? [0n, n[0]!, 1n] : [n[0]!, n[1]!, n[2] ?? 1n];
  if (step === 0n) fail("ValueError", "range() arg 3 must not be zero");
  const count = step > 0n ? (stop > start ? (stop - start + step - 1n) / step : 0n) : start > stop ? (start - stop - step - 1n) / -step : 0n;
  checkSize(Number(count > 10n ** 9n ? 10n ** 9n : count), "range()");
  charge(ctx, Number(count));
  const out: Value[] = [];
  for (let i = 0n, x = start; i < count; i++, x += step) out.push(x);
  return out;
}

const defs: Record<string, (ctx: Ctx, a: Value[], k: Map<string, Value>) => Value> = {
  str: (ctx, a, k) => (args("str", a, k, 0, 1), a.length ? str(a[0]!, ctx) : ""),
  repr: (ctx, a, k) => (args("repr", a, k, 1, 1), repr(a[0]!, ctx)),
  int: (_c, a, k) => {
    args("int", a, k, 0, 2, ["base"]);
    const base = a[1] ?? k.get("base");
    if (base === undefined) return a.length ? toInt(a[0]!) : 0n;
    if (typeof a[0] !== "string") fail("TypeError", "int() can't convert non-string with explicit base");
    return intFromText(a[0] as string, toIndex(base, "base"));
  },
  float: (_c, a, k) => {
    args("float", a, k, 0, 1);
    const v = a[0] ?? 0;
    if (typeof v === "string") return floatFromText(v);
    if (isNum(v)) return asFloat(v);
    return fail("TypeError", `float() argument must be a string or a real number, not '${typeName(v)}'`);
  },
  bool: (_c, a, k) => (args("bool", a, k, 0, 1), a.length ? truthy(a[0]!) : false),
  len: (_c, a, k) => (args("len", a, k, 1, 1), BigInt(pyLen(a[0]!))),
  abs: (_c, a, k) => {
    args("abs", a, k, 1, 1);
    const v = a[0]!;
    if (typeof v === "number") return Math.abs(v);
    if (isInt(v)) return asBig(v) < 0n ? -asBig(v) : asBig(v);
    return fail("TypeError", `bad operand type for abs(): '${typeName(v)}'`);
  },
  round: (_c, a, k) => (args("round", a, k, 1, 2, ["ndigits"]), round(a[0]!, a[1] ?? k.get("ndigits"))),
  min: (ctx, a, k) => extreme(ctx, "min", a, k, (x, best) => less(x, best)),
  max: (ctx, a, k) => extreme(ctx, "max", a, k, (x, best) => less(best, x)),
  sum: (ctx, a, k) => {
    args("sum", a, k, 1, 2, ["start"]);
    let total: Value = a[1] ?? k.get("start") ?? 0n;
    if (typeof total === "string") fail("TypeError", "sum() can't sum strings [use ''.join(seq) instead]");
    for (const x of iterate(ctx, a[0]!)) total = binary(ctx, "+", total, x);
    return total;
  },
  any: (ctx, a, k) => (args("any", a, k, 1, 1), iterate(ctx, a[0]!).some(truthy)),
  all: (ctx, a, k) => (args("all", a, k, 1, 1), iterate(ctx, a[0]!).every(truthy)),
  list: (ctx, a, k) => (args("list", a, k, 0, 1), a.length ? [...iterate(ctx, a[0]!)] : []),
  tuple: (ctx, a, k) => (args("tuple", a, k, 0, 1), new Tuple(a.length ? [...iterate(ctx, a[0]!)] : [])),
  sorted: (ctx, a, k) => {
    args("sorted", a, k, 1, 1, ["reverse"]);
    const items = [...iterate(ctx, a[0]!)];
    charge(ctx, items.length * Math.ceil(Math.log2(items.length + 1)));
    const rev = truthy(k.get("reverse") ?? false);
    return items.sort((x, y) => (less(x, y) ? (rev ? 1 : -1) : less(y, x) ? (rev ? -1 : 1) : 0));
  },
  reversed: (ctx, a, k) => (args("reversed", a, k, 1, 1), [...iterate(ctx, a[0]!)].reverse()),
  range: (ctx, a, k) => (args("range", a, k, 1, 3), range(ctx, a)),
  hex: (_c, a, k) => (args("hex", a, k, 1, 1), radix("hex", a[0]!, 16, "0x")),
  bin: (_c, a, k) => (args("bin", a, k, 1, 1), radix("bin", a[0]!, 2, "0b")),
  oct: (_c, a, k) => (args("oct", a, k, 1, 1), radix("oct", a[0]!, 8, "0o")),
  chr: (_c, a, k) => {
    args("chr", a, k, 1, 1);
    const n = toIndex(a[0]!, "chr() argument");
    return n < 0 || n > 0x10ffff ? fail("ValueError", "chr() arg not in range(0x110000)") : String.fromCodePoint(n);
  },
  ord: (_c, a, k) => {
    args("ord", a, k, 1, 1);
    const s = a[0];
    if (typeof s !== "string" || Array.from(s).length !== 1) fail("TypeError", `ord() expected a character, but got ${typeof s === "string" ? `a string of length ${Array.from(s).length}` : typeName(s ?? null)}`);
    return BigInt((s as string).codePointAt(0)!);
  },
  divmod: (ctx, a, k) => (args("divmod", a, k, 2, 2), new Tuple([binary(ctx, "//", a[0]!, a[1]!), binary(ctx, "%", a[0]!, a[1]!)])),
  pow: (ctx, a, k) => (args("pow", a, k, 2, 2), binary(ctx, "**", a[0]!, a[1]!)),
  format: (ctx, a, k) => {
    args("format", a, k, 1, 2);
    const spec = a[1] ?? "";
    return typeof spec === "string" ? formatValue(ctx, a[0]!, spec) : fail("TypeError", "format() argument 2 must be str");
  },
};

export const BUILTINS: ReadonlyMap<string, Builtin> = new Map(Object.entries(defs).map(([name, fn]) => [name, new Builtin(name, fn)]));
