// The value and data expressions of CAN configs (upstream runs them with Python's eval). This is a
// small evaluator for the Python expression subset those configs use, with Python's number
// semantics (int vs float, `/` always float, `//` and `%` flooring, arbitrary-size ints) and
// nothing that reaches the process: no attributes, no imports, only the functions listed below.
// Issue #16 is to bring one shared evaluator for every connector; this one stays inside the CAN
// folder until then.
//
// Grammar: literals (ints incl. 0x/0o/0b and `_`, floats, '…'/"…" strings, True/False/None),
// names, `a if c else b`, or/and/not, chained comparisons (< <= > >= == !=), | ^ &, << >>,
// + - * / // % **, unary - + ~, calls of bool int float str abs round min max len, subscripts and
// slices (`can_data[0]`, `can_data[2:4]`), parentheses.

export type PyValue = bigint | number | boolean | string | null | Uint8Array;
export type Scope = Record<string, PyValue>;
type Node = (scope: Scope) => PyValue;

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

type Tok =
  | { t: "int"; v: bigint; at: number }
  | { t: "float"; v: number; at: number }
  | { t: "str"; v: string; at: number }
  | { t: "name"; v: string; at: number }
  | { t: "op"; v: string; at: number };

const KEYWORDS = new Set(["if", "else", "and", "or", "not", "True", "False", "None"]);
const FORBIDDEN_KEYWORDS = new Set(["lambda", "import", "for", "in", "is", "yield", "await", "from", "del", "global", "class", "def", "with", "assert", "exec", "eval"]);
const OPS = ["**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "(", ")", "[", "]", ",", ":"];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new ExpressionError(`${what} at position ${i + 1} of "${src}"`);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    const rest = src.slice(i);
    let m = /^0[xX][0-9a-fA-F_]+|^0[oO][0-7_]+|^0[bB][01_]+/.exec(rest);
    if (m) {
      const digits = m[0].replace(/_/g, "");
      out.push({ t: "int", v: BigInt(digits.toLowerCase()), at: i });
      i += m[0].length;
      continue;
    }
    m = /^(?:\d[\d_]*\.[\d_]*|\.\d[\d_]*|\d[\d_]*)(?:[eE][-+]?\d+)?/.exec(rest);
    if (m) {
      const text = m[0].replace(/_/g, "");
      if (/[.eE]/.test(text)) out.push({ t: "float", v: Number(text), at: i });
      else out.push({ t: "int", v: BigInt(text), at: i });
      i += m[0].length;
      if (/^[A-Za-z_]/.test(src.slice(i))) fail("unexpected letter after a number");
      continue;
    }
    m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (m) {
      if (FORBIDDEN_KEYWORDS.has(m[0])) fail(`"${m[0]}" is not supported`);
      out.push({ t: "name", v: m[0], at: i });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let s = "";
      for (; j < src.length && src[j] !== c; j++) {
        if (src[j] === "\\") {
          const e = src[++j];
          s += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e === "0" ? "\0" : (e ?? "");
        } else s += src[j];
      }
      if (j >= src.length) fail("unterminated string");
      out.push({ t: "str", v: s, at: i });
      i = j + 1;
      continue;
    }
    const op = OPS.find((o) => rest.startsWith(o));
    if (!op) fail(`unexpected "${c}"`);
    out.push({ t: "op", v: op!, at: i });
    i += op!.length;
  }
  return out;
}

// ---- Python value semantics ----

const isInt = (v: PyValue): v is bigint | boolean => typeof v === "bigint" || typeof v === "boolean";
const isNum = (v: PyValue): v is bigint | boolean | number => isInt(v) || typeof v === "number";
const asBig = (v: bigint | boolean): bigint => (typeof v === "boolean" ? (v ? 1n : 0n) : v);
const asFloat = (v: bigint | boolean | number): number => (typeof v === "number" ? v : Number(asBig(v)));

