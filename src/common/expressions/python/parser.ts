// Recursive-descent parser for the supported subset of Python expressions (README.md beside this
// file). Anything outside the subset is refused here, with its offset, so `validate` can point at it
// and nothing unsupported ever reaches evaluation. Nesting is bounded, so neither parsing nor the
// evaluation of the tree can exhaust the stack.

import { ExpressionSyntaxError } from "./errors.ts";
import { type Token, tokenize } from "./lexer.ts";
import { METHOD_NAMES } from "./methods.ts";

export type Const = bigint | number | string | boolean | null;

export interface Generator {
  /** One name, or several for tuple unpacking (`for k, v in ...`). */
  targets: Array<{ id: string; at: number }>;
  unpack: boolean;
  iter: Node;
  conds: Node[];
}

export type Node = { at: number; len: number; depth: number } & (
  | { t: "const"; v: Const }
  | { t: "name"; id: string }
  | { t: "list" | "tuple"; items: Node[] }
  | { t: "unary"; op: "-" | "+" | "~" | "not"; x: Node }
  | { t: "bin"; op: string; l: Node; r: Node }
  | { t: "and" | "or"; items: Node[] }
  | { t: "cmp"; ops: string[]; items: Node[] }
  | { t: "cond"; test: Node; body: Node; orelse: Node }
  | { t: "index"; x: Node; i: Node }
  | { t: "slice"; x: Node; lo?: Node; hi?: Node; step?: Node }
  | { t: "call"; fn: Node; args: Node[]; kwargs: Array<[string, Node]> }
  | { t: "method"; obj: Node; name: string; args: Node[]; kwargs: Array<[string, Node]> }
  | { t: "comp"; elt: Node; gens: Generator[] }
  | { t: "dict"; keys: Node[]; values: Node[] }
);

export interface ParseOptions {
  /** Accept dict displays `{k: v, ...}` (the statement layer of function.ts; expressions refuse them). */
  dicts?: boolean;
}

type Body<N> = N extends unknown ? Omit<N, "at" | "len" | "depth"> : never;

/** Longest expression text accepted. */
export const MAX_SOURCE = 10_000;
/** Deepest tree accepted (`((((x))))` and `1+1+1+...` both count). */
export const MAX_DEPTH = 100;

const COMPARE = new Set(["<", ">", "==", ">=", "<=", "!="]);
const ASSIGN = new Set(["=", ":=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^=", ">>=", "<<=", "@="]);

export function parse(src: string, opts: ParseOptions = {}): Node {
  if (src.length > MAX_SOURCE) throw new ExpressionSyntaxError(`expression is longer than ${MAX_SOURCE} characters`, MAX_SOURCE, 1);
  return new Parser(tokenize(src), opts.dicts === true).top();
}

class Parser {
  private i = 0;
  private nesting = 0;
  constructor(
    private readonly toks: Token[],
    private readonly dicts: boolean,
  ) {}

  private get tok(): Token {
    return this.toks[this.i]!;
  }
  private atEnd(): boolean {
    return this.tok.kind === "end";
  }
  private is(text: string): boolean {
    const t = this.tok;
    return (t.kind === "op" || t.kind === "keyword") && t.text === text;
  }
  private isAt(k: number, text: string): boolean {
    const t = this.toks[this.i + k];
    return t !== undefined && (t.kind === "op" || t.kind === "keyword") && t.text === text;
  }
  private eat(text: string): boolean {
    if (!this.is(text)) return false;
    this.i++;
    return true;
  }

  private error(reason: string, t: Token = this.tok): never {
    throw new ExpressionSyntaxError(reason, t.offset, Math.max(1, t.text.length));
  }

  /** Why the current token cannot continue the expression. */
  private unexpected(expected?: string): never {
    const t = this.tok;
    if (t.kind === "end") this.error(expected ? `expected ${expected}, but the expression ends` : "the expression ends too early");
    if (t.kind === "keyword" && !["and", "or", "not", "in", "is", "if", "else", "for", "None", "True", "False"].includes(t.text)) {
      const what = t.text === "lambda" ? "lambda functions" : t.text === "import" || t.text === "from" ? "imports" : `"${t.text}"`;
      this.error(`${what} ${what.startsWith('"') ? "is" : "are"} not supported in expressions`);
    }
    if (t.kind === "op" && ASSIGN.has(t.text)) this.error(`assignment ("${t.text}") is not supported in expressions`);
    if (t.kind === "op" && (t.text === "{" || t.text === "}")) this.error("dict and set literals are not supported");
    if (t.kind === "op" && t.text === ";") this.error("only one expression is allowed (no \";\")");
    this.error(`unexpected ${JSON.stringify(t.text)}${expected ? `; expected ${expected}` : ""}`);
  }

