// A tiny statement layer over the expression evaluator, for config strings that hold a whole Python
// function (Request `subRequests[].processingFunction`: `def process_data(data, key): return {...}`).
// Upstream `exec`s that text; here it is split into logical lines, its indentation read into blocks
// of simple statements (`x = e`, `x[k] = e`, `a, b = e`, `return e`, `pass`, `if/elif/else`, bare
// expressions), and every expression compiled by the same parser and compiler as the rest of the
// subset. No loops, so a call runs each statement at most once; the work budget of one evaluation
// covers the whole call. Every error names its offset in the function text.

import { compile, type Fn } from "./compile.ts";
import { ExpressionError, ExpressionRuntimeError, ExpressionSyntaxError, fail } from "./errors.ts";
import { index as getItem, iterate, toIndex } from "./ops.ts";
import { type Node, parse } from "./parser.ts";
import { charge, type Ctx, fromJs, toJs, truthy, Tuple, typeName, type Value } from "./values.ts";
import type { ExpressionProblem } from "./index.ts";

export interface FunctionOptions {
  /** The name the function must have (upstream calls it by that name). */
  name: string;
  /** The positional arguments the caller passes, as upstream names them (the function may name them otherwise). */
  params: readonly string[];
  /** Check the returned value (e.g. "must be a dict"); runs on the evaluator's value. */
  returns?: "dict";
}

export interface PythonFunction {
  readonly source: string;
  readonly name: string;
  readonly params: readonly string[];
  /** Call with plain JS arguments (converted as for expressions); throws ExpressionRuntimeError. */
  call(...args: unknown[]): unknown;
}

/** Longest function text accepted. */
export const MAX_FUNCTION_SOURCE = 20_000;

const STATEMENT_KEYWORDS = new Set(["for", "while", "try", "except", "finally", "with", "import", "from", "class", "def", "del", "global", "nonlocal", "raise", "assert", "break", "continue", "yield", "async", "await", "lambda", "match"]);

const syntax = (reason: string, at: number, len = 1): never => {
  throw new ExpressionSyntaxError(reason, at, Math.max(1, len));
};

// ---------------------------------------------------------------- logical lines

interface Line {
  /** Leading whitespace of the line as written. */
  indent: string;
  /** Offsets of the statement text in the source (comments blanked, without the indent). */
  start: number;
  end: number;
}

/**
 * The source with comments replaced by spaces (offsets kept), a mask of the characters outside
 * strings and brackets, and the logical lines (physical lines joined inside brackets and after `\`).
 */
function scan(src: string): { text: string; top: Uint8Array; lines: Line[] } {
  const chars = src.split("");
  const top = new Uint8Array(src.length);
  const lines: Line[] = [];
  let depth = 0;
  let lineStart = 0; // start of the current logical line
  const openers: number[] = [];
  const flush = (end: number) => {
    let s = lineStart;
    while (s < end && (chars[s] === " " || chars[s] === "\t" || chars[s] === "\f")) s++;
    let e = end;
    while (e > s && /\s/.test(chars[e - 1]!)) e--;
    if (e > s) lines.push({ indent: src.slice(lineStart, s), start: s, end: e });
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "'" || c === '"') {
      const triple = src.startsWith(c.repeat(3), i);
      const close = triple ? c.repeat(3) : c;
      let j = i + close.length;
      for (;;) {
        if (j >= src.length) syntax("string is not closed", i, src.length - i);
        if (src[j] === "\\") j += 2;
        else if (src.startsWith(close, j)) break;
        else if (!triple && (src[j] === "\n" || src[j] === "\r")) syntax("string is not closed before the end of the line", i, j - i);
        else j++;
      }
      i = j + close.length;
      continue;
    }
    if (c === "#") {
      while (i < src.length && src[i] !== "\n" && src[i] !== "\r") chars[i++] = " ";
      continue;
    }
    if (c === "\\" && (src[i + 1] === "\n" || src[i + 1] === "\r")) {
      i += 2;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") {
      if (depth === 0) top[i] = 1; // brackets opening and closing at depth 0 count as top level
      openers.push(i);
      depth++;
    } else if (c === ")" || c === "]" || c === "}") {
      const o = openers.pop();
      if (o === undefined) syntax(`unmatched "${c}"`, i);
      if ("([{"[")]}".indexOf(c)] !== src[o!]) syntax(`"${c}" does not match "${src[o!]}"`, i);
      depth--;
      if (depth === 0) top[i] = 1;
    } else if (depth === 0) {
      if (c === "\n" || c === "\r") {
        flush(i);
        lineStart = i + 1;
      } else top[i] = 1;
    }
    i++;
  }
  if (depth > 0) syntax("bracket is not closed", openers[openers.length - 1]!);
  flush(src.length);
  return { text: chars.join(""), top, lines };
}

