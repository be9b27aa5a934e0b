// Node references as written in opcua.json: `${Relative\.Path}`, `${Root\.Objects\.X}`, `${ns=2;i=12}`,
// bare paths (`Root\.Objects\.Dev\.Relay`, `Root.Objects.Dev.Relay` in RPC text) and node ids.
// Pure text handling; no OPC-UA library here, so it is cheap to test.

export type NodeRef =
  | { kind: "nodeId"; nodeId: string }
  | { kind: "absolute"; segments: PathSegment[] }
  | { kind: "relative"; segments: PathSegment[] };

/** One browse-path step: a browse name, optionally with its namespace index (`2:Name`). */
export interface PathSegment {
  ns?: number;
  name: string;
  /** Set when the segment holds regex syntax (upstream matches segments as regular expressions). */
  regex?: RegExp;
}

const NODE_ID = /^\s*(ns=\d+;)?[isgb]=.+$/s;
const EXPR = /\$\{([^}]*)\}/g;

export function isNodeId(text: string): boolean {
  return NODE_ID.test(text);
}

/** The text inside the first `${...}`, or the whole text when there is none. */
export function innerExpression(text: string): string {
  const m = /\$\{([^}]*)\}/.exec(text);
  return (m ? m[1]! : text).trim();
}

/** All `${...}` parts of a template such as `Device ${Name} on ${ns=2;s=Line}`. */
export function templateParts(text: string): string[] {
  return [...text.matchAll(EXPR)].map((m) => m[1]!.trim());
}

/** Replace each `${...}` with `lookup(inner)`. */
export function fillTemplate(text: string, lookup: (inner: string) => string): string {
  return text.replace(EXPR, (_, inner: string) => lookup(inner.trim()));
}

/**
 * Split a browse path. Escaped dots (`\.`) separate segments; when the text has none, plain dots do
 * (the RPC form `Root.Objects.Dev.Relay`).
 */
export function splitPath(path: string): string[] {
  const p = path.trim();
  const parts = p.includes("\\.") ? p.split("\\.") : p.split(".");
  return parts.map((s) => s.trim()).filter((s) => s.length > 0);
}

const REGEX_CHARS = /[*+?^$|()[\]{}]/;

export function parseSegment(text: string): PathSegment {
  let ns: number | undefined;
  let name = text;
  const m = /^(\d+):(.*)$/s.exec(text);
  if (m) {
    ns = Number(m[1]);
    name = m[2]!;
  }
  // A backslash escapes the next character for a literal match; regex syntax keeps its escapes.
  const literal = name.replace(/\\(.)/g, "$1");
  const seg: PathSegment = { ns, name: literal };
  if (REGEX_CHARS.test(name.replace(/\\./g, ""))) {
    try {
      seg.regex = new RegExp(`^(?:${name})$`);
      seg.name = name;
    } catch {
      // Not a valid regex: keep the literal match.
    }
  }
  return seg;
}

/** Does a browse name (namespace index + name) match this segment? */
export function segmentMatches(seg: PathSegment, nsIndex: number, name: string): boolean {
  if (seg.ns !== undefined && seg.ns !== nsIndex) return false;
  return seg.regex ? seg.regex.test(name) : seg.name === name;
}

/** Parse a reference (with or without `${...}`) into a node id, absolute path or relative path. */
export function parseRef(text: string): NodeRef {
  const inner = innerExpression(String(text));
  if (isNodeId(inner)) return { kind: "nodeId", nodeId: inner.trim() };
  const segs = splitPath(inner);
  if (segs[0] === "Root") return { kind: "absolute", segments: segs.slice(1).map(parseSegment) };
  return { kind: "relative", segments: segs.map(parseSegment) };
}

export function refToString(ref: NodeRef): string {
  if (ref.kind === "nodeId") return ref.nodeId;
  const p = ref.segments.map((s) => (s.ns !== undefined ? `${s.ns}:${s.name}` : s.name)).join(".");
  return ref.kind === "absolute" ? `Root.${p}` : p;
}
