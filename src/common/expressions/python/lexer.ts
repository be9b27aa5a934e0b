// Tokens of a Python expression, each with its offset in the source so every error can point at
// its place. Literals are decoded here: numbers to int (bigint) or float, strings with their escapes.

import { ExpressionSyntaxError } from "./errors.ts";

export type TokenKind = "int" | "float" | "str" | "name" | "keyword" | "op" | "end";

export interface Token {
  kind: TokenKind;
  /** The source text of the token. */
  text: string;
  offset: number;
  /** Decoded literal (int: bigint, float: number, str: string). */
  value?: bigint | number | string;
}

export const KEYWORDS = new Set([
  "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
  "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
  "return", "try", "while", "with", "yield",
]);

// Longest first, so `**=` is not read as `**` then `=`.
const OPERATORS = [
  "**=", "//=", ">>=", "<<=", "...",
  "**", "//", "<<", ">>", "<=", ">=", "==", "!=", ":=", "->", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
  "+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "@", "=",
];

const ID_START = /[\p{L}\p{Nl}_]/u;
const ID_REST = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]/u;
const NUMBER = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.?(?:\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?)/y;

const bad = (reason: string, offset: number, length = 1): never => {
  throw new ExpressionSyntaxError(reason, offset, length);
};

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\f" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if (c === "\\" && (src[i + 1] === "\n" || src[i + 1] === "\r")) {
      i += 2;
      continue;
    }
    if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    const start = i;
    if ((c >= "0" && c <= "9") || (c === "." && src[i + 1] !== undefined && src[i + 1]! >= "0" && src[i + 1]! <= "9")) {
      out.push(number(src, start));
      i = start + out[out.length - 1]!.text.length;
      continue;
    }
    const cp = src.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (ID_START.test(ch)) {
      i += ch.length;
      while (i < src.length) {
        const n = String.fromCodePoint(src.codePointAt(i)!);
        if (!ID_REST.test(n)) break;
        i += n.length;
      }
      const word = src.slice(start, i);
      if (/^[rRuUbBfF]{1,2}$/.test(word) && (src[i] === "'" || src[i] === '"')) {
        const p = word.toLowerCase();
        if (p.includes("f")) bad("f-strings are not supported; use str() and + or .format()", start, word.length + 1);
        if (p.includes("b")) bad("bytes literals are not supported", start, word.length + 1);
        if (p.length === 2 && p !== "ur" && p !== "ru") bad(`invalid string prefix "${word}"`, start, word.length);
        if (p === "ur" || p === "ru") bad(`invalid string prefix "${word}"`, start, word.length);
        const t = string(src, i, p === "r");
        out.push({ kind: "str", text: src.slice(start, t.end), offset: start, value: t.value });
        i = t.end;
        continue;
      }
      out.push({ kind: KEYWORDS.has(word) ? "keyword" : "name", text: word, offset: start });
      continue;
    }
    if (c === "'" || c === '"') {
      const t = string(src, i, false);
      out.push({ kind: "str", text: src.slice(start, t.end), offset: start, value: t.value });
      i = t.end;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op === undefined) {
      const what = c === "$" && src[i + 1] === "{" ? '"${" (a ${...} template, not an expression)' : JSON.stringify(ch);
      bad(`unexpected character ${what}`, start, ch.length);
    }
    out.push({ kind: "op", text: op!, offset: start });
    i += op!.length;
  }
  out.push({ kind: "end", text: "", offset: src.length });
  return out;
}

function number(src: string, start: number): Token {
  NUMBER.lastIndex = start;
  const m = NUMBER.exec(src);
  let text = m ? m[0] : "";
  if (text === "" || text === ".") bad("invalid number", start);
  // `1.e5`, `1.` and `.5` are floats; `1._0` and `1__0` are not numbers.
  const next = src[start + text.length];
  if (next !== undefined && /[\p{L}\p{N}_]/u.test(next)) {
    if (next === "j" || next === "J") bad("complex numbers are not supported", start, text.length + 1);
    bad(`invalid number "${text}${next}"`, start, text.length + 1);
  }
  const digits = text.replace(/_/g, "");
  if (/^0[xXoObB]/.test(digits)) return { kind: "int", text, offset: start, value: BigInt(digits) };
  if (/^\d+$/.test(digits)) {
    if (digits.length > 1 && digits[0] === "0" && /[1-9]/.test(digits)) bad(`leading zeros are not allowed in "${text}"; write 0o${digits.replace(/^0+/, "")} for octal`, start, text.length);
    return { kind: "int", text, offset: start, value: BigInt(digits) };
  }
  return { kind: "float", text, offset: start, value: Number(digits) };
}

const SIMPLE_ESCAPES: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", r: "\r", t: "\t", a: "\x07", b: "\b", f: "\f", v: "\v" };

/** A quoted string starting at `at` (the quote); returns its value and the offset after it. */
function string(src: string, at: number, raw: boolean): { value: string; end: number } {
  const q = src[at]!;
  const triple = src.startsWith(q + q + q, at);
  const close = triple ? q + q + q : q;
  let i = at + close.length;
  let value = "";
  for (;;) {
    if (i >= src.length) bad("string is not closed", at, src.length - at);
    if (src.startsWith(close, i)) return { value, end: i + close.length };
    const c = src[i]!;
    if (!triple && (c === "\n" || c === "\r")) bad("string is not closed before the end of the line", at, i - at);
    if (c !== "\\") {
      value += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    if (e === undefined) bad("string is not closed", at, src.length - at);
    if (raw) {
      value += c + e;
      i += 2;
      continue;
    }
    if (e === "\n") {
      i += 2;
      continue;
    }
    if (e! in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[e!];
      i += 2;
      continue;
    }
    if (e! >= "0" && e! <= "7") {
      const m = /^[0-7]{1,3}/.exec(src.slice(i + 1, i + 4))!;
      value += String.fromCharCode(parseInt(m[0], 8));
      i += 1 + m[0].length;
      continue;
    }
    const hexLen = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    if (hexLen) {
      const h = src.slice(i + 2, i + 2 + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) bad(`invalid \\${e} escape`, i, 2 + h.length);
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff) bad(`invalid \\${e} escape`, i, 2 + hexLen);
      value += String.fromCodePoint(cp);
      i += 2 + hexLen;
      continue;
    }
    if (e === "N") bad("\\N{...} escapes are not supported", i, 2);
    value += c + e; // unknown escapes keep the backslash, as Python does
    i += 2;
  }
}