  private expect(text: string): Token {
    const t = this.tok;
    if (!this.eat(text)) this.unexpected(`"${text}"`);
    return t;
  }

  private node<N extends Body<Node>>(body: N, start: number, children: Array<Node | undefined>): Node {
    let depth = 0;
    for (const c of children) if (c && c.depth > depth) depth = c.depth;
    const prev = this.toks[this.i - 1];
    const end = prev ? prev.offset + prev.text.length : start;
    const n = { ...body, at: start, len: Math.max(1, end - start), depth: depth + 1 } as Node;
    if (n.depth > MAX_DEPTH) throw new ExpressionSyntaxError(`expression is nested too deeply (more than ${MAX_DEPTH} levels)`, start, n.len);
    return n;
  }

  private enter(): void {
    // Each bracket level costs two (the bracket and the expression inside it).
    if (++this.nesting > 2 * MAX_DEPTH) this.error(`expression is nested too deeply (more than ${MAX_DEPTH} levels)`);
  }

  top(): Node {
    if (this.tok.kind === "end") this.error("the expression is empty");
    const n = this.tupleOrTest(["end"]);
    if (!this.atEnd()) this.unexpected();
    return n;
  }

  /** `a`, or `a, b, ...` as a tuple (top level, parentheses). */
  private tupleOrTest(closers: string[]): Node {
    const start = this.tok.offset;
    const first = this.test();
    if (!this.is(",")) return first;
    const items = [first];
    while (this.eat(",")) {
      if (closers.some((c) => (c === "end" ? this.tok.kind === "end" : this.is(c)))) break;
      items.push(this.test());
    }
    return this.node({ t: "tuple", items }, start, items);
  }

  /** Conditional expression: `body if test else orelse`. */
  private test(): Node {
    this.enter();
    const start = this.tok.offset;
    if (this.is("lambda")) this.unexpected();
    const body = this.or();
    let out = body;
    if (this.eat("if")) {
      const cond = this.or();
      this.expect("else");
      const orelse = this.test();
      out = this.node({ t: "cond", test: cond, body, orelse }, start, [cond, body, orelse]);
    }
    if (this.is(":=")) this.unexpected();
    this.nesting--;
    return out;
  }

  private boolChain(op: "or" | "and", next: () => Node): Node {
    const start = this.tok.offset;
    const first = next();
    if (!this.is(op)) return first;
    const items = [first];
    while (this.eat(op)) items.push(next());
    return this.node({ t: op, items }, start, items);
  }
  private or(): Node {
    return this.boolChain("or", () => this.and());
  }
  private and(): Node {
    return this.boolChain("and", () => this.not());
  }

  private not(): Node {
    const start = this.tok.offset;
    if (!this.eat("not")) return this.comparison();
    this.enter();
    const x = this.not();
    this.nesting--;
    return this.node({ t: "unary", op: "not", x }, start, [x]);
  }

  private comparison(): Node {
    const start = this.tok.offset;
    const first = this.bitOr();
    const ops: string[] = [];
    const items = [first];
    for (;;) {
      let op: string | undefined;
      if (this.tok.kind === "op" && COMPARE.has(this.tok.text)) op = this.toks[this.i++]!.text;
      else if (this.eat("in")) op = "in";
      else if (this.is("not") && this.isAt(1, "in")) {
        this.i += 2;
        op = "not in";
      } else if (this.eat("is")) op = this.eat("not") ? "is not" : "is";
      if (!op) break;
      ops.push(op);
      items.push(this.bitOr());
    }
    return ops.length ? this.node({ t: "cmp", ops, items }, start, items) : first;
  }