// ---------------------------------------------------------------- statements

/** An expression as written: its text range in the source. */
interface Span {
  start: number;
  end: number;
}

type Target = { k: "name"; id: string; at: number } | { k: "item"; obj: Span; key: Span; at: number } | { k: "names"; ids: Array<{ id: string; at: number }> };

type Stmt =
  | { k: "return"; at: number; value?: Span }
  | { k: "pass"; at: number }
  | { k: "expr"; at: number; value: Span }
  | { k: "assign"; at: number; target: Target; op?: string; value: Span }
  | { k: "if"; at: number; branches: Array<{ test?: Span; body: Stmt[] }> };

const NAME = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;
const AUGMENTED = ["**", "//", ">>", "<<", "+", "-", "*", "/", "%", "&", "|", "^"];

class StatementParser {
  private i = 0;
  constructor(
    private readonly text: string,
    private readonly top: Uint8Array,
    private readonly lines: Line[],
  ) {}

  /** First character at depth 0 in [s, e) that `pred` accepts. */
  private findTop(s: number, e: number, pred: (k: number) => boolean): number {
    for (let k = s; k < e; k++) if (this.top[k] && pred(k)) return k;
    return -1;
  }

  private word(s: number, e: number): string {
    const m = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/u.exec(this.text.slice(s, e));
    return m ? m[0] : "";
  }

  private trim(s: number, e: number): Span {
    while (s < e && /\s/.test(this.text[s]!)) s++;
    while (e > s && /\s/.test(this.text[e - 1]!)) e--;
    return { start: s, end: e };
  }

  /** The whole function: one `def` at the top level. */
  func(name: string, expected: readonly string[]): { params: string[]; paramsAt: number[]; body: Stmt[] } {
    if (this.lines.length === 0) syntax(`the function is empty; write "def ${name}(...): return ..."`, 0);
    const first = this.lines[0]!;
    const { start, end } = first;
    if (this.word(start, end) !== "def") {
      const w = this.word(start, end);
      if (w === "import" || w === "from") syntax("imports are not supported: only the built-ins of src/common/expressions/README.md exist", start, w.length);
      syntax(`expected "def ${name}(...):" here`, start, Math.max(1, w.length));
    }
    const colon = this.findTop(start, end, (k) => this.text[k] === ":");
    const header = /^def\s+([^\s(]+)\s*\(([^)]*)\)\s*(->[^:]*)?$/u.exec(this.text.slice(start, colon < 0 ? end : colon));
    const arity = expected.length;
    if (colon < 0 || !header) syntax(`expected "def ${name}(${expected.join(", ")}):"`, start, (colon < 0 ? end : colon) - start);
    const fnName = header![1]!;
    if (fnName !== name) syntax(`the function must be named ${name} (the gateway calls ${name}), not ${fnName}`, start + header![0].indexOf(fnName, 3), fnName.length);
    const paramsStart = start + header![0].indexOf("(") + 1;
    const params: string[] = [];
    const paramsAt: number[] = [];
    let at = paramsStart;
    for (const raw of header![2]!.split(",")) {
      const p = raw.trim();
      const pAt = at + raw.indexOf(p);
      at += raw.length + 1;
      if (p === "" && params.length === 0 && header![2]!.trim() === "") break;
      if (!NAME.test(p) || p.startsWith("__")) syntax(`parameter "${p}" is not supported: write plain names (no defaults, annotations, *args)`, pAt, Math.max(1, p.length));
      if (params.includes(p)) syntax(`duplicate parameter "${p}"`, pAt, p.length);
      params.push(p);
      paramsAt.push(pAt);
    }
    if (params.length !== arity) syntax(`${name} must take ${arity} parameter${arity === 1 ? "" : "s"} (${expected.join(", ")}), not ${params.length}`, paramsStart - 1, at - paramsStart + 1);
    const body = this.suite(first, colon!, end, "def");
    if (this.i < this.lines.length) {
      const l = this.lines[this.i]!;
      syntax(l.indent.length > first.indent.length ? "unindent does not match any outer indentation level" : `only the function ${name} may be defined here; statements outside it are not supported`, l.start, l.end - l.start);
    }
    return { params, paramsAt, body };
  }

