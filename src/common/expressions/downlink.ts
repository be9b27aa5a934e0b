// Downlink placeholders: plain string replacement (not JSONPath over a message) of
// `${deviceName}`, `${attributeKey}`, `${attributeValue}`, `${methodName}`, `${requestId}` and
// `${params}` / `${params.x.y}` from an RPC's data, as upstream does for topics and payloads.

import { compileTemplate } from "./template.ts";
import { compileTag, lookupTag } from "./path.ts";

export type Encode = (v: unknown) => string;

/** Topic text: strings as they are, other values as JSON. */
export const plainText: Encode = (v) => (typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v));
/** Payload text for `${params...}`: always JSON (a string param gets its quotes, like upstream). */
export const jsonText: Encode = (v) => (v === undefined ? "null" : JSON.stringify(v));

/**
 * Attribute values in update payloads: objects/arrays as JSON, booleans `true`/`false`, null
 * `null`, everything else as its text.
 */
export const attributeText: Encode = (v) =>
  v === null || v === undefined ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v);

/**
 * Replace `${name}` for every name in `vars` (encoded with `encodeVar`), and `${params}` /
 * `${params.path}` from `rpcData` (encoded with `encodeParams`). Unknown placeholders stay as they are.
 */
export function fillPlaceholders(
  template: string,
  vars: Record<string, unknown>,
  opts: { rpcData?: { params?: unknown }; encodeVar?: Encode; encodeParams?: Encode } = {},
): string {
  const t = compileTemplate(template);
  if (t.literal) return template;
  const encodeVar = opts.encodeVar ?? plainText;
  const encodeParams = opts.encodeParams ?? jsonText;
  let out = t.texts[0]!;
  for (let i = 0; i < t.tags.length; i++) {
    const name = t.tags[i]!.text;
    if (Object.hasOwn(vars, name)) out += encodeVar(vars[name]);
    else if (opts.rpcData && (name === "params" || name.startsWith("params.") || name.startsWith("params["))) {
      out += encodeParams(lookupTag(compileTag(name), opts.rpcData));
    } else out += "${" + name + "}";
    out += t.texts[i + 1]!;
  }
  return out;
}

/**
 * Reserved get/set RPC params, `key=value;key=value;` (MQTT, REST, Request): the text after the
 * first `=` is the value, so values may hold `=`; parts without one are skipped.
 */
export function parseReservedParams(params: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of params.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1);
  }
  return out;
}