  private binary(ops: string[], next: () => Node): Node {
    const start = this.tok.offset;
    let l = next();
    while (this.tok.kind === "op" && ops.includes(this.tok.text)) {
      const op = this.toks[this.i++]!.text;
      const r = next();
      l = this.node({ t: "bin", op, l, r }, start, [l, r]);
    }
    return l;
  }
  private bitOr(): Node {
    return this.binary(["|"], () => this.bitXor());
  }
  private bitXor(): Node {
    return this.binary(["^"], () => this.bitAnd());
  }
  private bitAnd(): Node {
    return this.binary(["&"], () => this.shift());
  }
  private shift(): Node {
    return this.binary(["<<", ">>"], () => this.arith());
  }
  private arith(): Node {
    return this.binary(["+", "-"], () => this.term());
  }
  private term(): Node {
    if (this.is("@")) this.unexpected();
    const n = this.binary(["*", "/", "//", "%"], () => this.unary());
    if (this.is("@")) this.error('the matrix operator "@" is not supported');
    return n;
  }

  private unary(): Node {
    const start = this.tok.offset;
    const t = this.tok;
    if (t.kind === "op" && (t.text === "-" || t.text === "+" || t.text === "~")) {
      this.i++;
      this.enter();
      const x = this.unary();
      this.nesting--;
      return this.node({ t: "unary", op: t.text as "-" | "+" | "~", x }, start, [x]);
    }
    return this.power();
  }

  private power(): Node {
    const start = this.tok.offset;
    const base = this.postfix();
    if (!this.eat("**")) return base;
    this.enter();
    const exp = this.unary();
    this.nesting--;
    return this.node({ t: "bin", op: "**", l: base, r: exp }, start, [base, exp]);
  }

  private postfix(): Node {
    const start = this.tok.offset;
    let x = this.atom();
    for (;;) {
      if (this.eat("(")) {
        const { args, kwargs } = this.callArgs();
        x = this.node({ t: "call", fn: x, args, kwargs }, start, [x, ...args, ...kwargs.map((k) => k[1])]);
      } else if (this.eat("[")) {
        x = this.subscript(x, start);
      } else if (this.is(".")) {
        this.i++;
        const name = this.tok;
        if (name.kind !== "name") this.unexpected("a method name");
        this.i++;
        if (name.text.startsWith("_")) this.error(`"${name.text}": names starting with "_" are not accessible`, name);
        if (!METHOD_NAMES.has(name.text)) this.error(`".${name.text}" is not supported; the methods are ${[...METHOD_NAMES].sort().join(", ")}`, name);
        if (!this.eat("(")) this.error(`attribute access is not supported; only method calls such as .${name.text}(...)`, name);
        const { args, kwargs } = this.callArgs();
        x = this.node({ t: "method", obj: x, name: name.text, args, kwargs }, start, [x, ...args, ...kwargs.map((k) => k[1])]);
      } else return x;
    }
  }

  private callArgs(): { args: Node[]; kwargs: Array<[string, Node]> } {
    this.enter();
    const args: Node[] = [];
    const kwargs: Array<[string, Node]> = [];
    while (!this.is(")")) {
      if (this.is("*") || this.is("**")) this.error("argument unpacking (* and **) is not supported");
      if (this.tok.kind === "name" && this.isAt(1, "=")) {
        const name = this.tok.text;
        if (kwargs.some((k) => k[0] === name)) this.error(`keyword argument "${name}" is repeated`);
        this.i += 2;
        kwargs.push([name, this.test()]);
      } else {
        if (kwargs.length) this.error("a positional argument cannot follow a keyword argument");
        const start = this.tok.offset;
        const a = this.test();
        // `f(x for x in y)`: a generator as the only argument is read as a list.
        args.push(this.is("for") ? this.comprehension(a, start) : a);
      }
      if (!this.eat(",")) break;
    }
    this.expect(")");
    this.nesting--;
    return { args, kwargs };
  }

  private subscript(x: Node, start: number): Node {
    this.enter();
    const part = () => (this.is(":") || this.is("]") ? undefined : this.test());
    const lo = part();
    let out: Node;
    if (this.eat(":")) {
      const hi = part();
      const step = this.eat(":") ? part() : undefined;
      this.expect("]");
      out = this.node({ t: "slice", x, lo, hi, step }, start, [x, lo, hi, step]);
    } else {
      if (!lo) this.unexpected("an index");
      const i = this.is(",") ? this.restOfTuple(lo!) : lo!;
      this.expect("]");
      out = this.node({ t: "index", x, i }, start, [x, i]);
    }
    this.nesting--;
    return out;
  }

  private restOfTuple(first: Node): Node {
    const items = [first];
    while (this.eat(",") && !this.is("]")) items.push(this.test());
    return this.node({ t: "tuple", items }, first.at, items);
  }