  /** The body of a compound statement whose header ends at `colon` on `line`. */
  private suite(line: Line, colon: number, end: number, what: string): Stmt[] {
    this.i++;
    const inline = this.trim(colon + 1, end);
    if (inline.end > inline.start) return this.simpleStatements(inline.start, inline.end);
    const next = this.lines[this.i];
    if (!next || !(next.indent.length > line.indent.length && next.indent.startsWith(line.indent)))
      syntax(`expected an indented block after "${what}"`, next ? next.start : end, next ? next.end - next.start : 1);
    return this.block(next!.indent);
  }

  private block(indent: string): Stmt[] {
    const out: Stmt[] = [];
    let afterBlock = false; // the previous statement ended with an indented block
    while (this.i < this.lines.length) {
      const line = this.lines[this.i]!;
      if (line.indent !== indent) {
        if (indent.startsWith(line.indent) && line.indent.length < indent.length) break; // dedent
        const deeper = line.indent.length > indent.length && line.indent.startsWith(indent) && !afterBlock;
        syntax(deeper ? "unexpected indent" : "unindent does not match any outer indentation level", line.start, line.end - line.start);
      }
      const before = this.i;
      out.push(...this.statement(line));
      afterBlock = this.i > before + 1;
    }
    return out;
  }

  private statement(line: Line): Stmt[] {
    const { start, end } = line;
    const w = this.word(start, end);
    if (w === "if") return [this.ifStatement(line)];
    if (w === "elif" || w === "else") syntax(`"${w}" without a matching "if"`, start, w.length);
    if (w === "def") syntax("nested functions are not supported", start, 3);
    if (STATEMENT_KEYWORDS.has(w) && w !== "lambda" && w !== "await" && w !== "yield") {
      const hint = w === "for" || w === "while" ? "; use a comprehension such as sum(x for x in xs) or [f(x) for x in xs]" : "";
      syntax(`"${w}" statements are not supported${hint}`, start, w.length);
    }
    this.i++;
    return this.simpleStatements(start, end);
  }

  private ifStatement(line: Line): Stmt {
    const branches: Array<{ test?: Span; body: Stmt[] }> = [];
    let l: Line | undefined = line;
    let kw = "if";
    for (;;) {
      const colon = this.findTop(l.start, l.end, (k) => this.text[k] === ":");
      if (colon < 0) syntax(`expected ":" after the ${kw} condition`, l.end - 1);
      let test: Span | undefined;
      if (kw !== "else") {
        test = this.trim(l.start + kw.length, colon);
        if (test.end <= test.start) syntax(`"${kw}" needs a condition`, l.start, kw.length);
      } else if (this.trim(l.start + 4, colon).end > this.trim(l.start + 4, colon).start) syntax('"else" takes no condition', l.start + 4, colon - l.start - 4);
      branches.push({ test, body: this.suite(l, colon, l.end, kw) });
      if (kw === "else") break;
      const next: Line | undefined = this.lines[this.i];
      if (!next || next.indent !== line.indent) break;
      const w = this.word(next.start, next.end);
      if (w !== "elif" && w !== "else") break;
      kw = w;
      l = next;
    }
    return { k: "if", at: line.start, branches };
  }

