// Checks a parsed value against a zod schema and turns every problem into a diagnostic placed on
// the offending value (or key). zod strips unknown keys silently, so a second walk over the value
// with the schema's shape reports them, with the nearest known name as a suggestion. The same walk
// collects values whose schema carries a tb-gw role (`.meta({ tbgw: "file" })`) for the semantic checks.

import { z } from "./zod.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { didYouMean } from "./suggest.ts";
import { diagAt, type Path, pathText, type SourceDoc } from "./source.ts";

/**
 * Roles a connector schema may give a field with `.meta({ tbgw: role })`:
 * - `file`: a path (relative to the config folder) that must be readable, e.g. a certificate;
 * - `listenPort`: a TCP port this connector listens on (two listeners on one port clash);
 * - `udpListenPort`: the same for a UDP port (TCP and UDP listeners may share a number);
 * - `deviceName`: a fixed device name (two sources with one name merge into one device);
 * - `pollPeriod`: ms between polls of one device (the object holding it is one polled device);
 *   validate estimates storage growth from these;
 * - `expression`: a Python expression for the safe evaluator (src/common/expressions/python);
 *   options in `.meta({ tbgw: "expression", tbgwExpression: {...} })`, see ExpressionRoleOptions.
 */
export type Role = "file" | "listenPort" | "udpListenPort" | "deviceName" | "pollPeriod" | "expression";
export interface RoleHit {
  role: Role;
  path: Path;
  value: unknown;
  /** Role options from the same meta (`tbgwExpression` for `expression`). */
  options?: Record<string, unknown>;
  /** The field is absent and `value` is its schema default. */
  defaulted?: boolean;
}

/**
 * Roles that also count when the field is left out (its default applies): devices poll at the
 * default period. Not ports: another field (e.g. BACnet `address`) may set the real one.
 */
const ROLES_WITH_DEFAULTS: Role[] = ["pollPeriod"];

export interface SchemaCheck {
  ok: boolean;
  data: unknown;
  diagnostics: Diagnostic[];
  roles: RoleHit[];
}

type Def = { type: string; [k: string]: any };
const defOf = (s: z.core.$ZodType): Def => (s as any)._zod.def as Def;
const roleOf = (s: z.core.$ZodType): Role | undefined => z.globalRegistry.get(s)?.tbgw as Role | undefined;
const optionsOf = (s: z.core.$ZodType): Record<string, unknown> | undefined => z.globalRegistry.get(s)?.tbgwExpression as Record<string, unknown> | undefined;

/** Peel wrappers (optional, default, pipe, lazy, ...) collecting any role met on the way. */
function unwrap(s: z.core.$ZodType): { core: z.core.$ZodType; role?: Role; options?: Record<string, unknown> } {
  let role = roleOf(s);
  let options = role ? optionsOf(s) : undefined;
  for (let i = 0; i < 50; i++) {
    const d = defOf(s);
    let next: z.core.$ZodType | undefined;
    if (["optional", "nullable", "default", "prefault", "catch", "readonly", "nonoptional", "success"].includes(d.type)) next = d.innerType;
    else if (d.type === "pipe") next = defOf(d.in).type === "transform" ? d.out : d.in;
    else if (d.type === "lazy") next = d.getter();
    if (!next) break;
    s = next;
    if (!role && (role = roleOf(s))) options = optionsOf(s);
  }
  return { core: s, role, options };
}

