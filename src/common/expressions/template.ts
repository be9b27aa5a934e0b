// `${...}` templates: compiled once per config entry, rendered per message without eval.
// Tokens use upstream's character class (letters, digits, `.`, whitespace, `^[]*_:"-$` and `{`),
// so `${a@b}` is not a token and stays literal text.

import { compileTag, lookupTag, type CompiledTag } from "./path.ts";
import { textOf } from "./types.ts";

const tokenPattern = /\$\{[${A-Za-z0-9.^\][*_:"\-\s]*\}/g;

export interface Template {
  readonly source: string;
  /** No `${` at all: the whole string is a literal. */
  readonly literal: boolean;
  /** Literal text pieces around the tags: texts.length === tags.length + 1. */
  readonly texts: readonly string[];
  readonly tags: readonly CompiledTag[];
  /** The whole template is exactly one placeholder (its value keeps its JSON type). */
  readonly pure: boolean;
}

/** Returned by render when the policy says the datapoint is to be skipped. */
export const SKIP: unique symbol = Symbol("skip");
export type Rendered = unknown | typeof SKIP;

/**
 * How a connector treats missing values; upstream connectors differ and a port must keep that.
 * - `typedPure`: a template that is one placeholder yields the raw JSON value (else its text).
 * - `missingText`: what a missing placeholder becomes inside text; `undefined` keeps `${tag}`.
 * - `skipIfAllMissing`: no placeholder found at all → SKIP.
 * - `skipText`: a rendered text equal to this is skipped (upstream skips the text "None").
 */
export interface ExpressionPolicy {
  typedPure: boolean;
  missingText?: string;
  skipIfAllMissing: boolean;
  skipText?: string;
}

/** MQTT json converter, REST, XMPP: missing → None → the datapoint is skipped. */
export const NONE_SKIPS: ExpressionPolicy = { typedPure: true, missingText: "None", skipIfAllMissing: false, skipText: "None" };
/** Request connector: pure missing → skip, missing parts of text → `null`. */
export const NULL_IN_TEXT: ExpressionPolicy = { typedPure: true, missingText: "null", skipIfAllMissing: true };
/** FTP / OCPP: always text; missing placeholders keep their expression text. */
export const KEEP_EXPRESSION: ExpressionPolicy = { typedPure: false, skipIfAllMissing: false };
/** Device names: the expression itself when nothing is found ("expression instead of none"). */
export const EXPRESSION_INSTEAD_OF_NONE: ExpressionPolicy = { typedPure: false, skipIfAllMissing: false };

const cache = new Map<string, Template>();

export function compileTemplate(source: string): Template {
  const hit = cache.get(source);
  if (hit) return hit;
  const texts: string[] = [];
  const tags: CompiledTag[] = [];
  let last = 0;
  if (source.includes("${")) {
    for (const m of source.matchAll(tokenPattern)) {
      texts.push(source.slice(last, m.index));
      tags.push(compileTag(m[0].slice(2, -1)));
      last = m.index + m[0].length;
    }
  }
  texts.push(source.slice(last));
  const t: Template = {
    source,
    literal: tags.length === 0,
    texts,
    tags,
    pure: tags.length === 1 && texts[0] === "" && texts[1] === "",
  };
  if (cache.size < 10_000) cache.set(source, t);
  return t;
}

/** The tags (text inside `${}`) of an expression, in order. */
export function templateTags(source: string): string[] {
  return compileTemplate(source).tags.map((t) => t.text);
}

/** Render a template against a parsed JSON body under a policy. */
export function renderTemplate(t: Template, body: unknown, policy: ExpressionPolicy): Rendered {
  if (t.literal) return t.source;
  if (t.pure) {
    const v = lookupTag(t.tags[0]!, body);
    if (v === undefined || v === null) {
      if (policy.skipIfAllMissing) return SKIP;
      const text = policy.missingText ?? t.source;
      return text === policy.skipText ? SKIP : text;
    }
    if (policy.typedPure) return v;
    const s = textOf(v);
    return policy.skipText !== undefined && s === policy.skipText ? SKIP : s;
  }
  let out = t.texts[0]!;
  let found = 0;
  for (let i = 0; i < t.tags.length; i++) {
    const tag = t.tags[i]!;
    const v = lookupTag(tag, body);
    if (v === undefined || v === null) out += policy.missingText ?? "${" + tag.text + "}";
    else {
      found++;
      out += textOf(v);
    }
    out += t.texts[i + 1]!;
  }
  if (found === 0 && policy.skipIfAllMissing) return SKIP;
  if (policy.skipText !== undefined && out === policy.skipText) return SKIP;
  return out;
}

/** Shorthand: compile (cached) and render. */
export function render(source: string, body: unknown, policy: ExpressionPolicy): Rendered {
  return renderTemplate(compileTemplate(source), body, policy);
}
