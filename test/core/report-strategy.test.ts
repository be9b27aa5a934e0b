// Report strategies with an injected clock: key > device > connector > gateway precedence,
// ON_CHANGE with float tolerance, periodic resends stamped with the current time.

import { expect, test } from "bun:test";
import type { ConvertedData } from "../../src/core/model.ts";
import { ReportStrategyService } from "../../src/core/report-strategy.ts";

function service(type: string, reportPeriod?: number) {
  let now = 1000;
  const emitted: Array<{ connector: string; data: ConvertedData }> = [];
  const s = new ReportStrategyService({ type: type as any, reportPeriod }, (connector, data) => emitted.push({ connector, data }), { wall: () => now, monotonic: () => now });
  return { s, emitted, advance: (ms: number) => (now += ms), now: () => now };
}

const t = (v: unknown, key = "temp"): ConvertedData => ({ deviceName: "D", telemetry: [{ values: { [key]: v } }] });

test("ON_RECEIVED passes the same object through untouched", () => {
  const { s } = service("ON_RECEIVED");
  const d = t(1);
  expect(s.filter("C", d)).toBe(d);
});

test("ON_CHANGE drops repeats, floats equal within 0.001", () => {
  const { s } = service("ON_CHANGE");
  expect(s.filter("C", t(20.0))).toBeDefined();
  expect(s.filter("C", t(20.0004))).toBeUndefined();
  expect(s.filter("C", t(20.5))?.telemetry?.[0]?.values).toEqual({ temp: 20.5 });
  expect(s.filter("C", t("on", "state"))).toBeDefined();
  expect(s.filter("C", t("on", "state"))).toBeUndefined();
});

test("precedence: key strategy over connector over gateway", () => {
  const { s } = service("ON_CHANGE");
  s.setConnectorStrategy("C", { type: "ON_RECEIVED" });
  expect(s.filter("C", t(1))).toBeDefined();
  expect(s.filter("C", t(1))).toBeDefined(); // connector says ON_RECEIVED
  const keyed: ConvertedData = { ...t(1), keyStrategies: { temp: { type: "ON_CHANGE" } } };
  expect(s.filter("C", keyed)).toBeDefined(); // first time under ON_CHANGE
  expect(s.filter("C", { ...t(1), keyStrategies: { temp: { type: "ON_CHANGE" } } })).toBeUndefined();
});

test("ON_REPORT_PERIOD: first value at once, then the latest every period with a fresh ts", () => {
  const { s, emitted, advance, now } = service("ON_REPORT_PERIOD", 5000);
  expect(s.filter("C", t(1))).toBeDefined();
  expect(s.filter("C", t(2))).toBeUndefined();
  advance(4000);
  s.tick();
  expect(emitted).toHaveLength(0);
  advance(1500);
  s.tick();
  expect(emitted).toHaveLength(1);
  expect(emitted[0]!.data.telemetry).toEqual([{ ts: now(), values: { temp: 2 } }]);
  s.stop();
});

test("ON_CHANGE_OR_REPORT_PERIOD sends changes at once and resends when quiet", () => {
  const { s, emitted, advance } = service("ON_CHANGE_OR_REPORT_PERIOD", 1000);
  expect(s.filter("C", t(1))).toBeDefined();
  expect(s.filter("C", t(2))).toBeDefined();
  advance(1001);
  s.tick();
  expect(emitted.map((e) => e.data.telemetry?.[0]?.values)).toEqual([{ temp: 2 }]);
  s.stop();
});

/** A wall clock that can be stepped (NTP, an operator) while the monotonic clock runs on. */
function steppingClock() {
  let mono = 5000;
  let offset = 1_700_000_000_000;
  return {
    clock: { wall: () => mono + offset, monotonic: () => mono },
    advance: (ms: number) => (mono += ms),
    step: (ms: number) => (offset += ms),
    wall: () => mono + offset,
  };
}

test("clock stepped back an hour: ON_REPORT_PERIOD keeps its period, resends carry the stepped wall time", () => {
  const c = steppingClock();
  const emitted: ConvertedData[] = [];
  const s = new ReportStrategyService({ type: "ON_REPORT_PERIOD", reportPeriod: 1000 }, (_c, d) => emitted.push(d), c.clock);
  expect(s.filter("C", t(1))).toBeDefined();
  c.advance(1100);
  s.tick();
  expect(emitted).toHaveLength(1);
  c.step(-3_600_000);
  c.advance(1100);
  s.tick();
  // with wall-clock periods this stayed silent for the hour the clock went back
  expect(emitted).toHaveLength(2);
  expect(emitted[1]!.telemetry![0]!.ts).toBe(c.wall());
  s.stop();
});

test("clock stepped forward a day: cached values do not expire (TTL 1 day) and periodic reports go on at their period", () => {
  const c = steppingClock();
  const emitted: ConvertedData[] = [];
  const s = new ReportStrategyService({ type: "ON_CHANGE_OR_REPORT_PERIOD", reportPeriod: 1000 }, (_c, d) => emitted.push(d), c.clock);
  expect(s.filter("C", t(7))).toBeDefined();
  c.step(86_400_000 + 60_000);
  c.advance(500);
  s.tick();
  // not a burst of resends, not a forgotten value: nothing due yet
  expect(emitted).toHaveLength(0);
  expect(s.filter("C", t(7))).toBeUndefined(); // still remembered: unchanged is not sent again
  c.advance(600);
  s.tick();
  expect(emitted.map((d) => d.telemetry![0]!.values)).toEqual([{ temp: 7 }]);
  expect(emitted[0]!.telemetry![0]!.ts).toBe(c.wall());
  s.stop();
});
