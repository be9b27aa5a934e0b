// The only attribute access an expression has: calling one of these methods on a str, list, tuple
// or dict. Names outside METHOD_NAMES are refused by the parser; a listed name on a value whose type
// lacks it is a runtime TypeError. Nothing here touches a JS object's own methods by name.

import { fail } from "./errors.ts";
import { formatString } from "./format.ts";
import { iterate, toIndex } from "./ops.ts";
import { charge, checkSize, type Ctx, equal, str, Tuple, typeName, type Value } from "./values.ts";

type Method = (ctx: Ctx, self: never, args: Value[], kwargs: Map<string, Value>) => Value;

function arity(name: string, args: Value[], kwargs: Map<string, Value>, min: number, max: number): void {
  if (kwargs.size) fail("TypeError", `${name}() takes no keyword arguments`);
  if (args.length < min || args.length > max)
    fail("TypeError", `${name}() takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? "" : "s"} (${args.length} given)`);
}

function strArg(name: string, v: Value | undefined): string {
  if (typeof v !== "string") fail("TypeError", `${name}() argument must be str, not ${typeName(v ?? null)}`);
  return v as string;
}

const optStr = (name: string, v: Value | undefined): string | undefined => (v === undefined || v === null ? undefined : strArg(name, v));

function stripChars(s: string, chars: string | undefined, left: boolean, right: boolean): string {
  if (chars === undefined) return left && right ? s.trim() : left ? s.trimStart() : s.trimEnd();
  let a = 0;
  let b = s.length;
  if (left) while (a < b && chars.includes(s[a]!)) a++;
  if (right) while (b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

function split(ctx: Ctx, s: string, sep: string | undefined, maxsplit: number): Value[] {
  const out: string[] = [];
  if (sep === undefined) {
    let rest = s.trimStart();
    while (rest !== "") {
      if (maxsplit >= 0 && out.length >= maxsplit) {
        out.push(rest);
        break;
      }
      const m = /\s+/.exec(rest);
      if (!m) {
        out.push(rest);
        break;
      }
      out.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
  } else {
    if (sep === "") fail("ValueError", "empty separator");
    let from = 0;
    for (;;) {
      const at = maxsplit >= 0 && out.length >= maxsplit ? -1 : s.indexOf(sep, from);
      if (at < 0) {
        out.push(s.slice(from));
        break;
      }
      out.push(s.slice(from, at));
      from = at + sep.length;
    }
  }
  charge(ctx, out.length + s.length);
  return out;
}

/** `s.find(sub, start, end)` bounds, with Python's negative and out-of-range handling. */
function range(s: string, args: Value[]): [number, number] {
  const norm = (v: Value | undefined, dflt: number) => {
    if (v === undefined || v === null) return dflt;
    const n = toIndex(v, "slice indices");
    return n < 0 ? Math.max(0, n + s.length) : Math.min(n, s.length);
  };
  return [norm(args[1], 0), norm(args[2], s.length)];
}

function pad(ctx: Ctx, name: string, s: string, args: Value[], kwargs: Map<string, Value>, side: "left" | "right" | "zero"): string {
  arity(name, args, kwargs, 1, side === "zero" ? 1 : 2);
  const width = toIndex(args[0]!, "width");
  checkSize(width, "the padded string");
  const fill = args[1] === undefined ? (side === "zero" ? "0" : " ") : strArg(name, args[1]);
  if (Array.from(fill).length !== 1) fail("TypeError", "the fill character must be exactly one character long");
  const n = Math.max(0, width - Array.from(s).length);
  charge(ctx, n + s.length);
  if (side === "left") return s + fill.repeat(n);
  if (side === "right") return fill.repeat(n) + s;
  const sign = s[0] === "-" || s[0] === "+" ? s[0] : "";
  return sign + "0".repeat(n) + s.slice(sign.length);
}

const STR: Record<string, Method> = {
  upper: (ctx, s: string, a, k) => (arity("upper", a, k, 0, 0), charge(ctx, s.length), s.toUpperCase()),
  lower: (ctx, s: string, a, k) => (arity("lower", a, k, 0, 0), charge(ctx, s.length), s.toLowerCase()),
  strip: (_c, s: string, a, k) => (arity("strip", a, k, 0, 1), stripChars(s, optStr("strip", a[0]), true, true)),
  lstrip: (_c, s: string, a, k) => (arity("lstrip", a, k, 0, 1), stripChars(s, optStr("lstrip", a[0]), true, false)),
  rstrip: (_c, s: string, a, k) => (arity("rstrip", a, k, 0, 1), stripChars(s, optStr("rstrip", a[0]), false, true)),
  split: (ctx, s: string, a, k) => (arity("split", a, k, 0, 2), split(ctx, s, optStr("split", a[0]), a[1] === undefined ? -1 : toIndex(a[1], "maxsplit"))),
  join: (ctx, s: string, a, k) => {
    arity("join", a, k, 1, 1);
    const parts = iterate(ctx, a[0]!).map((p, i) => (typeof p === "string" ? p : fail("TypeError", `sequence item ${i}: expected str instance, ${typeName(p)} found`)));
    const len = parts.reduce((n, p) => n + p.length, 0) + s.length * Math.max(0, parts.length - 1);
    checkSize(len, "the joined string");
    charge(ctx, len);
    return parts.join(s);
  },
  replace: (ctx, s: string, a, k) => {
    arity("replace", a, k, 2, 3);
    const from = strArg("replace", a[0]);
    const to = strArg("replace", a[1]);
    const max = a[2] === undefined ? -1 : toIndex(a[2], "count");
    if (from === "") {
      const chars = Array.from(s);
      const n = max < 0 ? chars.length + 1 : Math.min(max, chars.length + 1);
      checkSize(s.length + n * to.length, "the replaced string");
      charge(ctx, s.length + n * to.length);
      return chars.map((c, i) => (i < n ? to + c : c)).join("") + (n > chars.length ? to : "");
    }
    let out = "";
    let pos = 0;
    for (let n = 0; max < 0 || n < max; n++) {
      const at = s.indexOf(from, pos);
      if (at < 0) break;
      out += s.slice(pos, at) + to;
      pos = at + from.length;
      checkSize(out.length, "the replaced string");
    }
    out += s.slice(pos);
    charge(ctx, out.length);
    return out;
  },
  startswith: (_c, s: string, a, k) => (arity("startswith", a, k, 1, 1), affix(s, a[0]!, "startswith", (p) => s.startsWith(p))),
  endswith: (_c, s: string, a, k) => (arity("endswith", a, k, 1, 1), affix(s, a[0]!, "endswith", (p) => s.endsWith(p))),
  find: (_c, s: string, a, k) => (arity("find", a, k, 1, 3), BigInt(find(s, a, false))),
  rfind: (_c, s: string, a, k) => (arity("rfind", a, k, 1, 3), BigInt(find(s, a, true))),
  index: (_c, s: string, a, k) => {
    arity("index", a, k, 1, 3);
    const at = find(s, a, false);
    return at < 0 ? fail("ValueError", "substring not found") : BigInt(at);
  },
  count: (_c, s: string, a, k) => {
    arity("count", a, k, 1, 3);
    const sub = strArg("count", a[0]);
    const [from, to] = range(s, a);
    const part = s.slice(from, to);
    return BigInt(sub === "" ? part.length + 1 : part.split(sub).length - 1);
  },
  format: (ctx, s: string, a, k) => formatString(ctx, s, a, k),
  zfill: (ctx, s: string, a, k) => pad(ctx, "zfill", s, a, k, "zero"),
  ljust: (ctx, s: string, a, k) => pad(ctx, "ljust", s, a, k, "left"),
  rjust: (ctx, s: string, a, k) => pad(ctx, "rjust", s, a, k, "right"),
  isdigit: (_c, s: string, a, k) => (arity("isdigit", a, k, 0, 0), /^\p{Nd}+$/u.test(s)),
  isalpha: (_c, s: string, a, k) => (arity("isalpha", a, k, 0, 0), /^\p{L}+$/u.test(s)),
  isalnum: (_c, s: string, a, k) => (arity("isalnum", a, k, 0, 0), /^[\p{L}\p{N}]+$/u.test(s)),
  isspace: (_c, s: string, a, k) => (arity("isspace", a, k, 0, 0), /^\s+$/.test(s)),
  capitalize: (_c, s: string, a, k) => (arity("capitalize", a, k, 0, 0), s.slice(0, 1).toUpperCase() + s.slice(1).toLowerCase()),
  title: (_c, s: string, a, k) => (arity("title", a, k, 0, 0), s.toLowerCase().replace(/(^|[^\p{L}])(\p{L})/gu, (_m, b: string, l: string) => b + l.toUpperCase())),
  removeprefix: (_c, s: string, a, k) => (arity("removeprefix", a, k, 1, 1), s.startsWith(strArg("removeprefix", a[0])) ? s.slice((a[0] as string).length) : s),
  removesuffix: (_c, s: string, a, k) => {
    arity("removesuffix", a, k, 1, 1);
    const x = strArg("removesuffix", a[0]);
    return x !== "" && s.endsWith(x) ? s.slice(0, s.length - x.length) : s;
  },
};

function affix(s: string, arg: Value, name: string, test: (p: string) => boolean): boolean {
  if (arg instanceof Tuple) return arg.items.some((p) => test(strArg(name, p)));
  return test(strArg(name, arg));
}

function find(s: string, a: Value[], last: boolean): number {
  const sub = strArg(last ? "rfind" : "find", a[0]);
  const [from, to] = range(s, a);
  if (from > to) return -1;
  const part = s.slice(from, to);
  const at = last ? part.lastIndexOf(sub) : part.indexOf(sub);
  return at < 0 ? -1 : at + from;
}

const SEQ: Record<string, Method> = {
  index: (ctx, seq: Value[] | Tuple, a, k) => {
    arity("index", a, k, 1, 1);
    const at = iterate(ctx, seq).findIndex((x) => equal(x, a[0]!));
    return at < 0 ? fail("ValueError", `${str(a[0]!)} is not in ${typeName(seq)}`) : BigInt(at);
  },
  count: (ctx, seq: Value[] | Tuple, a, k) => (arity("count", a, k, 1, 1), BigInt(iterate(ctx, seq).filter((x) => equal(x, a[0]!)).length)),
};

const DICT: Record<string, Method> = {
  get: (_c, d: Map<string, Value>, a, k) => {
    arity("get", a, k, 1, 2);
    return typeof a[0] === "string" && d.has(a[0]) ? d.get(a[0])! : (a[1] ?? null);
  },
  keys: (ctx, d: Map<string, Value>, a, k) => (arity("keys", a, k, 0, 0), charge(ctx, d.size), [...d.keys()]),
  values: (ctx, d: Map<string, Value>, a, k) => (arity("values", a, k, 0, 0), charge(ctx, d.size), [...d.values()]),
  items: (ctx, d: Map<string, Value>, a, k) => (arity("items", a, k, 0, 0), charge(ctx, d.size), [...d].map(([key, v]) => new Tuple([key, v]))),
};

export const METHOD_NAMES: ReadonlySet<string> = new Set([...Object.keys(STR), ...Object.keys(SEQ), ...Object.keys(DICT)]);

export function callMethod(ctx: Ctx, self: Value, name: string, args: Value[], kwargs: Map<string, Value>): Value {
  const table = typeof self === "string" ? STR : Array.isArray(self) || self instanceof Tuple ? SEQ : self instanceof Map ? DICT : undefined;
  const m = table && Object.hasOwn(table, name) ? table[name] : undefined;
  if (!m) return fail("TypeError", `'${typeName(self)}' object has no method '${name}'`);
  return m(ctx, self as never, args, kwargs);
}