  /** `a; b; c` on one line. */
  private simpleStatements(s: number, e: number): Stmt[] {
    const out: Stmt[] = [];
    let from = s;
    for (;;) {
      const semi = this.findTop(from, e, (k) => this.text[k] === ";");
      const part = this.trim(from, semi < 0 ? e : semi);
      if (part.end > part.start) out.push(this.simple(part.start, part.end));
      else if (semi >= 0 && semi + 1 < e) syntax('empty statement before ";"', semi);
      if (semi < 0) return out;
      from = semi + 1;
    }
  }

  private simple(s: number, e: number): Stmt {
    const w = this.word(s, e);
    if (w === "return") return { k: "return", at: s, value: e > s + 6 ? this.trim(s + 6, e) : undefined };
    if (w === "pass" && e === s + 4) return { k: "pass", at: s };
    if (w === "if" || w === "elif" || w === "else") syntax(`"${w}" must start its own line here`, s, w.length);
    if (STATEMENT_KEYWORDS.has(w) && w !== "lambda" && w !== "await" && w !== "yield") syntax(`"${w}" statements are not supported`, s, w.length);
    // an assignment: the first `=` at depth 0 that is not part of ==, <=, >=, !=, :=
    const t = this.text;
    const eq = this.findTop(s, e, (k) => t[k] === "=" && t[k + 1] !== "=" && !"=!:".includes(t[k - 1] ?? "") && !((t[k - 1] === "<" || t[k - 1] === ">") && t[k - 2] !== t[k - 1]));
    if (eq < 0) return { k: "expr", at: s, value: { start: s, end: e } };
    const again = this.findTop(eq + 1, e, (k) => t[k] === "=" && t[k + 1] !== "=" && !"=!<>:".includes(t[k - 1] ?? ""));
    if (again >= 0) syntax("chained assignment (a = b = ...) is not supported", again);
    let op: string | undefined;
    let targetEnd = eq;
    for (const o of AUGMENTED) {
      if (t.slice(eq - o.length, eq) === o) {
        op = o;
        targetEnd = eq - o.length;
        break;
      }
    }
    const value = this.trim(eq + 1, e);
    if (value.end <= value.start) syntax("nothing to assign", eq);
    const target = this.target(this.trim(s, targetEnd), op !== undefined);
    return { k: "assign", at: s, target, op, value };
  }

  private target(span: Span, augmented: boolean): Target {
    const raw = this.text.slice(span.start, span.end);
    if (span.end <= span.start) syntax("nothing to assign to", span.start);
    if (NAME.test(raw)) {
      if (raw.startsWith("__")) syntax(`"${raw}": names starting with "__" are not accessible`, span.start, raw.length);
      return { k: "name", id: raw, at: span.start };
    }
    // x[...] = ...: the last top-level "[" opens the final subscript (strings and inner brackets are not top level)
    if (raw.endsWith("]") && this.top[span.end - 1]) {
      let open = span.end - 2;
      while (open > span.start && !(this.top[open] && this.text[open] === "[")) open--;
      if (open > span.start && this.text[open] === "[") return { k: "item", obj: this.trim(span.start, open), key: this.trim(open + 1, span.end - 1), at: span.start };
    }
    if (!augmented && raw.includes(",")) {
      const ids: Array<{ id: string; at: number }> = [];
      let at = span.start;
      for (const part of raw.replace(/^\(|\)$/g, (m) => " ".repeat(m.length)).split(",")) {
        const p = part.trim();
        const pAt = at + part.indexOf(p);
        at += part.length + 1;
        if (p === "" && ids.length > 0) continue;
        if (!NAME.test(p) || p.startsWith("__")) syntax(`cannot assign to "${p}": only names, name[key] and a, b = ... are supported`, pAt, Math.max(1, p.length));
        ids.push({ id: p, at: pAt });
      }
      return { k: "names", ids };
    }
    return syntax(`cannot assign to "${raw}": only names, name[key] and a, b = ... are supported`, span.start, raw.length);
  }
}

