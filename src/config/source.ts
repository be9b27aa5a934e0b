// Reads a config file (JSON or YAML) keeping where every key and value sits, so that any later
// check can point at file:line:col. Syntax problems (trailing commas, comments, unquoted names,
// duplicate keys, BOM, bad UTF-8, tabs in YAML) become diagnostics here; the parsers are
// jsonc-parser and yaml, both error-tolerant so one file yields all its syntax errors at once.

import { type Node as JsonNode, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import type { Node as YamlNode } from "yaml";
import type { Diagnostic, Severity } from "./diagnostics.ts";
import { errorText } from "../observe/logger.ts";

export type Path = Array<string | number>;

/** Where one value (and, for object members, its key) is in the text, as offsets. */
export interface Place {
  offset: number;
  length: number;
  keyOffset?: number;
  keyLength?: number;
}

export interface SourceDoc {
  file: string;
  text: string;
  kind: "json" | "yaml";
  /** The parsed document (undefined when nothing could be recovered). */
  value: unknown;
  /** True when the file had syntax errors: schema checks are then skipped for it. */
  broken: boolean;
  diagnostics: Diagnostic[];
  places: Map<string, Place>;
  lineStarts: number[];
}

export const pathKey = (p: Path): string => p.map(String).join("\u001f");

/** `thingsboard.security.caCert`, `connectors[2].name` */
export function pathText(p: Path): string {
  let s = "";
  for (const k of p) s += typeof k === "number" ? `[${k}]` : s ? `.${k}` : k;
  return s;
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** A diagnostic at a text offset of `doc`. */
export function diagAtOffset(doc: SourceDoc, offset: number, length: number, severity: Severity, message: string, path?: Path): Diagnostic {
  const off = Math.max(0, Math.min(offset, doc.text.length));
  let lo = 0;
  let hi = doc.lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (doc.lineStarts[mid]! <= off) lo = mid;
    else hi = mid - 1;
  }
  const start = doc.lineStarts[lo]!;
  const end = lo + 1 < doc.lineStarts.length ? doc.lineStarts[lo + 1]! - 1 : doc.text.length;
  const lineText = doc.text.slice(start, end).replace(/\r$/, "");
  const d: Diagnostic = { file: doc.file, line: lo + 1, col: off - start + 1, severity, message, lineText, length: Math.max(1, length) };
  if (path) d.path = pathText(path);
  return d;
}

/**
 * A diagnostic at the value under `path` (or its key with `at: "key"`). When the path does not exist
 * (a missing field, a value set by an environment override) it points at the nearest existing parent.
 */
export function diagAt(doc: SourceDoc, path: Path, severity: Severity, message: string, at: "value" | "key" = "value"): Diagnostic {
  for (let n = path.length; n >= 0; n--) {
    const place = doc.places.get(pathKey(path.slice(0, n)));
    if (!place) continue;
    if (at === "key" && n === path.length && place.keyOffset !== undefined) {
      return diagAtOffset(doc, place.keyOffset, place.keyLength ?? 1, severity, message, path);
    }
    // A missing child is reported at its parent's key when there is one, which reads better than a `{`.
    if (n < path.length && place.keyOffset !== undefined) {
      return diagAtOffset(doc, place.keyOffset, place.keyLength ?? 1, severity, message, path);
    }
    return diagAtOffset(doc, place.offset, n === path.length ? place.length : 1, severity, message, path);
  }
  return diagAtOffset(doc, 0, 1, severity, message, path);
}

/** Parse `bytes` read from `file`; the kind follows the extension (.yaml/.yml → YAML, else JSON). */
export function parseSource(file: string, bytes: Uint8Array, kind: "json" | "yaml" = /\.ya?ml$/i.test(file) ? "yaml" : "json"): SourceDoc {
  const doc: SourceDoc = { file, text: "", kind, value: undefined, broken: false, diagnostics: [], places: new Map(), lineStarts: [0] };
  const text = decode(doc, bytes);
  if (text === undefined) {
    doc.broken = true;
    return doc;
  }
  doc.text = text;
  doc.lineStarts = lineStartsOf(text);
  if (kind === "yaml") parseYaml(doc);
  else parseJson(doc);
  if (doc.diagnostics.some((d) => d.severity === "error")) doc.broken = true;
  return doc;
}

function decode(doc: SourceDoc, bytes: Uint8Array): string | undefined {
  const at0 = (message: string, severity: Severity = "error") => doc.diagnostics.push({ file: doc.file, line: 1, col: 1, severity, message });
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    at0("file is UTF-16 encoded; save it as UTF-8 (without byte order mark)");
    return undefined;
  }
  let body = bytes;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    at0("file starts with a UTF-8 byte order mark (BOM); tb-gw skips it, but the Python gateway and many tools reject it: save as UTF-8 without BOM", "warning");
    body = bytes.subarray(3);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    // Point at the first byte that is not UTF-8 (often a Latin-1 "°" or "é" from an old editor).
    const loose = new TextDecoder("utf-8").decode(body);
    doc.text = loose;
    doc.lineStarts = lineStartsOf(loose);
    const bad = loose.indexOf("\uFFFD");
    doc.diagnostics.push(diagAtOffset(doc, Math.max(0, bad), 1, "error", "invalid UTF-8 byte here (file saved in another encoding, e.g. Latin-1?); save the file as UTF-8"));
    return undefined;
  }
}