export function typeName(v: PyValue): string {
  if (v === null) return "NoneType";
  if (typeof v === "bigint") return "int";
  if (typeof v === "number") return "float";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "str";
  return "bytes";
}

export function truthy(v: PyValue): boolean {
  if (v === null) return false;
  if (typeof v === "bigint") return v !== 0n;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "boolean") return v;
  return v.length > 0;
}

/** Python's str() of a value (floats keep ".0", booleans are True/False). */
export function pyStr(v: PyValue): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "nan";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v);
  }
  if (typeof v === "string") return v;
  return "b'" + [...v].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c ? String.fromCharCode(b) : "\\x" + b.toString(16).padStart(2, "0"))).join("") + "'";
}

const unsupported = (op: string, a: PyValue, b: PyValue): never => {
  throw new ExpressionError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
};

/** Largest integer result (in bits) that shifts and powers may build; far beyond any CAN value. */
const MAX_BITS = 4096n;

function floorDivBig(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function binary(op: string, a: PyValue, b: PyValue): PyValue {
  if (op === "+" && typeof a === "string" && typeof b === "string") return a + b;
  if (op === "+" && a instanceof Uint8Array && b instanceof Uint8Array) return new Uint8Array([...a, ...b]);
  if (!isNum(a) || !isNum(b)) return unsupported(op, a, b);
  const ints = isInt(a) && isInt(b);
  if (["&", "|", "^", "<<", ">>"].includes(op)) {
    if (!ints) return unsupported(op, a, b);
    const x = asBig(a), y = asBig(b);
    if (op === "&") return typeof a === "boolean" && typeof b === "boolean" ? a && b : x & y;
    if (op === "|") return typeof a === "boolean" && typeof b === "boolean" ? a || b : x | y;
    if (op === "^") return typeof a === "boolean" && typeof b === "boolean" ? a !== b : x ^ y;
    if (y < 0n) throw new ExpressionError("negative shift count");
    if (op === "<<" && y > MAX_BITS) throw new ExpressionError(`shift by ${y} is beyond the ${MAX_BITS}-bit limit of this evaluator`);
    return op === "<<" ? x << y : x >> (y > MAX_BITS ? MAX_BITS : y);
  }
  if (ints) {
    const x = asBig(a), y = asBig(b);
    switch (op) {
      case "+": return x + y;
      case "-": return x - y;
      case "*": return x * y;
      case "/":
        if (y === 0n) throw new ExpressionError("division by zero");
        return Number(x) / Number(y);
      case "//":
        if (y === 0n) throw new ExpressionError("integer division or modulo by zero");
        return floorDivBig(x, y);
      case "%":
        if (y === 0n) throw new ExpressionError("integer division or modulo by zero");
        return x - floorDivBig(x, y) * y;
      case "**":
        if (y < 0n) return Number(x) ** Number(y);
        // a config typo such as 10 ** 999999 must not stall the gateway computing a million-digit number
        if (x > 1n || x < -1n) {
          let bits = 0n;
          for (let a = x < 0n ? -x : x; a > 0n; a >>= 1n) bits++;
          if (bits * y > MAX_BITS) throw new ExpressionError(`${x} ** ${y} is beyond the ${MAX_BITS}-bit limit of this evaluator`);
        }
        return x ** y;
    }
  }
  const x = asFloat(a), y = asFloat(b);
  switch (op) {
    case "+": return x + y;
    case "-": return x - y;
    case "*": return x * y;
    case "/":
      if (y === 0) throw new ExpressionError("float division by zero");
      return x / y;
    case "//":
      if (y === 0) throw new ExpressionError("float floor division by zero");
      return Math.floor(x / y);
    case "%":
      if (y === 0) throw new ExpressionError("float modulo");
      return x - Math.floor(x / y) * y;
    case "**":
      return x ** y;
  }
  return unsupported(op, a, b);
}

function compare(op: string, a: PyValue, b: PyValue): boolean {
  if (op === "==" || op === "!=") {
    let eq: boolean;
    if (isNum(a) && isNum(b)) eq = isInt(a) && isInt(b) ? asBig(a) === asBig(b) : asFloat(a) === asFloat(b);
    else if (a instanceof Uint8Array && b instanceof Uint8Array) eq = a.length === b.length && a.every((x, i) => x === b[i]);
    else eq = a === b;
    return op === "==" ? eq : !eq;
  }
  let c: number;
  if (isNum(a) && isNum(b)) {
    const x = typeof a === "boolean" ? asBig(a) : a, y = typeof b === "boolean" ? asBig(b) : b;
    c = x < y ? -1 : x > y ? 1 : 0;
  } else if (typeof a === "string" && typeof b === "string") c = a < b ? -1 : a > b ? 1 : 0;
  else throw new ExpressionError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
  return op === "<" ? c < 0 : op === "<=" ? c <= 0 : op === ">" ? c > 0 : c >= 0;
}

function toIntValue(v: PyValue): bigint {
  if (isInt(v)) return asBig(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new ExpressionError(`cannot convert float ${pyStr(v)} to integer`);
    return BigInt(Math.trunc(v));
  }
  if (typeof v === "string" && /^\s*[-+]?\d[\d_]*\s*$/.test(v)) return BigInt(v.trim().replace(/_/g, ""));
  throw new ExpressionError(`invalid literal for int(): ${pyStr(v)}`);
}

function toFloatValue(v: PyValue): number {
  if (isNum(v)) return asFloat(v);
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v.trim()))) return Number(v.trim());
  throw new ExpressionError(`could not convert ${typeName(v)} to float: ${pyStr(v)}`);
}