// ---------------------------------------------------------------- compiling and running

interface Compiled {
  root: Fn;
  slots: number;
}

type Exec =
  | { k: "return"; value?: Compiled }
  | { k: "expr"; value: Compiled }
  | { k: "set"; id: string; op?: string; value: Compiled }
  | { k: "unpack"; ids: string[]; value: Compiled }
  | { k: "item"; obj: Compiled; key: Compiled; op?: string; value: Compiled }
  | { k: "if"; branches: Array<{ test?: Compiled; body: Exec[] }> }
  | { k: "pass" };

function assignedNames(stmts: Stmt[], out: Set<string>): void {
  for (const s of stmts) {
    if (s.k === "assign" && s.target.k === "name") out.add(s.target.id);
    if (s.k === "assign" && s.target.k === "names") for (const t of s.target.ids) out.add(t.id);
    if (s.k === "if") for (const b of s.branches) assignedNames(b.body, out);
  }
}

/** Python's operator for `x op= y`, as the expression evaluator computes it. */
const AUG_EXPR = new Map<string, Compiled>();
function augmentedOp(op: string): Compiled {
  let c = AUG_EXPR.get(op);
  if (!c) AUG_EXPR.set(op, (c = compile(parse(`a ${op} b`), { variables: ["a", "b"] })));
  return c;
}

/** `target` reachable from `v` (so storing `v` into `target` would make a cycle, which JSON cannot hold). */
function reaches(ctx: Ctx, v: Value, target: Value, seen = new Set<Value>()): boolean {
  if (v === target) return true;
  if (!(Array.isArray(v) || v instanceof Map || v instanceof Tuple) || seen.has(v)) return false;
  seen.add(v);
  const items = Array.isArray(v) ? v : v instanceof Tuple ? v.items : [...v.values()];
  charge(ctx, items.length);
  return items.some((x) => reaches(ctx, x, target, seen));
}