  private atom(): Node {
    const t = this.tok;
    const start = t.offset;
    switch (t.kind) {
      case "int":
      case "float":
        this.i++;
        return this.node({ t: "const", v: t.value as bigint | number }, start, []);
      case "str": {
        // Adjacent literals join: 'a' "b" is "ab".
        let v = "";
        while (this.tok.kind === "str") v += this.toks[this.i++]!.value as string;
        return this.node({ t: "const", v }, start, []);
      }
      case "name":
        this.i++;
        if (t.text.startsWith("__")) this.error(`"${t.text}": names starting with "__" are not accessible`, t);
        return this.node({ t: "name", id: t.text }, start, []);
      case "keyword":
        if (t.text === "True" || t.text === "False" || t.text === "None") {
          this.i++;
          return this.node({ t: "const", v: t.text === "None" ? null : t.text === "True" }, start, []);
        }
        return this.unexpected();
      case "op":
        if (t.text === "(") return this.parens();
        if (t.text === "[") return this.listDisplay();
        if (t.text === "{" && this.dicts) return this.dictDisplay();
        if (t.text === "...") this.error("Ellipsis is not supported");
        return this.unexpected();
      default:
        return this.unexpected();
    }
  }

  private parens(): Node {
    const start = this.tok.offset;
    this.enter();
    this.i++;
    let out: Node;
    if (this.eat(")")) out = this.node({ t: "tuple", items: [] }, start, []);
    else {
      const first = this.test();
      if (this.is("for")) out = this.comprehension(first, start);
      else if (this.is(",")) {
        const items = [first];
        while (this.eat(",") && !this.is(")")) items.push(this.test());
        out = this.node({ t: "tuple", items }, start, items);
      } else out = first;
      this.expect(")");
    }
    this.nesting--;
    return out;
  }

  private listDisplay(): Node {
    const start = this.tok.offset;
    this.enter();
    this.i++;
    const items: Node[] = [];
    let out: Node | undefined;
    while (!this.is("]")) {
      if (this.is("*")) this.error("unpacking (*) is not supported");
      const e = this.test();
      if (items.length === 0 && this.is("for")) {
        out = this.comprehension(e, start);
        break;
      }
      items.push(e);
      if (!this.eat(",")) break;
    }
    this.expect("]");
    this.nesting--;
    return out ?? this.node({ t: "list", items }, start, items);
  }

  /** `{k: v, ...}`: string keys in practice (the result becomes JSON); sets and comprehensions are refused. */
  private dictDisplay(): Node {
    const open = this.tok;
    const start = open.offset;
    this.enter();
    this.i++;
    const keys: Node[] = [];
    const values: Node[] = [];
    while (!this.is("}")) {
      if (this.is("**")) this.error("dict unpacking (**) is not supported");
      keys.push(this.test());
      if (this.is("for")) this.error("set comprehensions are not supported");
      if (this.is(",") || this.is("}")) this.error("set literals are not supported", open);
      this.expect(":");
      values.push(this.test());
      if (this.is("for")) this.error("dict comprehensions are not supported");
      if (!this.eat(",")) break;
    }
    this.expect("}");
    this.nesting--;
    return this.node({ t: "dict", keys, values }, start, [...keys, ...values]);
  }

  /** `elt for a in xs if c for b in ys ...` (the caller consumes the closing bracket). */
  private comprehension(elt: Node, start: number): Node {
    const gens: Generator[] = [];
    const children: Node[] = [elt];
    while (this.eat("for")) {
      const targets: Generator["targets"] = [];
      const paren = this.eat("(");
      do {
        const n = this.tok;
        if (n.kind !== "name") this.unexpected("a loop variable name");
        if (n.text.startsWith("__")) this.error(`"${n.text}": names starting with "__" are not accessible`, n);
        targets.push({ id: n.text, at: n.offset });
        this.i++;
      } while (this.eat(",") && !this.is("in") && !this.is(")"));
      if (paren) this.expect(")");
      const unpack = paren || targets.length > 1 || this.toks[this.i - 1]!.text === ",";
      this.expect("in");
      const iter = this.or();
      const conds: Node[] = [];
      while (this.eat("if")) conds.push(this.or());
      gens.push({ targets, unpack, iter, conds });
      children.push(iter, ...conds);
    }
    return this.node({ t: "comp", elt, gens }, start, children);
  }
}
