// Operators with Python's semantics: true and floor division, modulo with the divisor's sign,
// exact int arithmetic (bounded in size), sequence concatenation and repetition (bounded), indexing
// with negative indices, slices with steps, membership.

import { fail } from "./errors.ts";
import { asBig, asFloat, charge, checkInt, checkSize, type Ctx, equal, isInt, isNum, LIMITS, str, truthy, Tuple, typeName, type Value } from "./values.ts";

const operandError = (op: string, a: Value, b: Value): never =>
  fail("TypeError", `unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n) && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

function mod(a: bigint, b: bigint): bigint {
  const r = a % b;
  return r !== 0n && (r < 0n) !== (b < 0n) ? r + b : r;
}

function floatMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r === 0 ? (b < 0 ? -0 : 0) : r;
}

const bits = (v: bigint) => (v < 0n ? -v : v).toString(2).length;

function repeat(ctx: Ctx, seq: Value, times: bigint | boolean): Value {
  const n = Number(asBig(times) > 0n ? asBig(times) : 0n);
  if (typeof seq === "string") {
    const len = seq.length * n;
    checkSize(len, "the repeated string");
    charge(ctx, len);
    return seq.repeat(n);
  }
  const items = Array.isArray(seq) ? seq : (seq as Tuple).items;
  checkSize(items.length * n, "the repeated sequence");
  charge(ctx, items.length * n);
  const out: Value[] = [];
  for (let i = 0; i < n; i++) out.push(...items);
  return Array.isArray(seq) ? out : new Tuple(out);
}

const isSeq = (v: Value) => typeof v === "string" || Array.isArray(v) || v instanceof Tuple;

function power(a: bigint | boolean | number, b: bigint | boolean | number): Value {
  if (typeof a !== "number" && typeof b !== "number") {
    const x = asBig(a);
    const y = asBig(b);
    if (y < 0n) {
      if (x === 0n) fail("ZeroDivisionError", "0 cannot be raised to a negative power");
      return Number(x) ** Number(y);
    }
    if (x !== 0n && x !== 1n && x !== -1n && BigInt(bits(x) - 1) * y > BigInt(LIMITS.intBits)) fail("OverflowError", `the result of ** would be larger than ${LIMITS.intBits} bits`);
    return checkInt(x ** y);
  }
  const x = asFloat(a);
  const y = asFloat(b);
  if (x === 0 && y < 0) fail("ZeroDivisionError", "0.0 cannot be raised to a negative power");
  if (x < 0 && !Number.isInteger(y) && Number.isFinite(y)) fail("ValueError", "a negative number raised to a fractional power is complex (not supported)");
  return x ** y;
}

export function binary(ctx: Ctx, op: string, a: Value, b: Value): Value {
  if (isNum(a) && isNum(b)) {
    const ints = typeof a !== "number" && typeof b !== "number";
    switch (op) {
      case "+":
        return ints ? checkInt(asBig(a) + asBig(b)) : asFloat(a) + asFloat(b);
      case "-":
        return ints ? checkInt(asBig(a) - asBig(b)) : asFloat(a) - asFloat(b);
      case "*":
        return ints ? checkInt(asBig(a) * asBig(b)) : asFloat(a) * asFloat(b);
      case "/":
        if (asFloat(b) === 0) fail("ZeroDivisionError", "division by zero");
        return ints ? Number(asBig(a)) / Number(asBig(b)) : asFloat(a) / asFloat(b);
      case "//":
        if (asFloat(b) === 0) fail("ZeroDivisionError", "integer division or modulo by zero");
        return ints ? floorDiv(asBig(a), asBig(b)) : Math.floor(asFloat(a) / asFloat(b));
      case "%":
        if (asFloat(b) === 0) fail("ZeroDivisionError", "integer division or modulo by zero");
        return ints ? mod(asBig(a), asBig(b)) : floatMod(asFloat(a), asFloat(b));
      case "**":
        return power(a, b);
    }
    if (!ints) return operandError(op, a, b);
    const x = asBig(a as bigint | boolean);
    const y = asBig(b as bigint | boolean);
    const bothBool = typeof a === "boolean" && typeof b === "boolean";
    switch (op) {
      case "&":
        return bothBool ? a && b : x & y;
      case "|":
        return bothBool ? a || b : x | y;
      case "^":
        return bothBool ? a !== b : x ^ y;
      case "<<":
        if (y < 0n) fail("ValueError", "negative shift count");
        if (x !== 0n && BigInt(bits(x)) + y > BigInt(LIMITS.intBits)) fail("OverflowError", `the result of << would be larger than ${LIMITS.intBits} bits`);
        return x << y;
      case ">>":
        if (y < 0n) fail("ValueError", "negative shift count");
        return y > BigInt(LIMITS.intBits) ? (x < 0n ? -1n : 0n) : x >> y;
    }
    return operandError(op, a, b);
  }
  if (op === "+") {
    if (typeof a === "string" && typeof b === "string") {
      checkSize(a.length + b.length, "the joined string");
      charge(ctx, a.length + b.length);
      return a + b;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      checkSize(a.length + b.length, "the joined list");
      charge(ctx, a.length + b.length);
      return [...a, ...b];
    }
    if (a instanceof Tuple && b instanceof Tuple) {
      checkSize(a.items.length + b.items.length, "the joined tuple");
      charge(ctx, a.items.length + b.items.length);
      return new Tuple([...a.items, ...b.items]);
    }
    if (typeof a === "string") fail("TypeError", `can only concatenate str (not "${typeName(b)}") to str; use str() to convert`);
  }
  if (op === "*") {
    if (isSeq(a) && isInt(b)) return repeat(ctx, a, b);
    if (isInt(a) && isSeq(b)) return repeat(ctx, b, a);
  }
  if (op === "%" && typeof a === "string") fail("TypeError", "printf-style formatting (str % values) is not supported; use .format()");
  return operandError(op, a, b);
}

export function unary(op: string, x: Value): Value {
  if (op === "not") return !truthy(x);
  if (!isNum(x)) fail("TypeError", `bad operand type for unary ${op}: '${typeName(x)}'`);
  const n = x as bigint | boolean | number;
  if (op === "-") return typeof n === "number" ? -n : -asBig(n);
  if (op === "+") return typeof n === "number" ? n : asBig(n);
  if (typeof n === "number") fail("TypeError", "bad operand type for unary ~: 'float'");
  return ~asBig(n as bigint | boolean);
}

/** Code points of a string when it has surrogate pairs (Python indexes by code point), else undefined. */
export const codePoints = (s: string): string[] | undefined => (/[\uD800-\uDFFF]/.test(s) ? Array.from(s) : undefined);

export function pyLen(v: Value): number {
  if (typeof v === "string") return codePoints(v)?.length ?? v.length;
  if (Array.isArray(v)) return v.length;
  if (v instanceof Tuple) return v.items.length;
  if (v instanceof Map) return v.size;
  return fail("TypeError", `object of type '${typeName(v)}' has no len()`);
}

export function toIndex(v: Value, what = "indices"): number {
  if (!isInt(v)) fail("TypeError", `${what} must be integers, not ${typeName(v)}`);
  const n = asBig(v as bigint | boolean);
  return n > 1n << 60n ? 2 ** 60 : n < -(1n << 60n) ? -(2 ** 60) : Number(n);
}

export function index(x: Value, i: Value): Value {
  if (x instanceof Map) {
    if (typeof i !== "string") fail("KeyError", str(i));
    if (!x.has(i as string)) fail("KeyError", `${str(i)}`);
    return x.get(i as string)!;
  }
  const items = typeof x === "string" ? (codePoints(x) ?? x) : Array.isArray(x) ? x : x instanceof Tuple ? x.items : undefined;
  if (items === undefined) return fail("TypeError", `'${typeName(x)}' object is not subscriptable`);
  let k = toIndex(i, `${typeName(x)} indices`);
  if (k < 0) k += items.length;
  if (k < 0 || k >= items.length) fail("IndexError", `${typeName(x)} index out of range`);
  return items[k]!;
}

export function slice(ctx: Ctx, x: Value, lo: Value | undefined, hi: Value | undefined, stepV: Value | undefined): Value {
  const text = typeof x === "string";
  const items: readonly (Value | string)[] | string | undefined = text ? (codePoints(x) ?? x) : Array.isArray(x) ? x : x instanceof Tuple ? x.items : undefined;
  if (items === undefined) return fail("TypeError", `'${typeName(x)}' object is not subscriptable`);
  const len = items.length;
  const step = stepV === undefined || stepV === null ? 1 : toIndex(stepV, "slice indices");
  if (step === 0) fail("ValueError", "slice step cannot be zero");
  const adjust = (v: Value | undefined, dflt: number): number => {
    if (v === undefined || v === null) return dflt;
    let n = toIndex(v, "slice indices");
    if (n < 0) {
      n += len;
      if (n < 0) n = step < 0 ? -1 : 0;
    } else if (n >= len) n = step < 0 ? len - 1 : len;
    return n;
  };
  const start = adjust(lo, step < 0 ? len - 1 : 0);
  const stop = adjust(hi, step < 0 ? -1 : len);
  if (step === 1) {
    const out = items.slice(start, Math.max(start, stop));
    charge(ctx, out.length);
    return text ? (typeof out === "string" ? out : (out as string[]).join("")) : Array.isArray(x) ? (out as Value[]) : new Tuple(out as Value[]);
  }
  const out: Array<Value | string> = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(items[i]!);
  charge(ctx, out.length);
  return text ? out.join("") : Array.isArray(x) ? (out as Value[]) : new Tuple(out as Value[]);
}

export function contains(container: Value, item: Value): boolean {
  if (typeof container === "string") {
    if (typeof item !== "string") fail("TypeError", `'in <string>' requires string as left operand, not ${typeName(item)}`);
    return container.includes(item as string);
  }
  if (container instanceof Map) return typeof item === "string" && container.has(item);
  const items = Array.isArray(container) ? container : container instanceof Tuple ? container.items : undefined;
  if (!items) return fail("TypeError", `argument of type '${typeName(container)}' is not iterable`);
  return items.some((x) => equal(x, item));
}

/** Items of an iterable (str → characters, dict → keys). */
export function iterate(ctx: Ctx, v: Value): readonly Value[] {
  let out: readonly Value[];
  if (typeof v === "string") out = codePoints(v) ?? v.split("");
  else if (Array.isArray(v)) out = v;
  else if (v instanceof Tuple) out = v.items;
  else if (v instanceof Map) out = [...v.keys()];
  else return fail("TypeError", `'${typeName(v)}' object is not iterable`);
  charge(ctx, out.length);
  return out;
}