// ---------------------------------------------------------------- JSON

function prevNonSpace(text: string, offset: number): number {
  let i = offset - 1;
  while (i >= 0 && /\s/.test(text[i]!)) i--;
  return i;
}

function jsonErrorMessage(doc: SourceDoc, e: ParseError): { offset: number; length: number; message: string } {
  const t = doc.text;
  const here = t[e.offset] ?? "";
  const prev = prevNonSpace(t, e.offset);
  const token = t.slice(e.offset, e.offset + Math.max(1, e.length));
  switch (printParseErrorCode(e.error)) {
    case "PropertyNameExpected":
    case "ValueExpected":
      if ((here === "}" || here === "]") && t[prev] === ",")
        return { offset: prev, length: 1, message: `trailing comma before "${here}": JSON allows no comma after the last ${here === "}" ? "member" : "element"}; remove it` };
      if (e.offset >= t.length) return { offset: e.offset, length: 1, message: t.trim() ? "unexpected end of file: the document is cut short" : "file is empty; expected a JSON object" };
      if (printParseErrorCode(e.error) === "PropertyNameExpected") return { offset: e.offset, length: e.length, message: `expected a property name in double quotes, found "${token}"` };
      return { offset: e.offset, length: e.length, message: `expected a value, found "${token}"` };
    case "InvalidSymbol": {
      const word = /^[A-Za-z_$][\w$-]*/.exec(t.slice(e.offset))?.[0];
      if (here === "'") return { offset: e.offset, length: e.length, message: "strings and names must use double quotes (\"), not single quotes" };
      if (word && (t[prev] === "{" || t[prev] === ","))
        return { offset: e.offset, length: word.length, message: `property name ${word} must be in double quotes: "${word}"` };
      if (word) return { offset: e.offset, length: word.length, message: `unexpected "${word}": a value must be a number, true, false, null, an object, an array or a string in double quotes` };
      return { offset: e.offset, length: e.length, message: `unexpected character "${token}"` };
    }
    case "InvalidCommentToken":
      return { offset: e.offset, length: e.length, message: "comments are not allowed in JSON; remove it (YAML configs may carry # comments)" };
    case "UnexpectedEndOfString":
      return { offset: e.offset, length: e.length, message: "string is not closed: a double quote is missing before the end of the line" };
    case "CommaExpected":
      return { offset: e.offset, length: e.length, message: "missing comma before this" };
    case "ColonExpected":
      return { offset: e.offset, length: e.length, message: 'missing ":" after the property name' };
    case "CloseBraceExpected":
      return { offset: e.offset, length: e.length, message: 'missing "}": an object is not closed' };
    case "CloseBracketExpected":
      return { offset: e.offset, length: e.length, message: 'missing "]": an array is not closed' };
    case "EndOfFileExpected":
      return { offset: e.offset, length: e.length, message: `unexpected "${token}" after the end of the document (one "}" or "]" too many?)` };
    case "InvalidEscapeCharacter":
      return { offset: e.offset, length: e.length, message: 'invalid escape in string (Windows paths need "\\\\" or "/")' };
    case "InvalidUnicode":
      return { offset: e.offset, length: e.length, message: "invalid \\u escape in string" };
    case "InvalidCharacter":
      return { offset: e.offset, length: e.length, message: "control character in string: write it escaped (\\n, \\t)" };
    case "InvalidNumberFormat":
      return { offset: e.offset, length: e.length, message: `invalid number "${token}"` };
    default:
      return { offset: e.offset, length: e.length, message: `syntax error at "${token}"` };
  }
}

