// JSON uplink converter (upstream JsonMqttUplinkConverter). Config is compiled once; each message
// is parsed and walked synchronously with no per-message closures. An array payload is converted
// item by item and merged per device. With `useEval`, a value's rendered text is evaluated as a
// Python expression (safe evaluator, src/common/expressions/python) before its type conversion.

import { compileTemplate, convertType, messageTimestamp, NONE_SKIPS, renderTemplate, SKIP, textOf, type Template } from "../../../common/expressions/index.ts";
import type { ConvertedData, ReportStrategyConfig, TelemetryEntry } from "../../../core/model.ts";
import type { ConverterConfig, KeyConfig } from "../schema.ts";
import { pythonRegex, valueFromTopic } from "../topic.ts";
import { compileDeviceInfo, type DeviceResolvers } from "./device-info.ts";
import { ConverterConfigError, type UplinkConverter } from "./types.ts";
import { errorText } from "../../../observe/logger.ts";
import { compileExpression } from "../../../common/expressions/python/index.ts";

/** Types whose value text `useEval` evaluates first (upstream evaluates for every type that is not already the value's). */
const EVAL_TYPES = new Set(["int", "integer", "long", "float", "double", "bool", "boolean"]);

interface CompiledKey {
  key: Template;
  keyFromTopic: RegExp | undefined;
  value: Template;
  type: string;
  /** useEval: the rendered text is evaluated as a Python expression before type conversion. */
  evaluate: boolean;
  strategy: ReportStrategyConfig | undefined;
  tsField: { tsField: string; dayfirst?: boolean; yearfirst?: boolean } | undefined;
}

export function deviceStrategyOf(c: ConverterConfig): ReportStrategyConfig | undefined {
  if (c.reportStrategy) return c.reportStrategy as ReportStrategyConfig;
  return c.sendDataOnlyOnChange ? { type: "ON_CHANGE" } : undefined;
}

function compileKeys(list: ConverterConfig["attributes"], where: string, useEval: boolean): { all: boolean; keys: CompiledKey[] } {
  if (list === undefined) return { all: false, keys: [] };
  if (list === "*") return { all: true, keys: [] };
  let all = false;
  const keys: CompiledKey[] = [];
  list.forEach((k, i) => {
    if (k === "*") {
      all = true;
      return;
    }
    let keyFromTopic: RegExp | undefined;
    if (k.keySource === "topic") {
      try {
        keyFromTopic = pythonRegex(k.key);
      } catch (e) {
        throw new ConverterConfigError(`${where}[${i}].key: invalid topic regex (${errorText(e)})`);
      }
    }
    keys.push({
      key: compileTemplate(k.key),
      keyFromTopic,
      value: compileTemplate(k.value),
      type: (k as KeyConfig).type.toLowerCase(),
      evaluate: useEval && EVAL_TYPES.has((k as KeyConfig).type.toLowerCase()),
      strategy: k.reportStrategy as ReportStrategyConfig | undefined,
      tsField: k.tsField ? { tsField: k.tsField, dayfirst: k.dayfirst, yearfirst: k.yearfirst } : undefined,
    });
  });
  return { all, keys };
}

export class JsonUplinkConverter implements UplinkConverter {
  private readonly device: DeviceResolvers;
  private readonly attrs: { all: boolean; keys: CompiledKey[] };
  private readonly series: { all: boolean; keys: CompiledKey[] };
  private readonly useReceivedTs: boolean;
  private readonly deviceStrategy: ReportStrategyConfig | undefined;
  private readonly hasKeyStrategies: boolean;

  constructor(config: ConverterConfig, where: string) {
    this.device = compileDeviceInfo(config.deviceInfo, false, where);
    this.attrs = compileKeys(config.attributes, `${where}.attributes`, config.useEval === true);
    this.series = compileKeys(config.timeseries, `${where}.timeseries`, config.useEval === true);
    this.useReceivedTs = config.useReceivedTs === true;
    this.deviceStrategy = deviceStrategyOf(config);
    this.hasKeyStrategies = [...this.attrs.keys, ...this.series.keys].some((k) => k.strategy);
  }