/** Top-level keys of an object schema and whether it refuses others (z.strictObject); undefined if not an object. */
export function objectShape(s: z.core.$ZodType): { keys: string[]; strict: boolean } | undefined {
  const d = defOf(unwrap(s).core);
  if (d.type !== "object") return undefined;
  return { keys: Object.keys(d.shape), strict: !!d.catchall && defOf(d.catchall).type === "never" };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** For a union, the option that fits `value` best: one that parses, else the one sharing most keys. */
function pickOption(options: z.core.$ZodType[], value: unknown): z.core.$ZodType | undefined {
  const ok = options.find((o) => z.safeParse(o, value).success);
  if (ok) return ok;
  if (!isPlainObject(value)) return undefined;
  let best: z.core.$ZodType | undefined;
  let bestScore = -1;
  for (const o of options) {
    const core = unwrap(o).core;
    const d = defOf(core);
    if (d.type !== "object") continue;
    const keys = Object.keys(d.shape);
    const score = Object.keys(value).filter((k) => keys.includes(k)).length;
    if (score > bestScore) [best, bestScore] = [o, score];
  }
  return best;
}

function walk(doc: SourceDoc, s: z.core.$ZodType, value: unknown, path: Path, out: SchemaCheck): void {
  const { core, role, options } = unwrap(s);
  if (role && value !== undefined && value !== null) out.roles.push(options ? { role, path, value, options } : { role, path, value });
  const d = defOf(core);
  switch (d.type) {
    case "object": {
      if (!isPlainObject(value)) return;
      const shape = d.shape as Record<string, z.core.$ZodType>;
      const catchall = d.catchall ? defOf(d.catchall).type : undefined;
      for (const [k, v] of Object.entries(value)) {
        const child = shape[k];
        if (child) walk(doc, child, v, [...path, k], out);
        else if (catchall === undefined || catchall === "never") {
          const where = path.length ? `in ${pathText(path)}` : "at the top level";
          const severity = catchall === "never" ? "error" : "warning";
          const hint = didYouMean(k, Object.keys(shape));
          out.diagnostics.push(diagAt(doc, [...path, k], severity, `unknown field "${k}" ${where}${hint}${severity === "warning" ? "; it is ignored" : ""}`, "key"));
        } else walk(doc, d.catchall, v, [...path, k], out);
      }
      for (const [k, child] of Object.entries(shape)) {
        if (k in value) continue;
        const r = unwrap(child).role;
        if (!r || !ROLES_WITH_DEFAULTS.includes(r)) continue;
        const dflt = z.safeParse(child, undefined);
        if (dflt.success && dflt.data !== undefined) out.roles.push({ role: r, path: [...path, k], value: dflt.data, defaulted: true });
      }
      return;
    }
    case "array":
      if (Array.isArray(value)) value.forEach((v, i) => walk(doc, d.element, v, [...path, i], out));
      return;
    case "record":
      if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) walk(doc, d.valueType, v, [...path, k], out);
      return;
    case "union": {
      const o = pickOption(d.options, value);
      if (o) walk(doc, o, value, path, out);
      return;
    }
    case "intersection":
      // Unknown keys cannot be judged per side; only collect roles from both.
      for (const side of [d.left, d.right]) {
        const sub: SchemaCheck = { ok: true, data: undefined, diagnostics: [], roles: [] };
        walk(doc, side, value, path, sub);
        out.roles.push(...sub.roles);
      }
      return;
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

function issueMessage(iss: z.core.$ZodIssue & { input?: unknown }, path: Path): string | undefined {
  const name = pathText(path) || "the document";
  switch (iss.code) {
    case "invalid_type": {
      if (iss.input === undefined) return `${pathText(path.slice(0, -1)) || "top level"}: missing required field "${String(path[path.length - 1])}"`;
      const hint =
        iss.expected === "number" && typeof iss.input === "string" && iss.input.trim() !== "" && !isNaN(Number(iss.input))
          ? `; write ${iss.input.trim()} without quotes`
          : iss.expected === "boolean" && (iss.input === "true" || iss.input === "false")
            ? `; write ${iss.input} without quotes`
            : "";
      return `${name}: expected ${iss.expected}, got ${describe(iss.input)}${hint}`;
    }
    case "too_big":
    case "too_small": {
      const big = iss.code === "too_big";
      const limit = big ? (iss as any).maximum : (iss as any).minimum;
      const incl = (iss as any).inclusive !== false;
      const bound = `${big ? (incl ? "at most" : "less than") : incl ? "at least" : "more than"} ${String(limit)}`;
      if (iss.origin === "string") return Number(limit) === 1 && !big ? `${name} must not be empty` : `${name} must be ${bound} characters long`;
      if (iss.origin === "array") return `${name} must have ${bound} elements`;
      return `${name} = ${String(iss.input)} is out of range: must be ${bound}`;
    }
    case "invalid_value": {
      const values = (iss as any).values as unknown[];
      const hint = typeof iss.input === "string" ? didYouMean(iss.input, values.map(String)) : "";
      return `${name}: ${describe(iss.input)} is not allowed; use one of ${values.map((v) => JSON.stringify(v)).join(", ")}${hint}`;
    }
    case "unrecognized_keys":
      return undefined; // reported by the walk, with a suggestion
    case "invalid_format":
      return `${name}: not a valid ${(iss as any).format}`;
    case "not_multiple_of":
      return `${name} must be a multiple of ${String((iss as any).divisor)}`;
    default:
      return `${name}: ${iss.message}`;
  }
}

/** Flatten union failures: follow the branch that got furthest (longest issue paths). */
function flatten(iss: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (iss.code !== "invalid_union" || !(iss as any).errors?.length) return [iss];
  // a field that is not there fails every form alike: say it is missing, as for any other field
  if ((iss as any).input === undefined && iss.path.length > 0) return [{ code: "invalid_type", expected: "object", input: undefined, path: iss.path, message: "missing" } as unknown as z.core.$ZodIssue];
  const branches = (iss as any).errors as z.core.$ZodIssue[][];
  // A union of literals (e.g. qos 0 | 1) fails every branch the same way: one "use one of" message.
  if (branches.every((b) => b.length === 1 && b[0]!.code === "invalid_value" && b[0]!.path.length === 0)) {
    const values = branches.flatMap((b) => (b[0] as any).values as unknown[]);
    return [{ ...(branches[0]![0] as any), values, path: iss.path, input: (iss as any).input }];
  }
  const depth = (b: z.core.$ZodIssue[]) => Math.max(...b.map((i) => i.path.length)) * 1000 - b.length;
  const best = [...branches].sort((a, b) => depth(b) - depth(a))[0];
  if (!best?.length || depth(best) < 1000) return [iss];
  return best.flatMap((i) => flatten({ ...i, path: [...iss.path, ...i.path] } as z.core.$ZodIssue));
}

/** Check `value` (found at `base` in `doc`) against `schema`. */
export function checkSchema(doc: SourceDoc, base: Path, value: unknown, schema: z.core.$ZodType): SchemaCheck {
  const out: SchemaCheck = { ok: true, data: undefined, diagnostics: [], roles: [] };
  const r = z.safeParse(schema, value, { reportInput: true });
  if (r.success) out.data = r.data;
  else {
    out.ok = false;
    const seen = new Set<string>();
    for (const iss of r.error.issues.flatMap(flatten)) {
      const path = [...base, ...(iss.path as Path)];
      const message = iss.code === "invalid_union" ? `${pathText(path) || "the document"} does not match any allowed form` : issueMessage(iss as any, path);
      if (!message) continue;
      const d = diagAt(doc, path, "error", message);
      const k = `${d.line}:${d.col}:${d.message}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.diagnostics.push(d);
    }
  }
  walk(doc, schema, value, base, out);
  return out;
}