function parseJson(doc: SourceDoc): void {
  if (parseValidJson(doc)) return;
  const errors: ParseError[] = [];
  const tree = parseTree(doc.text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  // One mistake often makes the parser report several errors on the same line; keep the first.
  // An unclosed string swallows the line end, so the next line's complaint is noise too.
  let quietUntil = -1;
  for (const e of errors) {
    const line = diagAtOffset(doc, e.offset, 1, "error", "").line;
    if (line <= quietUntil) continue;
    quietUntil = printParseErrorCode(e.error) === "UnexpectedEndOfString" ? line + 1 : line;
    const m = jsonErrorMessage(doc, e);
    doc.diagnostics.push(diagAtOffset(doc, m.offset, m.length, "error", m.message));
  }
  if (!tree) return;
  doc.value = walkJson(doc, doc.places, tree, [], errors.length === 0);
}

/**
 * The usual case, valid JSON without duplicate keys: the value from the native JSON.parse, and the
 * places of keys and values worked out only when a diagnostic first asks for them. Building the
 * syntax tree and the place of every node up front cost ~120 MB of peak RSS and ~1 s for a
 * 2.6 MB config (300 Modbus slaves × 50 keys), most of a polling gateway's peak memory.
 * False when the text needs the tolerant parser (syntax errors or duplicate keys to report).
 */
function parseValidJson(doc: SourceDoc): boolean {
  let value: unknown;
  try {
    value = JSON.parse(doc.text);
  } catch {
    return false;
  }
  if (hasDuplicateKeys(doc.text, value)) return false;
  doc.value = value;
  Object.defineProperty(doc, "places", {
    configurable: true,
    enumerable: true,
    get() {
      const places = new Map<string, Place>();
      const tree = parseTree(doc.text, [], { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
      if (tree) walkJson(doc, places, tree, [], false);
      Object.defineProperty(doc, "places", { value: places, enumerable: true, writable: true });
      return places;
    },
  });
  return true;
}

/**
 * Whether any object in the (valid) JSON text names a key twice, without building anything: in
 * valid JSON every string followed by ":" is a key, and JSON.parse keeps one property per distinct
 * key of an object, so the text has more keys than the parsed value exactly when some object
 * repeats one. (jsonc-parser's visit, used before, made a string per token and a Set per object:
 * ~0.5 s and +30 MB of peak RSS for a 2.6 MB config of 300 Modbus slaves.)
 */
function hasDuplicateKeys(text: string, value: unknown): boolean {
  return keysInText(text) !== keysInValue(value);
}

/** Strings followed (after blanks) by ":" in valid JSON text: its object keys. */
function keysInText(text: string): number {
  let keys = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    if (text.charCodeAt(i) !== 34) continue; // "
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 92) i += 2; // \ escapes the next character
      else if (c === 34) break;
      else i++;
    }
    let j = i + 1;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
      j++;
    }
    if (text.charCodeAt(j) === 58) keys++; // :
    i = j - 1;
  }
  return keys;
}

/** Own keys of every object in a JSON.parse result. */
function keysInValue(v: unknown): number {
  if (typeof v !== "object" || v === null) return 0;
  let keys = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) keys += keysInValue(v[i]);
    return keys;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) keys += 1 + keysInValue(o[k]);
  return keys;
}