function pyRound(args: PyValue[]): PyValue {
  const [x, nd] = args;
  if (!isNum(x!)) throw new ExpressionError(`type ${typeName(x!)} doesn't define __round__`);
  if (isInt(x!) && (nd === undefined || nd === null)) return asBig(x!);
  const f = asFloat(x!);
  const digits = nd === undefined || nd === null ? 0 : Number(toIntValue(nd));
  const scale = 10 ** digits;
  const scaled = f * scale;
  // banker's rounding, as Python's round()
  let r = Math.round(scaled);
  if (Math.abs(scaled % 1) === 0.5 && r % 2 !== 0) r -= 1;
  const out = r / scale;
  return nd === undefined || nd === null ? BigInt(out) : out;
}

function minMax(args: PyValue[], wantMax: boolean): PyValue {
  if (args.length === 0) throw new ExpressionError(`${wantMax ? "max" : "min"} expected at least 1 argument`);
  const list: PyValue[] = args.length === 1 && args[0] instanceof Uint8Array ? [...args[0]].map((b) => BigInt(b)) : args;
  let best: PyValue = list[0]!;
  for (const v of list.slice(1)) if (compare(wantMax ? ">" : "<", v, best)) best = v;
  return best;
}

const FUNCTIONS: Record<string, (args: PyValue[]) => PyValue> = {
  bool: (a) => (a.length === 0 ? false : truthy(a[0]!)),
  int: (a) => (a.length === 0 ? 0n : toIntValue(a[0]!)),
  float: (a) => (a.length === 0 ? 0 : toFloatValue(a[0]!)),
  str: (a) => (a.length === 0 ? "" : pyStr(a[0]!)),
  abs: (a) => {
    const v = a[0] ?? null;
    if (!isNum(v)) throw new ExpressionError(`bad operand type for abs(): '${typeName(v)}'`);
    return typeof v === "number" ? Math.abs(v) : asBig(v) < 0n ? -asBig(v) : asBig(v);
  },
  round: pyRound,
  min: (a) => minMax(a, false),
  max: (a) => minMax(a, true),
  len: (a) => {
    const v = a[0] ?? null;
    if (typeof v === "string" || v instanceof Uint8Array) return BigInt(v.length);
    throw new ExpressionError(`object of type '${typeName(v)}' has no len()`);
  },
};

