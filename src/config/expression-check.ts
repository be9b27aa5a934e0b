// `expression` role: a config string that is a Python expression for the safe evaluator
// (src/common/expressions/python). validate compiles it and reports a syntax error or an unsupported
// construct at its place inside the string (file:line:col of the offending character), so the
// error shows up before the gateway runs rather than on the first message.

import { checkExpression, checkFunction } from "../common/expressions/python/index.ts";
import type { Diagnostic } from "./diagnostics.ts";
import type { RoleHit } from "./schema-check.ts";
import { diagAt, diagAtOffset, type Path, pathKey, type SourceDoc } from "./source.ts";

/** Options of the role, from `.meta({ tbgw: "expression", tbgwExpression: {...} })`. */
export interface ExpressionRoleOptions {
  /** The only variables the expression may use (others are errors); absent = any names (known at run time). */
  variables?: string[];
  /** The string is a `${...}` template whose rendered text is evaluated (MQTT useEval): placeholders are checked as numbers. */
  template?: boolean;
  /** It is an expression only when the nearest enclosing object with this field has it `true`. */
  enabledBy?: string;
  /** ... and that object's `type` is not one of these (MQTT: the bytes and custom converters never evaluate). */
  enablerNotTypes?: string[];
  /** It is not an expression when its sibling `type` is absent or one of these (lower case). */
  notForTypes?: string[];
  /** The string is a whole Python function `def <name>(<params>): ...` (statement layer; it must return a dict). */
  function?: { name: string; params: string[] };
}

const PLACEHOLDER = /\$\{[^}]*\}/g;

function valueAt(doc: SourceDoc, path: Path): unknown {
  let v: unknown = doc.value;
  for (const k of path) v = v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined;
  return v;
}

function applies(doc: SourceDoc, hit: RoleHit, o: ExpressionRoleOptions): boolean {
  if (o.enabledBy) {
    let holder: Record<string, unknown> | undefined;
    for (let n = hit.path.length - 1; n >= 0 && !holder; n--) {
      const v = valueAt(doc, hit.path.slice(0, n));
      if (v !== null && typeof v === "object" && !Array.isArray(v) && o.enabledBy in v) holder = v as Record<string, unknown>;
    }
    if (holder?.[o.enabledBy] !== true) return false;
    if (o.enablerNotTypes && typeof holder.type === "string" && o.enablerNotTypes.includes(holder.type)) return false;
  }
  if (o.notForTypes) {
    const t = (valueAt(doc, hit.path.slice(0, -1)) as Record<string, unknown> | undefined)?.type;
    if (typeof t !== "string" || o.notForTypes.includes(t.toLowerCase())) return false;
  }
  return true;
}

/**
 * Offset in the file of character `index` of the string value at `path`, when the text in the file
 * maps onto the value one to one (JSON strings with escapes, YAML plain, single- and double-quoted
 * scalars on one line); undefined otherwise (block scalars, folded lines).
 */
export function offsetInString(doc: SourceDoc, path: Path, value: string, index: number): number | undefined {
  const place = doc.places.get(pathKey(path));
  if (!place) return undefined;
  const raw = doc.text.slice(place.offset, place.offset + place.length);
  const q = raw[0];
  const starts: number[] = []; // file offset of each code unit of the value
  if (q === '"' || q === "'") {
    let i = 1;
    while (i < raw.length - 1) {
      const c = raw[i]!;
      if (q === "'" && doc.kind === "yaml" && c === "'" && raw[i + 1] === "'") {
        starts.push(place.offset + i);
        i += 2;
      } else if (c === "\\" && q === '"') {
        const e = raw[i + 1];
        const len = e === "u" ? 6 : e === "x" && doc.kind === "yaml" ? 4 : e === "U" && doc.kind === "yaml" ? 10 : 2;
        const units = e === "U" ? 2 : 1; // an 8-digit escape beyond the BMP is two code units
        for (let k = 0; k < units; k++) starts.push(place.offset + i);
        i += len;
      } else {
        if (c === "\n" || c === "\r") return undefined;
        starts.push(place.offset + i);
        i++;
      }
    }
  } else {
    if (raw !== value) return undefined;
    for (let i = 0; i < raw.length; i++) starts.push(place.offset + i);
  }
  if (starts.length !== value.length) return undefined;
  return index < starts.length ? starts[index] : place.offset + place.length - (q === '"' || q === "'" ? 1 : 0);
}

export function checkExpressionRole(doc: SourceDoc, hit: RoleHit, owner: string, out: Diagnostic[]): void {
  if (typeof hit.value !== "string") return;
  const o = (hit.options ?? {}) as ExpressionRoleOptions;
  if (!applies(doc, hit, o)) return;
  if (o.function && hit.value.trim() === "") return; // an empty function is no function (the answer is merged as it is)
  const text = o.template ? hit.value.replace(PLACEHOLDER, (m) => "1".repeat(m.length)) : hit.value;
  const problem = o.function ? checkFunction(text, { ...o.function, returns: "dict" }) : checkExpression(text, { variables: o.variables });
  if (!problem) return;
  const what = o.template ? `with ${o.enabledBy ?? "eval"} the value is evaluated as a Python expression` : o.function ? `Python function ${o.function.name}` : "Python expression";
  const at = offsetInString(doc, hit.path, hit.value, problem.offset);
  if (at === undefined) {
    out.push(diagAt(doc, hit.path, "error", `${owner}: ${what}: ${problem.message} (at offset ${problem.offset} of the text)`));
    return;
  }
  out.push(diagAtOffset(doc, at, problem.length, "error", `${owner}: ${what}: ${problem.message}`, hit.path));
}