function walkJson(doc: SourceDoc, places: Map<string, Place>, node: JsonNode, path: Path, checkDuplicates: boolean): unknown {
  const place = places.get(pathKey(path));
  if (place) {
    place.offset = node.offset;
    place.length = node.length;
  } else places.set(pathKey(path), { offset: node.offset, length: node.length });
  switch (node.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const seen = new Map<string, JsonNode>();
      for (const prop of node.children ?? []) {
        const [k, v] = prop.children ?? [];
        if (!k || typeof k.value !== "string") continue;
        const key = k.value;
        const first = seen.get(key);
        if (first && checkDuplicates) {
          const at = diagAtOffset(doc, first.offset, 1, "error", "");
          doc.diagnostics.push(
            diagAtOffset(doc, k.offset, k.length, "error", `duplicate key "${key}" (first at line ${at.line}:${at.col}); only one of them would be used: remove or rename one`, [...path, key]),
          );
        }
        seen.set(key, k);
        const childPath = [...path, key];
        places.set(pathKey(childPath), { offset: v?.offset ?? k.offset, length: v?.length ?? k.length, keyOffset: k.offset, keyLength: k.length });
        out[key] = v ? walkJson(doc, places, v, childPath, checkDuplicates) : undefined;
      }
      return out;
    }
    case "array":
      return (node.children ?? []).map((c, i) => walkJson(doc, places, c, [...path, i], checkDuplicates));
    default:
      return node.value;
  }
}

// ---------------------------------------------------------------- YAML

const yamlMessages: Record<string, string> = {
  TAB_AS_INDENT: "tab used for indentation; YAML allows only spaces",
  DUPLICATE_KEY: "duplicate key; only one of them would be used: remove or rename one",
  MULTIPLE_DOCS: "more than one YAML document in the file; keep only one",
  BAD_INDENT: "indentation is wrong here",
  MISSING_CHAR: "a closing character is missing",
  BLOCK_AS_IMPLICIT_KEY: "a mapping key cannot span lines; is a ':' or indentation missing?",
};

type Yaml = typeof import("yaml");
let yamlModule: Yaml | undefined;
/**
 * The YAML parser, loaded on first use: most configs are JSON, and a library loaded at start stays
 * in memory for the gateway's whole life (its top-level code, classes and bytecode pages; the
 * compiled binary bundles it so that it initialises only when required).
 */
const yaml = (): Yaml => (yamlModule ??= require("yaml") as Yaml);

function parseYaml(doc: SourceDoc): void {
  const y = yaml().parseDocument(doc.text, { uniqueKeys: true, prettyErrors: false, strict: true });
  let lastLine = -1;
  for (const e of [...y.errors, ...y.warnings]) {
    const [start, end] = e.pos;
    // Like JSON: one mistake, one message; the parser's follow-up complaints on that line are noise.
    const line = diagAtOffset(doc, start, 1, "error", "").line;
    if (line === lastLine) continue;
    lastLine = line;
    const hint = yamlMessages[e.code];
    const message = hint ? `${hint} (${e.message.split("\n")[0]})` : e.message.split("\n")[0]!;
    doc.diagnostics.push(diagAtOffset(doc, start, end - start, y.errors.includes(e as never) ? "error" : "warning", message));
  }
  try {
    doc.value = y.toJS({ maxAliasCount: 100 });
  } catch (e) {
    doc.diagnostics.push(diagAtOffset(doc, 0, 1, "error", `cannot read YAML: ${errorText(e)}`));
    return;
  }
  if (y.contents) walkYaml(doc, y.contents as YamlNode, []);
}

function walkYaml(doc: SourceDoc, node: YamlNode, path: Path, key?: { offset: number; length: number }): void {
  const { isMap, isScalar, isSeq } = yaml();
  const [start, end] = node.range ?? [0, 0];
  doc.places.set(pathKey(path), { offset: start, length: Math.max(1, end - start), keyOffset: key?.offset, keyLength: key?.length });
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = pair.key;
      const name = isScalar(k) ? String(k.value) : undefined;
      if (name === undefined) continue;
      const kr = (k as YamlNode).range ?? [start, start + 1];
      const kp = { offset: kr[0], length: kr[1] - kr[0] };
      if (pair.value) walkYaml(doc, pair.value as YamlNode, [...path, name], kp);
      else doc.places.set(pathKey([...path, name]), { offset: kp.offset, length: kp.length, keyOffset: kp.offset, keyLength: kp.length });
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (item) walkYaml(doc, item as YamlNode, [...path, i]);
    });
  }
}
