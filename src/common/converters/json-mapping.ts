// JSON key mapping shared by the JSON uplink converters (MQTT json, REST, Request): a list of
// `{key, value, type}` entries compiled once, then filled from one parsed JSON item per message.
// The connectors differ only in their expression policy (what a missing `${...}` becomes) and in
// where a key may come from besides the message (MQTT: the topic), so both are parameters here.

import { compileExpression } from "../expressions/python/index.ts";
import { compileTemplate, convertType, messageTimestamp, renderTemplate, SKIP, textOf, type ExpressionPolicy, type Template } from "../expressions/index.ts";
import type { ConvertedData, ReportStrategyConfig, TelemetryEntry } from "../../core/model.ts";

/** One attribute or time-series entry as the connector configs write it. */
export interface JsonKeyConfig {
  key: string;
  value: string;
  type?: string;
  reportStrategy?: unknown;
  tsField?: string;
  dayfirst?: boolean;
  yearfirst?: boolean;
}

export interface CompiledKey {
  key: Template;
  /** The key from the message's context (MQTT: a regex on the topic) instead of the template. */
  keyFromContext: ((context: string) => string | undefined) | undefined;
  value: Template;
  type: string;
  /** `useEval` (MQTT): the rendered text is evaluated as a Python expression before type conversion. */
  evaluate: boolean;
  strategy: ReportStrategyConfig | undefined;
  tsField: { tsField: string; dayfirst?: boolean; yearfirst?: boolean } | undefined;
}

export interface CompiledKeys {
  /** `"*"`: every field of the JSON object. */
  all: boolean;
  keys: CompiledKey[];
}

export function compileKeys<K extends JsonKeyConfig>(
  list: "*" | ReadonlyArray<"*" | K> | undefined,
  contextKey?: (k: K, index: number) => ((context: string) => string | undefined) | undefined,
  useEval = false,
): CompiledKeys {
  if (list === undefined) return { all: false, keys: [] };
  if (list === "*") return { all: true, keys: [] };
  let all = false;
  const keys: CompiledKey[] = [];
  list.forEach((k, i) => {
    if (k === "*") {
      all = true;
      return;
    }
    keys.push({
      key: compileTemplate(k.key),
      keyFromContext: contextKey?.(k, i),
      value: compileTemplate(k.value),
      type: (k.type ?? "").toLowerCase(),
      evaluate: useEval && EVAL_TYPES.has((k.type ?? "").toLowerCase()),
      strategy: k.reportStrategy as ReportStrategyConfig | undefined,
      tsField: k.tsField ? { tsField: k.tsField, dayfirst: k.dayfirst, yearfirst: k.yearfirst } : undefined,
    });
  });
  return { all, keys };
}

export interface JsonMappingOptions {
  policy: ExpressionPolicy;
  /** Stamp every telemetry entry with the receive time (ignore `ts`/`timestamp`/`tsField`). */
  useReceivedTs?: boolean;
  deviceStrategy?: ReportStrategyConfig;
}

/** Names are text; a name with no placeholder found at all is missing (the message is dropped). */
export const NAME_POLICY: ExpressionPolicy = { typedPure: false, skipIfAllMissing: true };

/** A device name or type template over a JSON item: undefined when none of its placeholders is found. */
export function compileNameTemplate(expression: string): (body: unknown) => string | undefined {
  const t = compileTemplate(expression);
  return (body) => {
    const v = renderTemplate(t, body, NAME_POLICY);
    return v === SKIP ? undefined : (v as string);
  };
}

export class JsonMapping {
  private readonly hasKeyStrategies: boolean;

  constructor(
    private readonly attrs: CompiledKeys,
    private readonly series: CompiledKeys,
    private readonly opts: JsonMappingOptions,
  ) {
    this.hasKeyStrategies = [...attrs.keys, ...series.keys].some((k) => k.strategy);
  }

  get empty(): boolean {
    return !this.attrs.all && !this.series.all && this.attrs.keys.length + this.series.keys.length === 0;
  }

