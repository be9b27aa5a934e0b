// str.format() and format(): replacement fields `{}`, `{0}`, `{name}` with `!s`/`!r` and the format
// spec mini-language ([[fill]align][sign][#][0][width][,|_][.precision][type]). Field names are plain
// positions or keyword names only: `{0.attr}` and `{0[key]}` are refused, so format strings cannot
// reach attributes.

import { fail } from "./errors.ts";
import { asBig, asFloat, charge, checkSize, type Ctx, floatRepr, isNum, repr, str, typeName, type Value } from "./values.ts";

const SPEC = /^(?:(.)?([<>=^]))?([+\- ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/su;

function group(intPart: string, sep: string | undefined, every: number): string {
  if (!sep) return intPart;
  let out = "";
  for (let i = 0; i < intPart.length; i++) {
    if (i > 0 && (intPart.length - i) % every === 0) out += sep;
    out += intPart[i];
  }
  return out;
}

function exponent(x: number, p: number, upper: boolean): string {
  const [m, e] = x.toExponential(p).split("e") as [string, string];
  const n = Number(e);
  const s = `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  return upper ? s.toUpperCase() : s;
}

function general(x: number, p: number, alt: boolean, upper: boolean): string {
  if (!Number.isFinite(x)) return floatRepr(x);
  const prec = p === 0 ? 1 : p;
  const exp = x === 0 ? 0 : Number(x.toExponential(prec - 1).split("e")[1]);
  const s = exp >= -4 && exp < prec ? x.toFixed(Math.max(0, prec - 1 - exp)) : exponent(x, prec - 1, upper);
  if (alt) return s;
  const [mant = "", ex = ""] = s.split(/(?=[eE])/);
  return (mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant) + ex;
}

export function formatValue(ctx: Ctx, v: Value, spec: string): string {
  if (spec === "") return str(v, ctx);
  const m = SPEC.exec(spec);
  if (!m) return fail("ValueError", `invalid format specifier '${spec}'`);
  const [, fillCh, alignCh, sign = "-", alt, zero, widthText, sep, precText, type] = m;
  const width = widthText ? Number(widthText) : 0;
  checkSize(width, "the formatted field");
  const prec = precText === undefined ? undefined : Number(precText);
  if (prec !== undefined && prec > 100) fail("ValueError", "precision too big (limit 100)");
  let body: string;
  let numeric = false;
  let negative = false;
  let prefix = "";
  if (typeof v === "string" || !isNum(v)) {
    if (type && type !== "s") fail("ValueError", `unknown format code '${type}' for object of type '${typeName(v)}'`);
    body = typeof v === "string" ? v : str(v, ctx);
    if (prec !== undefined) body = Array.from(body).slice(0, prec).join("");
  } else {
    numeric = true;
    const intType = !type || "bcdoxXn".includes(type);
    if (typeof v !== "number" && intType && !(typeof v === "boolean" && !type)) {
      const n = asBig(v);
      if (prec !== undefined) fail("ValueError", "precision not allowed in integer format specifier");
      negative = n < 0n;
      const a = negative ? -n : n;
      const t = type ?? "d";
      if (t === "c") body = String.fromCodePoint(Number(a));
      else {
        const base = t === "x" || t === "X" ? 16 : t === "o" ? 8 : t === "b" ? 2 : 10;
        body = group(a.toString(base), sep, base === 10 ? 3 : 4);
        if (t === "X") body = body.toUpperCase();
        if (alt && base !== 10) prefix = `0${t === "X" ? "X" : t}`;
      }
    } else if (typeof v === "boolean" && !type) {
      body = v ? "True" : "False";
      numeric = false;
    } else {
      if (type && "bcoxXn".includes(type)) fail("ValueError", `unknown format code '${type}' for object of type 'float'`);
      const x = asFloat(v);
      negative = x < 0 || Object.is(x, -0);
      const a = Math.abs(x);
      const p = prec ?? 6;
      if (!Number.isFinite(a)) body = Number.isNaN(a) ? "nan" : "inf";
      else if (type === "f" || type === "F" || type === "%") body = (type === "%" ? a * 100 : a).toFixed(p);
      else if (type === "e" || type === "E") body = exponent(a, p, type === "E");
      else if (type === "g" || type === "G") body = general(a, p, !!alt, type === "G");
      else body = prec === undefined ? floatRepr(a) : general(a, p, !!alt, false);
      if (type === "F" || type === "E" || type === "G") body = body.toUpperCase();
      if (sep && Number.isFinite(a)) body = body.replace(/^\d+/, (d) => group(d, sep, 3));
      if (type === "%") body += "%";
    }
  }
  const signText = (numeric ? (negative ? "-" : sign === "+" ? "+" : sign === " " ? " " : "") : "") + prefix;
  const align = alignCh ?? (zero && numeric ? "=" : numeric ? ">" : "<");
  const fill = fillCh ?? (zero && !alignCh ? "0" : " ");
  const len = Array.from(signText + body).length;
  const pad = Math.max(0, width - len);
  let out: string;
  if (align === "<") out = signText + body + fill.repeat(pad);
  else if (align === ">") out = fill.repeat(pad) + signText + body;
  else if (align === "^") out = fill.repeat(pad >> 1) + signText + body + fill.repeat(pad - (pad >> 1));
  else out = signText + fill.repeat(pad) + body;
  charge(ctx, out.length);
  return out;
}

export function formatString(ctx: Ctx, template: string, args: Value[], kwargs: Map<string, Value>): string {
  let out = "";
  let auto = 0;
  let manual = false;
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c === "}") {
      if (template[i + 1] !== "}") fail("ValueError", "single '}' encountered in format string");
      out += "}";
      i += 2;
      continue;
    }
    if (c !== "{") {
      out += c;
      i++;
      continue;
    }
    if (template[i + 1] === "{") {
      out += "{";
      i += 2;
      continue;
    }
    const end = template.indexOf("}", i);
    if (end < 0) fail("ValueError", "single '{' encountered in format string");
    const field = template.slice(i + 1, end);
    if (field.includes("{")) fail("ValueError", "nested replacement fields are not supported");
    const fm = /^([^!:]*)(?:!([rsa]))?(?::(.*))?$/s.exec(field);
    if (!fm) fail("ValueError", `invalid replacement field '{${field}}'`);
    const [, name = "", conv, spec = ""] = fm!;
    let v: Value;
    if (name === "") {
      if (manual) fail("ValueError", "cannot switch from manual field numbering to automatic");
      if (auto >= args.length) fail("IndexError", `replacement index ${auto} out of range for positional args tuple`);
      v = args[auto++]!;
    } else if (/^\d+$/.test(name)) {
      manual = true;
      if (Number(name) >= args.length) fail("IndexError", `replacement index ${name} out of range for positional args tuple`);
      v = args[Number(name)]!;
    } else if (/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name) && !name.startsWith("_")) {
      if (!kwargs.has(name)) fail("KeyError", `'${name}'`);
      v = kwargs.get(name)!;
    } else return fail("ValueError", `replacement field '{${field}}' is not supported (only {}, {0} and {name})`);
    if (conv === "r" || conv === "a") v = repr(v, ctx);
    else if (conv === "s") v = str(v, ctx);
    out += formatValue(ctx, v, spec);
    checkSize(out.length, "the formatted string");
    i = end + 1;
  }
  return out;
}