function index(v: PyValue, i: PyValue): PyValue {
  if (!(typeof v === "string" || v instanceof Uint8Array)) throw new ExpressionError(`'${typeName(v)}' object is not subscriptable`);
  if (!isInt(i)) throw new ExpressionError(`indices must be integers, not ${typeName(i)}`);
  let n = Number(asBig(i));
  if (n < 0) n += v.length;
  if (n < 0 || n >= v.length) throw new ExpressionError(`index ${Number(asBig(i))} out of range (length ${v.length})`);
  return typeof v === "string" ? v[n]! : BigInt(v[n]!);
}

function slice(v: PyValue, from: PyValue | undefined, to: PyValue | undefined): PyValue {
  if (!(typeof v === "string" || v instanceof Uint8Array)) throw new ExpressionError(`'${typeName(v)}' object is not subscriptable`);
  const bound = (b: PyValue | undefined, dflt: number) => {
    if (b === undefined || b === null) return dflt;
    if (!isInt(b)) throw new ExpressionError(`slice indices must be integers, not ${typeName(b)}`);
    const n = Number(asBig(b));
    return n < 0 ? Math.max(0, n + v.length) : Math.min(n, v.length);
  };
  const a = bound(from, 0), b = bound(to, v.length);
  return v.slice(a, Math.max(a, b));
}

// ---- parser: tokens → closures ----

export interface Compiled {
  source: string;
  /** Names the expression reads (functions excluded). */
  names: ReadonlySet<string>;
  evaluate(scope: Scope): PyValue;
}

