// A tiny arithmetic evaluator for the `compute` option (upstream runs Python eval on it).
// Grammar: numbers, the variable `value`, + - * / // % **, unary minus, parentheses. Nothing else.

type Tok = { t: "num"; v: number } | { t: "var" } | { t: "op"; v: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  const re = /\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|(value)\b|(\*\*|\/\/|[-+*/%()]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new Error(`compute: unexpected "${src.slice(pos).trim()}" in "${src}" (allowed: numbers, value, + - * / // % **, parentheses)`);
    if (m[1] !== undefined) out.push({ t: "num", v: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ t: "var" });
    else out.push({ t: "op", v: m[3]! });
    pos = re.lastIndex;
  }
  return out;
}

/** Compile once; the result evaluates with a given `value`. */
export function compileCompute(src: string): (value: number) => number {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const isOp = (v: string) => {
    const t = peek();
    return t?.t === "op" && t.v === v;
  };
  type Node = (x: number) => number;
  const expr = (): Node => {
    let left = term();
    while (isOp("+") || isOp("-")) {
      const op = (toks[i++] as { v: string }).v;
      const l = left, r = term();
      left = op === "+" ? (x) => l(x) + r(x) : (x) => l(x) - r(x);
    }
    return left;
  };
  const term = (): Node => {
    let left = unary();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      const op = (toks[i++] as { v: string }).v;
      const l = left, r = unary();
      left =
        op === "*" ? (x) => l(x) * r(x) : op === "/" ? (x) => l(x) / r(x) : op === "//" ? (x) => Math.floor(l(x) / r(x)) : (x) => l(x) - r(x) * Math.floor(l(x) / r(x));
    }
    return left;
  };
  const unary = (): Node => {
    if (isOp("-")) {
      i++;
      const n = unary();
      return (x) => -n(x);
    }
    if (isOp("+")) {
      i++;
      return unary();
    }
    return power();
  };
  const power = (): Node => {
    const base = atom();
    if (isOp("**")) {
      i++;
      const exp = unary();
      return (x) => base(x) ** exp(x);
    }
    return base;
  };
  const atom = (): Node => {
    const t = toks[i++];
    if (!t) throw new Error(`compute: "${src}" ends too early`);
    if (t.t === "num") return () => t.v;
    if (t.t === "var") return (x) => x;
    if (t.v === "(") {
      const n = expr();
      if (!isOp(")")) throw new Error(`compute: missing ")" in "${src}"`);
      i++;
      return n;
    }
    throw new Error(`compute: unexpected "${t.v}" in "${src}"`);
  };
  const root = expr();
  if (i < toks.length) throw new Error(`compute: unexpected text after position ${i} in "${src}"`);
  return root;
}