export function compileFunction(source: string, opts: FunctionOptions): PythonFunction {
  if (source.length > MAX_FUNCTION_SOURCE) syntax(`the function is longer than ${MAX_FUNCTION_SOURCE} characters`, MAX_FUNCTION_SOURCE);
  const { text, top, lines } = scan(source);
  const { params, body } = new StatementParser(text, top, lines).func(opts.name, opts.params);
  const locals = new Set(params);
  assignedNames(body, locals);
  const variables = [...locals];

  const expr = (span: Span): Compiled => {
    try {
      return compile(parse(text.slice(span.start, span.end), { dicts: true }), { variables, dicts: true });
    } catch (e) {
      if (e instanceof ExpressionSyntaxError) throw new ExpressionSyntaxError(e.reason, e.offset + span.start, e.length);
      throw e;
    }
  };
  const build = (stmts: Stmt[]): Exec[] =>
    stmts.map((s): Exec => {
      switch (s.k) {
        case "return":
          return { k: "return", value: s.value && expr(s.value) };
        case "pass":
          return { k: "pass" };
        case "expr":
          return { k: "expr", value: expr(s.value) };
        case "if":
          return { k: "if", branches: s.branches.map((b) => ({ test: b.test && expr(b.test), body: build(b.body) })) };
        case "assign": {
          const value = expr(s.value);
          const t = s.target;
          if (t.k === "name") return { k: "set", id: t.id, op: s.op, value };
          if (t.k === "names") return { k: "unpack", ids: t.ids.map((x) => x.id), value };
          return { k: "item", obj: expr(t.obj), key: expr(t.key), op: s.op, value };
        }
      }
    });
  const program = build(body);

  return {
    source,
    name: opts.name,
    params,
    call(...args: unknown[]): unknown {
      const vars = new Map<string, Value>();
      const state = { work: 0 };
      const ev = (c: Compiled, extra?: Map<string, Value>): Value => {
        const ctx: Ctx = { scope: {}, slots: new Array(c.slots).fill(null), work: state.work, vars: extra ?? vars };
        try {
          return c.root(ctx);
        } finally {
          state.work = ctx.work;
        }
      };
      const combine = (op: string, a: Value, b: Value): Value => ev(augmentedOp(op), new Map([["a", a], ["b", b]]));
      const run = (stmts: Exec[]): { value: Value } | undefined => {
        for (const s of stmts) {
          state.work++;
          switch (s.k) {
            case "return":
              return { value: s.value ? ev(s.value) : null };
            case "expr":
              ev(s.value);
              break;
            case "set": {
              let v = ev(s.value);
              if (s.op) v = combine(s.op, vars.get(s.id) ?? fail("NameError", `local variable '${s.id}' referenced before assignment`), v);
              vars.set(s.id, v);
              break;
            }
            case "unpack": {
              const v = ev(s.value);
              const ictx: Ctx = { scope: {}, slots: [], work: state.work };
              const parts = iterate(ictx, v);
              state.work = ictx.work;
              if (parts.length !== s.ids.length) fail("ValueError", `cannot unpack ${parts.length} values into ${s.ids.length} names`);
              s.ids.forEach((id, k) => vars.set(id, parts[k]!));
              break;
            }
            case "item": {
              const obj = ev(s.obj);
              const key = ev(s.key);
              let v = ev(s.value);
              if (s.op) v = combine(s.op, getItem(obj, key), v);
              const ctx: Ctx = { scope: {}, slots: [], work: state.work };
              if (reaches(ctx, v, obj)) fail("ValueError", "storing a container inside itself is not supported (the result must be JSON)");
              state.work = ctx.work;
              if (obj instanceof Map) {
                if (typeof key !== "string") fail("TypeError", `dict keys must be str here, not ${typeName(key)} (the result becomes a JSON object)`);
                obj.set(key as string, v);
              } else if (Array.isArray(obj)) {
                let k = toIndex(key, "list indices");
                if (k < 0) k += obj.length;
                if (k < 0 || k >= obj.length) fail("IndexError", "list assignment index out of range");
                obj[k] = v;
              } else fail("TypeError", `'${typeName(obj)}' object does not support item assignment`);
              break;
            }
            case "if":
              for (const b of s.branches) {
                if (b.test && !truthy(ev(b.test))) continue;
                const r = run(b.body);
                if (r) return r;
                break;
              }
              break;
            case "pass":
              break;
          }
        }
        return undefined;
      };
      try {
        params.forEach((p, k) => vars.set(p, fromJs(args[k])));
        const result = run(program)?.value ?? null;
        if (opts.returns === "dict" && !(result instanceof Map))
          fail("TypeError", `${opts.name} must return a dict, not ${typeName(result)}${result === null ? " (does every path end in return {...}?)" : ""}`);
        return toJs(result);
      } catch (e) {
        if (e instanceof RangeError) throw new ExpressionRuntimeError("LimitError", `the function exceeds an engine limit (${e.message})`);
        throw e;
      }
    },
  };
}

/** For `validate`: the first problem of a function text, or undefined when it compiles. */
export function checkFunction(source: string, opts: FunctionOptions): ExpressionProblem | undefined {
  try {
    compileFunction(source, opts);
    return undefined;
  } catch (e) {
    if (e instanceof ExpressionSyntaxError) return { offset: e.offset, length: e.length, message: e.reason };
    if (e instanceof ExpressionError) return { offset: 0, length: Math.max(1, source.length), message: e.message };
    throw e;
  }
}