/** Compile `src`; throws ExpressionError (with the position) on anything outside the subset. */
export function compileExpression(src: string): Compiled {
  const toks = tokenize(src);
  const names = new Set<string>();
  let i = 0;
  const peek = () => toks[i];
  const isOp = (v: string) => {
    const t = toks[i];
    return t?.t === "op" && t.v === v;
  };
  const isKw = (v: string) => {
    const t = toks[i];
    return t?.t === "name" && t.v === v;
  };
  const fail = (what: string): never => {
    const t = toks[i];
    throw new ExpressionError(t ? `${what} at position ${t.at + 1} of "${src}"` : `${what} at the end of "${src}"`);
  };
  const expect = (v: string) => {
    if (!isOp(v)) fail(`expected "${v}"`);
    i++;
  };

  const expr = (): Node => {
    const body = orTest();
    if (!isKw("if")) return body;
    i++;
    const cond = orTest();
    if (!isKw("else")) fail('expected "else"');
    i++;
    const other = expr();
    return (s) => (truthy(cond(s)) ? body(s) : other(s));
  };
  const orTest = (): Node => {
    let left = andTest();
    while (isKw("or")) {
      i++;
      const l = left, r = andTest();
      left = (s) => {
        const v = l(s);
        return truthy(v) ? v : r(s);
      };
    }
    return left;
  };
  const andTest = (): Node => {
    let left = notTest();
    while (isKw("and")) {
      i++;
      const l = left, r = notTest();
      left = (s) => {
        const v = l(s);
        return truthy(v) ? r(s) : v;
      };
    }
    return left;
  };
  const notTest = (): Node => {
    if (isKw("not")) {
      i++;
      const n = notTest();
      return (s) => !truthy(n(s));
    }
    return comparison();
  };
  const CMP = ["<", "<=", ">", ">=", "==", "!="];
  const comparison = (): Node => {
    const first = bitOr();
    const rest: Array<[string, Node]> = [];
    while (peek()?.t === "op" && CMP.includes(peek()!.v as string)) {
      const op = (toks[i++] as { v: string }).v;
      rest.push([op, bitOr()]);
    }
    if (rest.length === 0) return first;
    return (s) => {
      let left = first(s);
      for (const [op, n] of rest) {
        const right = n(s);
        if (!compare(op, left, right)) return false;
        left = right;
      }
      return true;
    };
  };
  const leftAssoc = (ops: string[], next: () => Node) => (): Node => {
    let left = next();
    while (peek()?.t === "op" && ops.includes(peek()!.v as string)) {
      const op = (toks[i++] as { v: string }).v;
      const l = left, r = next();
      left = (s) => binary(op, l(s), r(s));
    }
    return left;
  };
  const unary = (): Node => {
    for (const op of ["-", "+", "~"]) {
      if (!isOp(op)) continue;
      i++;
      const n = unary();
      return (s) => {
        const v = n(s);
        if (!isNum(v)) throw new ExpressionError(`bad operand type for unary ${op}: '${typeName(v)}'`);
        if (op === "+") return typeof v === "boolean" ? asBig(v) : v;
        if (op === "-") return typeof v === "number" ? -v : -asBig(v);
        if (typeof v === "number") throw new ExpressionError("bad operand type for unary ~: 'float'");
        return ~asBig(v);
      };
    }
    return power();
  };
  const power = (): Node => {
    const base = postfix();
    if (!isOp("**")) return base;
    i++;
    const exp = unary();
    return (s) => binary("**", base(s), exp(s));
  };
  const postfix = (): Node => {
    let node = atom();
    while (isOp("[")) {
      i++;
      const target = node;
      const from = isOp(":") ? undefined : expr();
      if (isOp(":")) {
        i++;
        const to = isOp("]") ? undefined : expr();
        expect("]");
        node = (s) => slice(target(s), from?.(s), to?.(s));
      } else {
        expect("]");
        node = (s) => index(target(s), from!(s));
      }
    }
    return node;
  };
  const atom = (): Node => {
    const t = toks[i];
    if (!t) return fail("the expression is incomplete");
    i++;
    if (t.t === "int" || t.t === "float" || t.t === "str") {
      const v = t.v;
      return () => v;
    }
    if (t.t === "name") {
      if (t.v === "True") return () => true;
      if (t.v === "False") return () => false;
      if (t.v === "None") return () => null;
      if (KEYWORDS.has(t.v)) {
        i--;
        return fail(`unexpected "${t.v}"`);
      }
      if (isOp("(")) {
        const fn = Object.hasOwn(FUNCTIONS, t.v) ? FUNCTIONS[t.v] : undefined;
        if (!fn) {
          i--;
          return fail(`function "${t.v}" is not available (available: ${Object.keys(FUNCTIONS).join(", ")})`);
        }
        i++;
        const args: Node[] = [];
        while (!isOp(")")) {
          args.push(expr());
          if (!isOp(")")) expect(",");
        }
        i++;
        return (s) => fn(args.map((a) => a(s)));
      }
      const name = t.v;
      names.add(name);
      return (s) => {
        if (!Object.hasOwn(s, name)) throw new ExpressionError(`name '${name}' is not defined`);
        return s[name]!;
      };
    }
    if (t.v === "(") {
      const n = expr();
      expect(")");
      return n;
    }
    i--;
    return fail(`unexpected "${t.v}"`);
  };

  const arith = leftAssoc(["*", "/", "//", "%"], unary);
  const sum = leftAssoc(["+", "-"], arith);
  const shift = leftAssoc(["<<", ">>"], sum);
  const bitAnd = leftAssoc(["&"], shift);
  const bitXor = leftAssoc(["^"], bitAnd);
  const bitOr = leftAssoc(["|"], bitXor);

  if (toks.length === 0) throw new ExpressionError("empty expression");
  const root = expr();
  if (i < toks.length) fail("unexpected text");
  return { source: src, names, evaluate: (scope) => root(scope) };
}

/** A JSON value (attribute value, RPC param) as Python sees it after json.loads. */
export function fromJson(v: unknown): PyValue {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (typeof v === "bigint" || typeof v === "boolean" || typeof v === "string") return v;
  if (v === null || v === undefined) return null;
  return JSON.stringify(v);
}

/** A result as JSON for the platform: ints as numbers (bigint beyond 2^53), bytes as hex text. */
export function toJson(v: PyValue): unknown {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  return v;
}
