// Reading a connector file as written (before its schema's defaults and transforms), for the
// offline checks connectors declare (lint, poll targets): small accessors that never throw.

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** A string or number as trimmed text; `dflt` for anything else. */
export const text = (v: unknown, dflt = ""): string => (typeof v === "string" || typeof v === "number" ? String(v).trim() : dflt);
