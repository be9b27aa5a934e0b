// Report strategies (spec main-config.md §2.4): per data point, keyed by connector, device and key.
// ON_RECEIVED passes everything; ON_CHANGE passes values that differ from the last one sent
// (floats equal within 0.001); the periodic kinds also resend the latest value every period,
// stamped with the current time. Periods and TTL are measured on the monotonic clock, timestamps
// come from the wall clock (see clock.ts): a step of the system clock moves neither.

import { systemClock, type Clock } from "./clock.ts";
import type { ConvertedData, ReportStrategyConfig, TelemetryEntry } from "./model.ts";

interface CacheEntry {
  value: unknown;
  strategy: ReportStrategyConfig;
  isAttribute: boolean;
  connector: string;
  device: string;
  deviceType: string | undefined;
  key: string;
  /** Monotonic ms. */
  lastSent: number;
  /** Monotonic ms. */
  lastSeen: number;
}

const FLOAT_EPSILON = 0.001;
const DEFAULT_PERIOD_MS = 10000;
const DEFAULT_TTL_S = 86400;

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isInteger(a) && Number.isInteger(b)) return a === b;
    return Math.abs(a - b) < FLOAT_EPSILON;
  }
  if (a === b) return true;
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  return false;
}

export type PeriodicEmit = (connector: string, data: ConvertedData) => void;

export class ReportStrategyService {
  private cache = new Map<string, CacheEntry>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private connectorStrategies = new Map<string, ReportStrategyConfig>();

  constructor(
    private readonly gatewayDefault: ReportStrategyConfig,
    private readonly emitPeriodic: PeriodicEmit,
    private readonly clock: Clock = systemClock,
  ) {}

  /** DISABLED at gateway level switches the whole service off (upstream behaviour). */
  get disabled(): boolean {
    return this.gatewayDefault.type === "DISABLED";
  }

  setConnectorStrategy(connector: string, s: ReportStrategyConfig | undefined): void {
    if (s) this.connectorStrategies.set(connector, s);
    else this.connectorStrategies.delete(connector);
  }

  private strategyFor(connector: string, data: ConvertedData, key: string): ReportStrategyConfig {
    return data.keyStrategies?.[key] ?? data.deviceStrategy ?? this.connectorStrategies.get(connector) ?? this.gatewayDefault;
  }

  /**
   * Returns the data to send now (possibly the same object when everything passes), or
   * undefined when nothing remains.
   */
  filter(connector: string, data: ConvertedData): ConvertedData | undefined {
    if (this.disabled) return data;
    // Fast path: nothing but ON_RECEIVED anywhere → no cache, no copies.
    if (!data.keyStrategies && !data.deviceStrategy) {
      const s = this.connectorStrategies.get(connector) ?? this.gatewayDefault;
      if (s.type === "ON_RECEIVED" || s.type === "DISABLED") return data;
    }
    const now = this.clock.monotonic();
    let attributes: Record<string, unknown> | undefined;
    if (data.attributes) {
      for (const [k, v] of Object.entries(data.attributes)) {
        if (this.pass(connector, data, k, v, true, now)) (attributes ??= {})[k] = v;
      }
    }
    let telemetry: TelemetryEntry[] | undefined;
    for (const entry of data.telemetry ?? []) {
      let values: Record<string, unknown> | undefined;
      for (const [k, v] of Object.entries(entry.values)) {
        if (this.pass(connector, data, k, v, false, now)) (values ??= {})[k] = v;
      }
      if (values) (telemetry ??= []).push(entry.ts === undefined ? { values } : { ts: entry.ts, values });
    }
    if (!attributes && !telemetry) return undefined;
    return { deviceName: data.deviceName, deviceType: data.deviceType, attributes, telemetry };
  }

  private pass(connector: string, data: ConvertedData, key: string, value: unknown, isAttribute: boolean, now: number): boolean {
    const strategy = this.strategyFor(connector, data, key);
    if (strategy.type === "ON_RECEIVED" || strategy.type === "DISABLED") return true;
    const id = `${connector}\u0000${data.deviceName}\u0000${isAttribute ? "a" : "t"}\u0000${key}`;
    const prev = this.cache.get(id);
    if (!prev) {
      this.cache.set(id, {
        value,
        strategy,
        isAttribute,
        connector,
        device: data.deviceName,
        deviceType: data.deviceType,
        key,
        lastSent: now,
        lastSeen: now,
      });
      this.ensureTimer();
      return true;
    }
    const changed = !sameValue(prev.value, value);
    prev.value = value;
    prev.strategy = strategy;
    prev.lastSeen = now;
    if (strategy.type === "ON_REPORT_PERIOD") return false;
    if (changed) prev.lastSent = now;
    return changed; // ON_CHANGE and ON_CHANGE_OR_REPORT_PERIOD
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref?.();
  }

  /** Resend due periodic values; expire entries past their TTL. Public for tests. */
  tick(): void {
    const now = this.clock.monotonic();
    let ts: number | undefined;
    const due = new Map<string, ConvertedData>();
    for (const [id, e] of this.cache) {
      const ttl = (e.strategy.ttl ?? DEFAULT_TTL_S) * 1000;
      if (now - e.lastSeen > ttl) {
        this.cache.delete(id);
        continue;
      }
      if (e.strategy.type !== "ON_REPORT_PERIOD" && e.strategy.type !== "ON_CHANGE_OR_REPORT_PERIOD") continue;
      const period = e.strategy.reportPeriod ?? DEFAULT_PERIOD_MS;
      if (now - e.lastSent < period) continue;
      e.lastSent = now;
      const dk = `${e.connector}\u0000${e.device}`;
      let d = due.get(dk);
      if (!d) {
        d = { deviceName: e.device, deviceType: e.deviceType };
        due.set(dk, d);
      }
      if (e.isAttribute) (d.attributes ??= {})[e.key] = e.value;
      else {
        d.telemetry ??= [{ ts: (ts ??= this.clock.wall()), values: {} }];
        d.telemetry[0]!.values[e.key] = e.value;
      }
    }
    for (const [dk, d] of due) this.emitPeriodic(dk.split("\u0000")[0]!, d);
  }

  forgetDevice(device: string): void {
    for (const [id, e] of this.cache) if (e.device === device) this.cache.delete(id);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
