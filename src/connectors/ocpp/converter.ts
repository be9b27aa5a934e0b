// Charge point messages → platform data. Each incoming action is converted by the keys whose
// `messageTypeFilter` lists it (upstream converts BootNotification with the MeterValues keys; here
// every action has its own). Payloads are given to the `${...}` lookups in the snake_case names of
// upstream's Python `ocpp` library (`meter_value[:].sampled_value[:].value`, `connector_id`), so
// upstream configs work unchanged.

import { compileTag, compileTemplate, convertType, lookupTag, parseTimestamp, textOf, type Template } from "../../common/expressions/index.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import type { ChargePointConfig, OcppKey } from "./schema.ts";

/** `chargePointVendor` → `charge_point_vendor`, recursively (what the Python library hands upstream's converter). */
export function toSnakeCase(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toSnakeCase);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[snakeName(k)] = toSnakeCase(x);
  return out;
}

const snakeCache = new Map<string, string>();
function snakeName(k: string): string {
  let s = snakeCache.get(k);
  if (s === undefined) {
    s = k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z])([A-Z][a-z])/g, "$1_$2").toLowerCase();
    if (snakeCache.size < 1000) snakeCache.set(k, s);
  }
  return s;
}

const DECIMAL = /^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * Sampled values are decimal numbers sent as text (OCPP 1.6 §7.43, format "Raw", the default):
 * they reach the platform as numbers. "SignedData" and anything not a decimal stay text.
 */
export function typeSampledValues(meterValues: unknown): void {
  if (!Array.isArray(meterValues)) return;
  for (const mv of meterValues) {
    const samples = (mv as { sampled_value?: unknown })?.sampled_value;
    if (!Array.isArray(samples)) continue;
    for (const s of samples as Array<Record<string, unknown>>) {
      if (s && typeof s.value === "string" && (s.format === undefined || s.format === "Raw") && DECIMAL.test(s.value)) s.value = Number(s.value);
    }
  }
}

/**
 * The message as the keys see it: snake_case; DataTransfer fields holding JSON text parsed
 * (upstream, so `${data.temp}` works); BootNotification with upstream's `Vendor` and `Model`.
 */
export function messageBody(action: string, payload: Record<string, unknown>): Record<string, unknown> {
  const body = toSnakeCase(payload) as Record<string, unknown>;
  if (action === "MeterValues" || action === "StopTransaction") typeSampledValues(body.meter_value ?? body.transaction_data);
  if (action === "DataTransfer") {
    for (const [k, v] of Object.entries(body)) {
      if (typeof v !== "string") continue;
      try {
        body[k] = JSON.parse(v);
      } catch {
        // not JSON: stays text
      }
    }
  }
  if (action === "BootNotification") {
    body.Vendor = payload.chargePointVendor;
    body.Model = payload.chargePointModel;
  }
  return body;
}

/** The time of a message's data: its own `timestamp` (Start/StopTransaction), the first meter value's time, else undefined (now). */
export function messageTime(body: Record<string, unknown>): number | undefined {
  const own = parseTimestamp(body.ts ?? body.timestamp);
  if (own !== undefined) return own;
  const mv = body.meter_value;
  return Array.isArray(mv) ? parseTimestamp((mv[0] as { timestamp?: unknown })?.timestamp) : undefined;
}

const MISSING = Symbol("missing");

/**
 * A template filled from the message. A lone `${...}` keeps its JSON type; in text every value is
 * its text. Anything not found makes the whole key missing (upstream sends the `${...}` text).
 */
export function fill(t: Template, body: unknown): unknown {
  if (t.literal) return t.source;
  const values = t.tags.map((tag) => lookupTag(tag, body));
  if (values.some((v) => v === undefined || v === null)) return MISSING;
  if (t.pure) return values[0];
  let out = t.texts[0]!;
  values.forEach((v, i) => (out += textOf(v) + t.texts[i + 1]!));
  return out;
}

interface CompiledKey {
  actions: Set<string>;
  key: Template;
  value: Template;
  type: string | undefined;
  strategy: ReportStrategyConfig | undefined;
}

const compileKey = (k: OcppKey): CompiledKey => ({
  actions: new Set(k.messageTypeFilter.split(",").map((s) => s.trim()).filter(Boolean)),
  key: compileTemplate(k.key),
  value: compileTemplate(k.value),
  type: k.type,
  strategy: k.reportStrategy as ReportStrategyConfig | undefined,
});

/** One `chargePoints[]` entry's uplink, compiled once. */
export class ChargePointConverter {
  private readonly attributes: CompiledKey[];
  private readonly timeseries: CompiledKey[];
  private readonly name: Template;
  private readonly type: Template;

  constructor(readonly config: ChargePointConfig) {
    this.attributes = config.attributes.map(compileKey);
    this.timeseries = config.timeseries.map(compileKey);
    this.name = compileTemplate(config.deviceNameExpression);
    this.type = compileTemplate(config.deviceTypeExpression);
  }

  /** Device name and type from the boot profile; placeholders not found stay as written (upstream). */
  deviceOf(profile: Record<string, unknown>): { name: string; type: string } {
    const text = (t: Template) => t.source.replace(/\$\{([^}]*)\}/g, (whole, tag: string) => {
      const v = lookupTag(compileTag(tag), profile);
      return v === undefined || v === null ? whole : textOf(v);
    });
    return { name: text(this.name), type: text(this.type) };
  }

  /** Keys of this action found in the message; undefined when none (nothing to send). */
  convert(action: string, body: Record<string, unknown>, device: { name: string; type: string }, receivedTs: number): { data?: ConvertedData; missing: string[] } {
    const missing: string[] = [];
    let strategies: Record<string, ReportStrategyConfig> | undefined;
    const pick = (keys: CompiledKey[]): Record<string, unknown> | undefined => {
      let out: Record<string, unknown> | undefined;
      for (const k of keys) {
        if (!k.actions.has(action)) continue;
        const key = fill(k.key, body);
        const value = fill(k.value, body);
        if (key === MISSING || value === MISSING) {
          missing.push(k.key.source);
          continue;
        }
        const name = textOf(key);
        (out ??= {})[name] = convertType(value, k.type);
        if (k.strategy) (strategies ??= {})[name] = k.strategy;
      }
      return out;
    };
    const attributes = pick(this.attributes);
    const values = pick(this.timeseries);
    if (!attributes && !values) return { missing };
    const data: ConvertedData = { deviceName: device.name, deviceType: device.type };
    if (attributes) data.attributes = attributes;
    if (values) data.telemetry = [{ ts: messageTime(body) ?? receivedTs, values }];
    if (strategies) data.keyStrategies = strategies;
    if (this.config.reportStrategy) data.deviceStrategy = this.config.reportStrategy as ReportStrategyConfig;
    return { data, missing };
  }
}