  convert(topic: string, payload: Buffer, receivedTs: number): ConvertedData[] | string {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      return "payload is not valid JSON";
    }
    if (!Array.isArray(body)) {
      const one = this.convertItem(topic, body, receivedTs);
      return typeof one === "string" ? one : [one];
    }
    const byDevice = new Map<string, ConvertedData>();
    let reason = "empty JSON array";
    for (const item of body) {
      const d = this.convertItem(topic, item, receivedTs);
      if (typeof d === "string") {
        reason = d;
        continue;
      }
      const prev = byDevice.get(d.deviceName);
      if (!prev) byDevice.set(d.deviceName, d);
      else mergeInto(prev, d);
    }
    return byDevice.size > 0 ? [...byDevice.values()] : reason;
  }

  /** One JSON object (or array item) → data for one device, or the reason it is dropped. */
  convertItem(topic: string, item: unknown, receivedTs: number): ConvertedData | string {
    const deviceName = this.device.name(topic, item);
    if (deviceName === undefined || deviceName === "") return `device name not found (${this.device.nameExpression})`;
    const deviceType = this.device.profile?.(topic, item) || "default";
    const out: ConvertedData = { deviceName, deviceType };
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
        const key = this.keyOf(k, topic, item);
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
      const ts = this.useReceivedTs ? receivedTs : isObject ? messageTimestamp(item) : undefined;
      const values: Record<string, unknown> = {};
      let entries: TelemetryEntry[] | undefined;
      if (this.series.all && isObject) {
        for (const k in item as object) {
          values[k] = (item as Record<string, unknown>)[k];
          count++;
        }
      }
      for (const k of this.series.keys) {
        const key = this.keyOf(k, topic, item);
        if (key === undefined) continue;
        const v = this.valueOf(k, item);
        if (v === SKIP) continue;
        count++;
        if (k.strategy) (keyStrategies ??= {})[key] = k.strategy;
        const own = k.tsField && !this.useReceivedTs ? messageTimestamp(item, k.tsField) : undefined;
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
    if (this.deviceStrategy) out.deviceStrategy = this.deviceStrategy;
    return out;
  }

  private keyOf(k: CompiledKey, topic: string, item: unknown): string | undefined {
    if (k.keyFromTopic) return valueFromTopic(k.keyFromTopic, topic);
    if (k.key.literal) return k.key.source;
    const r = renderTemplate(k.key, item, NONE_SKIPS);
    if (r === SKIP) return undefined;
    const s = typeof r === "string" ? r : textOf(r);
    return s === "None" ? undefined : s;
  }

  private valueOf(k: CompiledKey, item: unknown): unknown {
    let r = renderTemplate(k.value, item, NONE_SKIPS);
    if (r === SKIP || r === "None") return SKIP;
    if (k.evaluate && typeof r === "string") r = evaluateText(r);
    return convertType(r, k.type);
  }
}

/**
 * useEval: the value text as a Python expression with no variables (`"21.4 + 21.4"` → 42.8), by the
 * safe evaluator. Text that is not a valid expression, or fails, stays text, as a failed type
 * conversion does (upstream drops the rest of the message on an eval error).
 */
export function evaluateText(text: string): unknown {
  try {
    return compileExpression(text).evaluate({});
  } catch {
    return text;
  }
}

/** Merge data of the same device (array payloads): attributes union, telemetry by ts. */
export function mergeInto(into: ConvertedData, d: ConvertedData): void {
  if (d.attributes) into.attributes = { ...into.attributes, ...d.attributes };
  if (d.keyStrategies) into.keyStrategies = { ...into.keyStrategies, ...d.keyStrategies };
  for (const e of d.telemetry ?? []) {
    into.telemetry ??= [];
    const same = into.telemetry.find((x) => x.ts === e.ts && e.ts !== undefined);
    if (same) Object.assign(same.values, e.values);
    else into.telemetry.push(e);
  }
}
