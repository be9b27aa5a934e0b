// Telemetry timestamps from messages: a configured `tsField` (a tag or JSONPath; the value is a
// number or a date text, dateutil-style with dayfirst/yearfirst), else the message's own `ts` or
// `timestamp` field, else nothing (the gateway stamps on receipt).

import { compileTag, lookupTag } from "./path.ts";

export interface TsOptions {
  tsField?: string;
  dayfirst?: boolean;
  yearfirst?: boolean;
}

const tagCache = new Map<string, ReturnType<typeof compileTag>>();

/** Epoch ms for one message (or item of an array message); undefined when it carries none. */
export function messageTimestamp(body: unknown, opts?: TsOptions): number | undefined {
  if (body === null || typeof body !== "object") return undefined;
  if (opts?.tsField) {
    const field = opts.tsField.replace(/^\$\{(.*)\}$/, "$1");
    let tag = tagCache.get(field);
    if (!tag) tagCache.set(field, (tag = compileTag(field)));
    return parseTimestamp(lookupTag(tag, body), opts);
  }
  const o = body as Record<string, unknown>;
  return parseTimestamp(o.ts ?? o.timestamp, opts);
}

/** Numbers are taken as epoch ms, as upstream does; numeric text too; other text is a date. */
export function parseTimestamp(v: unknown, opts: { dayfirst?: boolean; yearfirst?: boolean } = {}): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? Math.round(v) : undefined;
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return parseTimestamp(Number(s));
  return parseDateText(s, opts.dayfirst ?? false, opts.yearfirst ?? false);
}

const numericDate =
  /^(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Dates in numeric form follow dateutil's reading of ambiguous day/month/year orders; anything
 * else (ISO 8601, RFC 2822, month names) goes to Date.parse. Times without a zone are local time,
 * as dateutil returns naive datetimes that Python then reads as local.
 */
export function parseDateText(s: string, dayfirst: boolean, yearfirst: boolean): number | undefined {
  const m = numericDate.exec(s);
  if (!m) {
    const t = Date.parse(s);
    return Number.isNaN(t) ? undefined : t;
  }
  const a = m[1]!;
  const b = Number(m[2]);
  const c = m[3]!;
  let year: number;
  let month: number;
  let day: number;
  if (a.length === 4 || (yearfirst && c.length <= 2)) {
    year = Number(a);
    // yyyy-mm-dd unless dayfirst says yyyy-dd-mm
    [month, day] = dayfirst && Number(c) <= 12 ? [Number(c), b] : [b, Number(c)];
  } else {
    year = Number(c);
    [month, day] = dayfirst ? [b, Number(a)] : [Number(a), b];
    if (month > 12 && day <= 12) [month, day] = [day, month];
  }
  if (year < 100) year += year < 70 ? 2000 : 1900;
  const h = Number(m[4] ?? 0);
  const min = Number(m[5] ?? 0);
  const sec = Number(m[6] ?? 0);
  const ms = m[7] ? Math.round(Number("0." + m[7]) * 1000) : 0;
  if (month < 1 || month > 12 || day < 1 || day > 31 || h > 23 || min > 59 || sec > 59) return undefined;
  const zone = m[8];
  if (!zone) return new Date(year, month - 1, day, h, min, sec, ms).getTime();
  const utc = Date.UTC(year, month - 1, day, h, min, sec, ms);
  if (zone.toUpperCase() === "Z") return utc;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  return utc - sign * offset * 60_000;
}
