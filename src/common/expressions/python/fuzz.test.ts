// Fuzz: 10,000 seeded random inputs (token soup and mutations of valid expressions) through compile
// and evaluate. Every failure must be the evaluator's own error, every result plain data, every
// evaluation quick; the known escape routes from JS sandboxes are refused outright.

import { describe, expect, test } from "bun:test";
import { compileExpression, ExpressionError, ExpressionSyntaxError } from "./index.ts";
import { seededRandom as prng } from "../../../../test/support/seeded-random.ts";

/** mulberry32: small, seeded, reproducible. */

const ESCAPES = [
  "__proto__", "constructor", "prototype", "globalThis", "process", "require", "Bun", "eval", "Function", "this", "module", "import",
  "__class__", "__globals__", "__builtins__", "__import__", "__subclasses__", "__dict__", "_", "self", "window", "Deno", "exec", "open",
  "getattr", "setattr", "vars", "globals", "locals", "type", "object", "compile", "breakpoint", "input", "print", "dir", "id", "hash",
];

const TOKENS = [
  ...ESCAPES, "value", "can_data", "s", "d", "x", "i", "k", "v",
  "0", "1", "-1", "2", "7", "0x1f", "0b101", "0o7", "1.5", "1e3", ".5", "10**9", "2**64", "255", "True", "False", "None",
  "'a'", '"b"', "'{}'", "'{0.__class__}'", "'{:>999999}'", "''", "'\\x41'", "r'\\d'", "'''t'''",
  "+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "~", "<", ">", "<=", ">=", "==", "!=", "=", ":=", "+=",
  "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "@", "...", "$", "${", "`", "\\", "#", "!", "?",
  "and", "or", "not", "in", "is", "if", "else", "for", "lambda", "yield", "await", "from", "as", "del", "with",
  "str", "int", "float", "bool", "len", "abs", "round", "min", "max", "sum", "hex", "bin", "range", "sorted", "format", "chr", "ord",
  ".upper()", ".split()", ".join", ".format(", ".replace(", ".get(", ".items()", ".constructor", ".__proto__", ".call", ".apply", ".bind",
];

const SEEDS = [
  "bool(value & 0b00000100)", "value / 4", "value * 10", "value + 5", "userSpeed if maxAllowedSpeed > userSpeed else maxAllowedSpeed",
  "'ODBC ' + s", "[i for i in [s, value, None] if i is not None][0]", "can_data[0] << 8 | can_data[1]", "sum(x for x in can_data) % 256",
  "'{:.2f}'.format(value / 3)", "s[::-1].upper()", "[k + str(v) for k, v in d.items()]", "int(s, 16) if s else -1", "round(value * 1.8 + 32, 1)",
  "max(can_data) - min(can_data)", "value // 10 % 7 ** 2", "not value or s in 'abc'", "hex(value)[2:].zfill(4)", "len(s.split(',')) * [0]",
  "(value - 32) / 1.8", "-value ** 2", "'x' * (value % 5)", "d.get('a', 0) + 1", "sorted(can_data, reverse=True)[:2]",
];

function tokenSoup(r: () => number): string {
  const n = 1 + Math.floor(r() * 12);
  let out = "";
  for (let i = 0; i < n; i++) out += TOKENS[Math.floor(r() * TOKENS.length)]! + (r() < 0.6 ? " " : "");
  return out;
}

function mutate(r: () => number): string {
  let s = SEEDS[Math.floor(r() * SEEDS.length)]!;
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    const what = r();
    if (what < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 3));
    else if (what < 0.6) s = s.slice(0, at) + TOKENS[Math.floor(r() * TOKENS.length)]! + s.slice(at);
    else if (what < 0.8) s = s.slice(0, at) + String.fromCharCode(32 + Math.floor(r() * 95)) + s.slice(at);
    else {
      const b = Math.floor(r() * s.length);
      s = s.slice(0, Math.min(at, b)) + s.slice(Math.max(at, b)) + s.slice(Math.min(at, b), Math.max(at, b));
    }
  }
  return s;
}

const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const ATOMS = ["value", "can_data", "s", "d", "0", "1", "-3", "2.5", "0xff", "True", "None", "'ab'", "'{}-{}'", "[1, 2, 3]", "(4, 5)", "''", "1e300"];
const BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "<", "<=", "==", "!=", "in", "not in", "is", "is not", "and", "or"];
const CALLS = ["str", "int", "float", "bool", "len", "abs", "round", "min", "max", "sum", "hex", "bin", "sorted", "list", "range", "chr", "ord", "repr"];
const METHODS = ["upper()", "split(',')", "strip()", "format(1, 2)", "replace('a', 'bb')", "find('b')", "zfill(5)", "get('a')", "index(1)", "count(1)"];

/** A syntactically valid expression from a small grammar, so evaluation paths get exercised. */
function grammar(r: () => number, depth = 0): string {
  const sub = () => grammar(r, depth + 1);
  const k = depth > 3 ? 0 : Math.floor(r() * 9);
  switch (k) {
    case 1:
      return `${sub()} ${pick(r, BINOPS)} ${sub()}`;
    case 2:
      return `${pick(r, ["-", "~", "not ", "+"])}${sub()}`;
    case 3:
      return `${pick(r, CALLS)}(${sub()})`;
    case 4:
      return `(${sub()}).${pick(r, METHODS)}`;
    case 5:
      return `${sub()}[${r() < 0.5 ? sub() : `${sub()}:${sub()}:${pick(r, ["1", "-1", "2"])}`}]`;
    case 6:
      return `${sub()} if ${sub()} else ${sub()}`;
    case 7:
      return `[${sub()} for x in ${sub()} if x]`;
    case 8:
      return `(${sub()}, ${sub()})`;
    default:
      return pick(r, ATOMS);
  }
}

/** Plain data only: no functions, no class instances, nothing from the engine. */
function plain(v: unknown, depth = 0): boolean {
  if (depth > 50) return false;
  if (v === null) return true;
  switch (typeof v) {
    case "boolean":
    case "number":
    case "bigint":
    case "string":
      return true;
    case "object":
      if (Array.isArray(v)) return v.every((x) => plain(x, depth + 1));
      return Object.getPrototypeOf(v) === Object.prototype && Object.values(v as object).every((x) => plain(x, depth + 1));
    default:
      return false;
  }
}

const scope = (r: () => number) => ({
  value: r() < 0.5 ? Math.floor(r() * 1000) - 500 : r() * 100,
  can_data: [Math.floor(r() * 256), Math.floor(r() * 256), 7],
  s: r() < 0.5 ? "ff" : "a,b",
  d: { a: 1, b: "two" },
  userSpeed: 50,
  maxAllowedSpeed: 40,
});

describe("fuzz", () => {
  test("10,000 random inputs: only the evaluator's errors, plain results, bounded time", () => {
    const r = prng(0x7b6a);
    const failures: string[] = [];
    let compiled = 0;
    let evaluated = 0;
    let slowest = 0;
    const started = performance.now();
    for (let n = 0; n < 10_000; n++) {
      const src = n % 3 === 0 ? tokenSoup(r) : n % 3 === 1 ? mutate(r) : grammar(r);
      let expr;
      try {
        expr = compileExpression(src);
        compiled++;
      } catch (e) {
        if (!(e instanceof ExpressionSyntaxError)) failures.push(`compile ${JSON.stringify(src)}: ${String(e)}`);
        else if (e.offset < 0 || e.offset > src.length) failures.push(`offset ${e.offset} outside ${JSON.stringify(src)}`);
        continue;
      }
      const t = performance.now();
      try {
        const v = expr.evaluate(scope(r));
        evaluated++;
        if (!plain(v)) failures.push(`not plain data from ${JSON.stringify(src)}`);
      } catch (e) {
        if (!(e instanceof ExpressionError)) failures.push(`evaluate ${JSON.stringify(src)}: ${String(e)}`);
      }
      slowest = Math.max(slowest, performance.now() - t);
    }
    console.log(`fuzz: ${compiled} compiled, ${evaluated} evaluated, slowest ${slowest.toFixed(1)} ms`);
    expect(failures).toEqual([]);
    expect(slowest).toBeLessThan(2000);
    // The generators must reach evaluation often enough to mean something.
    expect(compiled).toBeGreaterThan(3000);
    expect(evaluated).toBeGreaterThan(600);
    expect(performance.now() - started).toBeLessThan(60_000);
    expect((globalThis as Record<string, unknown>).pwned).toBeUndefined();
  });

  const attempts = [
    "().__class__", "''.__class__.__mro__", "[].__class__.__base__.__subclasses__()", "__import__('os').system('id')", "__builtins__",
    "constructor", "constructor.constructor('return process')()", "value.constructor", "s.constructor", "__proto__", "d.__proto__", "d['__proto__']",
    "d['constructor']", "globalThis", "process", "process.exit(1)", "require('fs')", "Bun", "Bun.spawn(['id'])", "eval('1')", "Function('return 1')()",
    "this", "getattr(value, 'x')", "type(value)", "open('/etc/passwd')", "exec('x')", "'{0.__class__}'.format(1)", "'{.constructor}'.format(s)",
    "''.join.__call__", "str.__call__", "s.format.call", "len.apply", "[x for x in ().__class__.__bases__]", "(lambda: 0)()", "f'{process}'",
    "import os", "from os import path", "sorted.__self__", "s.split.__globals__", "d.get('__proto__')", "d.get('constructor')", "[].keys.bind",
  ];
  test.each(attempts)("%p cannot reach anything", (src) => {
    let result: unknown;
    try {
      result = compileExpression(src).evaluate({ value: 1, s: "x", d: { a: 1 } });
    } catch (e) {
      expect(e).toBeInstanceOf(ExpressionError);
      return;
    }
    // Only dict lookups of absent keys get this far: they give None (get) or a KeyError.
    expect(result).toBeNull();
  });
});