  /**
   * Fill `out` (device name and type already set) from one JSON item; returns `out`, or the reason
   * nothing was found.
   */
  fill(out: ConvertedData, item: unknown, context: string, receivedTs: number): ConvertedData | string {
    let count = 0;
    let keyStrategies: Record<string, ReportStrategyConfig> | undefined;
    const isObject = item !== null && typeof item === "object" && !Array.isArray(item);

    if (this.attrs.all || this.attrs.keys.length > 0) {
      const attributes: Record<string, unknown> = {};
      if (this.attrs.all && isObject) {
        for (const k in item as object) {
          attributes[k] = (item as Record<string, unknown>)[k];
          count++;
        }
      }
      for (const k of this.attrs.keys) {
        const key = this.keyOf(k, context, item);
        if (key === undefined) continue;
        const v = this.valueOf(k, item);
        if (v === SKIP) continue;
        attributes[key] = v;
        count++;
        if (k.strategy) (keyStrategies ??= {})[key] = k.strategy;
      }
      if (count > 0) out.attributes = attributes;
    }

    if (this.series.all || this.series.keys.length > 0) {
      const before = count;
      const useReceived = this.opts.useReceivedTs === true;
      const ts = useReceived ? receivedTs : isObject ? messageTimestamp(item) : undefined;
      const values: Record<string, unknown> = {};
      let entries: TelemetryEntry[] | undefined;
      if (this.series.all && isObject) {
        for (const k in item as object) {
          values[k] = (item as Record<string, unknown>)[k];
          count++;
        }
      }
      for (const k of this.series.keys) {
        const key = this.keyOf(k, context, item);
        if (key === undefined) continue;
        const v = this.valueOf(k, item);
        if (v === SKIP) continue;
        count++;
        if (k.strategy) (keyStrategies ??= {})[key] = k.strategy;
        const own = k.tsField && !useReceived ? messageTimestamp(item, k.tsField) : undefined;
        if (own === undefined || own === ts) values[key] = v;
        else {
          entries ??= [];
          let e = entries.find((x) => x.ts === own);
          if (!e) entries.push((e = { ts: own, values: {} }));
          e.values[key] = v;
        }
      }
      if (count > before) {
        const main: TelemetryEntry = ts === undefined ? { values } : { ts, values };
        out.telemetry = entries ? (Object.keys(values).length > 0 ? [main, ...entries] : entries) : [main];
      }
    }

    if (count === 0) return "none of the configured keys found in the message";
    if (keyStrategies && this.hasKeyStrategies) out.keyStrategies = keyStrategies;
    if (this.opts.deviceStrategy) out.deviceStrategy = this.opts.deviceStrategy;
    return out;
  }

  private keyOf(k: CompiledKey, context: string, item: unknown): string | undefined {
    if (k.keyFromContext) return k.keyFromContext(context);
    if (k.key.literal) return k.key.source;
    const r = renderTemplate(k.key, item, this.opts.policy);
    if (r === SKIP) return undefined;
    const s = typeof r === "string" ? r : textOf(r);
    return s === this.opts.policy.skipText ? undefined : s;
  }

  private valueOf(k: CompiledKey, item: unknown): unknown {
    let r = renderTemplate(k.value, item, this.opts.policy);
    if (r === SKIP || (this.opts.policy.skipText !== undefined && r === this.opts.policy.skipText)) return SKIP;
    if (k.evaluate && typeof r === "string") r = evaluateText(r);
    return convertType(r, k.type);
  }
}

/** Types whose value text `useEval` evaluates first (upstream evaluates for the number and bool types). */
const EVAL_TYPES = new Set(["int", "integer", "long", "float", "double", "bool", "boolean"]);

/** `useEval`: the value text as a Python expression; text that does not evaluate stays text (then the type conversion decides). */
export function evaluateText(text: string): unknown {
  try {
    return compileExpression(text).evaluate({});
  } catch {
    return text;
  }
}

/**
 * Convert every item of a JSON array (or the one object) with `one`, merging data of the same
 * device; the reason of the last dropped item when nothing is left.
 */
export function convertItems(items: readonly unknown[], one: (item: unknown) => ConvertedData | string): ConvertedData[] | string {
  if (items.length === 1) {
    const d = one(items[0]);
    return typeof d === "string" ? d : [d];
  }
  const byDevice = new Map<string, ConvertedData>();
  // Per device, its first entry of each ts (what mergeInto would find by scanning): a 1,000-row
  // array is merged in linear time instead of a scan of the device's entries per row.
  const entriesByTs = new Map<ConvertedData, Map<unknown, TelemetryEntry>>();
  let reason = "empty JSON array";
  for (const item of items) {
    const d = one(item);
    if (typeof d === "string") {
      reason = d;
      continue;
    }
    const prev = byDevice.get(d.deviceName);
    if (!prev) byDevice.set(d.deviceName, d);
    else {
      let byTs = entriesByTs.get(prev);
      if (!byTs) entriesByTs.set(prev, (byTs = indexByTs(prev.telemetry)));
      mergeInto(prev, d, byTs);
    }
  }
  return byDevice.size > 0 ? [...byDevice.values()] : reason;
}

function indexByTs(entries: TelemetryEntry[] | undefined): Map<unknown, TelemetryEntry> {
  const byTs = new Map<unknown, TelemetryEntry>();
  for (const e of entries ?? []) if (e.ts !== undefined && !byTs.has(e.ts)) byTs.set(e.ts, e);
  return byTs;
}

/** Merge data of the same device (array payloads): attributes union, telemetry by ts. */
export function mergeInto(into: ConvertedData, d: ConvertedData, byTs = indexByTs(into.telemetry)): void {
  if (d.attributes) into.attributes = { ...into.attributes, ...d.attributes };
  if (d.keyStrategies) into.keyStrategies = { ...into.keyStrategies, ...d.keyStrategies };
  for (const e of d.telemetry ?? []) {
    into.telemetry ??= [];
    // (NaN is never equal to itself, so such entries were never merged: kept apart here too)
    const same = e.ts !== undefined && e.ts === e.ts ? byTs.get(e.ts) : undefined;
    if (same) Object.assign(same.values, e.values);
    else {
      into.telemetry.push(e);
      if (e.ts !== undefined && !byTs.has(e.ts)) byTs.set(e.ts, e);
    }
  }
}
