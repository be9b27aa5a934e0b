// Looking up one `${...}` tag in a JSON body, the upstream way: the tag's first word as a top-level
// key, else the tag as a JSONPath whose first match wins. Simple paths (`a.b[0].c`) are walked
// directly because they are the common case on the hot path; anything else goes to jsonpath-plus.

type JsonPathPlus = typeof import("jsonpath-plus");
let jsonPathModule: JsonPathPlus | undefined;
/** Loaded on the first tag that is not a simple path: most configs have none, and then it never loads. */
const jsonPathPlus = (): JsonPathPlus => (jsonPathModule ??= require("jsonpath-plus") as JsonPathPlus);

/** A tag compiled once per config entry. */
export interface CompiledTag {
  /** Text between `${` and `}`. */
  readonly text: string;
  /** First whitespace-separated word, tried as a top-level key. */
  readonly firstWord: string;
  /** Pre-split simple path, or undefined when the tag needs the full JSONPath engine. */
  readonly segments: ReadonlyArray<string | number> | undefined;
  /** The tag as jsonpath-plus syntax (segments with spaces quoted). */
  readonly jsonPath: string;
}

const simplePath = /^\$?(?:\.?[A-Za-z_][\w-]*|\[\d+\])+$/;
const simpleSegment = /[A-Za-z_][\w-]*|\[\d+\]/g;

export function compileTag(text: string): CompiledTag {
  const trimmed = text.trim();
  const firstWord = trimmed.split(/\s+/)[0] ?? "";
  let segments: Array<string | number> | undefined;
  if (simplePath.test(trimmed)) {
    segments = [];
    for (const m of trimmed.matchAll(simpleSegment)) {
      const s = m[0];
      segments.push(s.startsWith("[") ? Number(s.slice(1, -1)) : s);
    }
  }
  return { text, firstWord, segments, jsonPath: toJsonPath(trimmed) };
}

/** jsonpath-rw accepted `a.b c.d` (spaces quoted by upstream); jsonpath-plus wants `$.a['b c'].d`. */
function toJsonPath(tag: string): string {
  let p = tag;
  if (p.includes(" ")) {
    p = p
      .split(".")
      .map((s, i) => (s.includes(" ") ? `['${s.replace(/^"|"$/g, "").replace(/'/g, "\\'")}']` : (i > 0 ? "." : "") + s))
      .join("");
  }
  if (!p.startsWith("$")) p = p.startsWith("[") ? "$" + p : "$." + p;
  return p;
}

/** Resolve a tag against a parsed body. `undefined` means "not found" (upstream's None). */
export function lookupTag(tag: CompiledTag, body: unknown): unknown {
  if (body === null || typeof body !== "object") return undefined;
  if (!Array.isArray(body) && Object.hasOwn(body, tag.firstWord)) {
    return (body as Record<string, unknown>)[tag.firstWord];
  }
  if (tag.segments) return walk(body, tag.segments);
  try {
    const found = jsonPathPlus().JSONPath({ path: tag.jsonPath, json: body as object, wrap: true, eval: false }) as unknown[];
    return found.length > 0 ? found[0] : undefined;
  } catch {
    // an unparsable path simply finds nothing, like upstream
    return undefined;
  }
}

function walk(body: unknown, segments: ReadonlyArray<string | number>): unknown {
  let cur: unknown = body;
  for (const s of segments) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (typeof s === "number") {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[s];
    } else {
      if (Array.isArray(cur) || !Object.hasOwn(cur, s)) return undefined;
      cur = (cur as Record<string, unknown>)[s];
    }
  }
  return cur;
}
