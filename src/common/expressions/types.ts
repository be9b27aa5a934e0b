// Type hints on values (`type` in key configs) with upstream's conversion semantics:
// int via float truncation, bool from y/yes/t/true/on/1 and n/no/f/false/off/0, and any failed
// conversion keeps the value unchanged (so a bad number still reaches the platform as text).

export type TypeHint = "string" | "int" | "integer" | "long" | "float" | "double" | "bool" | "boolean" | "json" | "raw";

const TRUE = new Set(["y", "yes", "t", "true", "on", "1"]);
const FALSE = new Set(["n", "no", "f", "false", "off", "0"]);

/**
 * Text of a value as upstream's `str()` gives it for JSON data: booleans `True`/`False`, null
 * `None`; objects and arrays are JSON (upstream prints Python reprs, which nothing can parse).
 */
export function textOf(v: unknown): string {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "bigint":
      return String(v);
    case "boolean":
      return v ? "True" : "False";
    case "undefined":
      return "None";
    default:
      return v === null ? "None" : JSON.stringify(v);
  }
}

/** Python's float(): numbers, numeric text (surrounding blanks allowed), booleans. */
export function toFloat(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (s === "" || /^[+-]?0[xbo]/.test(s)) return undefined;
    if (s === "inf" || s === "+inf" || s === "infinity") return Infinity;
    if (s === "-inf" || s === "-infinity") return -Infinity;
    const n = Number(s.replace(/_/g, ""));
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

export function toBool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  return undefined;
}

/** Convert `v` per a type hint; unknown hints and failures return `v` unchanged. */
export function convertType(v: unknown, hint: string | undefined): unknown {
  if (!hint) return v;
  switch (hint.toLowerCase()) {
    case "int":
    case "integer":
    case "long": {
      const n = toFloat(v);
      return n === undefined || !Number.isFinite(n) ? v : Math.trunc(n);
    }
    case "float":
    case "double": {
      const n = toFloat(v);
      return n === undefined ? v : n;
    }
    case "bool":
    case "boolean": {
      const b = toBool(v);
      return b === undefined ? v : b;
    }
    case "string":
    case "str":
      return textOf(v);
    case "json":
      if (typeof v !== "string") return v;
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    default:
      return v;
  }
}
