// Records and publish packing: values converted in the same millisecond are never merged away
// (an upstream defect), records respect the payload limit, and telemetry is grouped per device.

import { describe, expect, test } from "bun:test";
import { exactJson, parseExact, toRecords } from "../../src/core/records.ts";
import { buildPublishes } from "../../src/platform/packing.ts";

const id = (n: string) => n;

describe("same-millisecond values", () => {
  test("two messages of one device stamped in the same ms both reach the publish", () => {
    const now = 1_700_000_000_000;
    const r1 = toRecords({ deviceName: "A", telemetry: [{ values: { t: 1 } }] }, "default", now, 8000);
    const r2 = toRecords({ deviceName: "A", telemetry: [{ values: { t: 2 } }] }, "default", now, 8000);
    const pubs = buildPublishes([...r1, ...r2], 8000, id);
    expect(pubs).toHaveLength(1);
    expect(JSON.parse(pubs[0]!.payload)).toEqual({ A: [{ ts: now, values: { t: 1 } }, { ts: now, values: { t: 2 } }] });
    expect(pubs[0]!.datapoints).toBe(2);
  });

  test("splitting a large record never merges two entries that share a ts", () => {
    const values: Record<string, number> = {};
    for (let i = 0; i < 200; i++) values[`key${i}`] = i;
    const recs = toRecords({ deviceName: "A", telemetry: [{ ts: 5, values }, { ts: 5, values: { key0: -1 } }] }, "default", 0, 1000);
    expect(recs.length).toBeGreaterThan(2);
    for (const r of recs) expect(Buffer.byteLength(r)).toBeLessThanOrEqual(1000);
    const entries = recs.flatMap((r) => JSON.parse(r).telemetry);
    const key0 = entries.filter((e: any) => "key0" in e.values).map((e: any) => e.values.key0);
    expect(key0).toEqual([0, -1]);
    expect(entries.reduce((n: number, e: any) => n + Object.keys(e.values).length, 0)).toBe(201);
  });
});

describe("packing", () => {
  test("publishes stay under the payload limit and keep entry order per device", () => {
    const recs: string[] = [];
    for (let i = 0; i < 300; i++) recs.push(...toRecords({ deviceName: `d${i % 3}`, telemetry: [{ ts: i, values: { seq: i, v: "x".repeat(20) } }] }, "default", 0, 8000));
    const pubs = buildPublishes(recs, 2000, id);
    for (const p of pubs) expect(Buffer.byteLength(p.payload)).toBeLessThanOrEqual(2000);
    const seen = new Map<string, number[]>();
    for (const p of pubs) for (const [dev, entries] of Object.entries(JSON.parse(p.payload) as Record<string, any[]>)) seen.set(dev, [...(seen.get(dev) ?? []), ...entries.map((e) => e.values.seq)]);
    expect(seen.get("d0")).toEqual(Array.from({ length: 100 }, (_, i) => i * 3));
    expect(pubs.reduce((n, p) => n + p.datapoints, 0)).toBe(600);
  });

  test("attributes merge per device (later wins), gateway's own data goes to v1/devices/me", () => {
    const recs = [
      ...toRecords({ deviceName: "A", attributes: { fw: "1", model: "m" } }, "t", 0, 8000),
      ...toRecords({ deviceName: "A", attributes: { fw: "2" } }, "t", 0, 8000),
      ...toRecords({ deviceName: "currentThingsBoardGateway", telemetry: [{ ts: 1, values: { cpu: 3 } }] }, "default", 0, 8000),
    ];
    const pubs = buildPublishes(recs, 8000, (n) => (n === "A" ? "Renamed A" : n));
    expect(pubs.find((p) => p.topic === "v1/gateway/attributes")!.payload).toBe(JSON.stringify({ "Renamed A": { fw: "2", model: "m" } }));
    expect(pubs.find((p) => p.topic === "v1/devices/me/telemetry")!.payload).toBe(JSON.stringify([{ ts: 1, values: { cpu: 3 } }]));
  });
});

test("telemetry of many devices shares publishes, each under the limit, nothing lost or reordered", () => {
  const recs: string[] = [];
  for (let i = 0; i < 1000; i++) recs.push(...toRecords({ deviceName: `dev-${i % 250}`, telemetry: [{ ts: i, values: { seq: i } }] }, "default", 0, 8000));
  const pubs = buildPublishes(recs, 4000, id);
  expect(pubs.length).toBeLessThan(20);
  const seen = new Map<string, number[]>();
  for (const p of pubs) {
    expect(Buffer.byteLength(p.payload)).toBeLessThanOrEqual(4000);
    const body = JSON.parse(p.payload) as Record<string, Array<{ values: { seq: number } }>>;
    let n = 0;
    for (const [dev, entries] of Object.entries(body)) {
      n += entries.length;
      seen.set(dev, [...(seen.get(dev) ?? []), ...entries.map((e) => e.values.seq)]);
    }
    expect(p.datapoints).toBe(n);
  }
  expect(seen.size).toBe(250);
  expect(seen.get("dev-7")).toEqual([7, 257, 507, 757]);
});

describe("integers beyond 2^53 (bigint values)", () => {
  const big = 2n ** 60n + 1n; // 1152921504606846977: a double would round it to ...976
  const u64max = 2n ** 64n - 1n;

  test("records and publishes carry them as exact JSON integers", () => {
    const recs = toRecords({ deviceName: "A", attributes: { u: u64max }, telemetry: [{ ts: 7, values: { i: big, n: -big, small: 5n, f: 1.5 } }] }, "default", 0, 8000);
    expect(recs).toEqual(['{"deviceName":"A","deviceType":"default","attributes":{"u":18446744073709551615},"telemetry":[{"ts":7,"values":{"i":1152921504606846977,"n":-1152921504606846977,"small":5,"f":1.5}}]}']);
    const pubs = buildPublishes(recs, 8000, id);
    expect(pubs.map((p) => p.payload).sort()).toEqual([
      '{"A":[{"ts":7,"values":{"i":1152921504606846977,"n":-1152921504606846977,"small":5,"f":1.5}}]}',
      '{"A":{"u":18446744073709551615}}',
    ]);
  });

  test("a split record keeps them exact too", () => {
    const values: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) values[`k${i}`] = big + BigInt(i);
    const recs = toRecords({ deviceName: "A", telemetry: [{ ts: 1, values }] }, "default", 0, 600);
    expect(recs.length).toBeGreaterThan(3);
    const all = recs.flatMap((r) => (parseExact(r) as { telemetry: Array<{ values: Record<string, unknown> }> }).telemetry.map((e) => e.values));
    expect(Object.assign({}, ...all)).toEqual(values);
  });

  test("parseExact/exactJson round-trip; ordinary numbers stay numbers", () => {
    const text = '{"a":1152921504606846977,"b":-9007199254740993,"c":9007199254740991,"d":1234567890.1234567,"e":"12345678901234567890","t":1700000000000}';
    const v = parseExact(text) as Record<string, unknown>;
    expect(v).toEqual({ a: big, b: -9007199254740993n, c: 9007199254740991, d: 1234567890.1234567, e: "12345678901234567890", t: 1700000000000 });
    expect(exactJson(v)).toBe(text);
    expect(exactJson({ x: 1 })).toBe('{"x":1}');
  });
});

// A connector may hand the core one message with a thousand rows (a JSON array body, an ODBC page
// grouped per device, a custom converter): ~60 KB, several times the payload limit. Upstream cuts
// such a record data point by data point, so a row whose keys straddle a cut reaches the platform
// as two entries with the same ts (counted as 180 "duplicates" of 200,000 rows in the ODBC bench,
// and seen by ThingsBoard's rule engine as two half rows in two messages).
describe("records larger than the payload limit", () => {
  const LIMIT = Math.floor(8196 * 0.9);
  const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ ts: 1_765_000_000_000 + from + i, values: { seq: from + i, temperature: 20 + ((from + i) % 100) / 10, humidity: 40 + ((from + i) % 50) } }));
  const entriesOf = (recs: string[]) => recs.flatMap((r) => (JSON.parse(r) as { telemetry: Array<{ ts: number; values: Record<string, number> }> }).telemetry);

  test("a thousand rows are cut between rows: each row is one whole entry, in order, every record under the limit", () => {
    const data = rows(1000);
    const recs = toRecords({ deviceName: "Meter 1", telemetry: data }, "meter", 0, LIMIT);
    expect(recs.length).toBeGreaterThan(1);
    for (const r of recs) expect(Buffer.byteLength(r)).toBeLessThanOrEqual(LIMIT);
    expect(entriesOf(recs)).toEqual(data);
  });

  test("records are filled close to the limit (fewer records, reads and publishes)", () => {
    const recs = toRecords({ deviceName: "Meter 1", telemetry: rows(1000) }, "meter", 0, LIMIT);
    const whole = Buffer.byteLength(JSON.stringify({ deviceName: "Meter 1", deviceType: "meter", telemetry: rows(1000) }));
    // the fewest records that can hold it, give or take one for the cuts falling between rows
    expect(recs.length).toBeLessThanOrEqual(Math.ceil(whole / LIMIT) + 1);
    for (const r of recs.slice(0, -1)) expect(Buffer.byteLength(r)).toBeGreaterThan(LIMIT * 0.95);
  });

  test("attributes first, then rows; a row larger than the limit alone is cut by keys, nothing lost or merged", () => {
    const wide: Record<string, number> = {};
    for (let i = 0; i < 400; i++) wide[`k${i}`] = i;
    const attributes: Record<string, string> = {};
    for (let i = 0; i < 50; i++) attributes[`a${i}`] = "x".repeat(40);
    const data = [...rows(100), { ts: 5, values: wide }, ...rows(100, 100)];
    const recs = toRecords({ deviceName: "Meter 1", attributes, telemetry: data }, "meter", 0, 2000);
    for (const r of recs) expect(Buffer.byteLength(r)).toBeLessThanOrEqual(2000);
    const parsed = recs.map((r) => JSON.parse(r) as { attributes?: Record<string, string>; telemetry?: Array<{ ts: number; values: Record<string, number> }> });
    expect(Object.assign({}, ...parsed.map((p) => p.attributes ?? {}))).toEqual(attributes);
    const lastAttr = parsed.findLastIndex((p) => p.attributes);
    const firstTele = parsed.findIndex((p) => p.telemetry);
    expect(firstTele).toBeGreaterThanOrEqual(lastAttr);
    const entries = parsed.flatMap((p) => p.telemetry ?? []);
    const widePieces = entries.filter((e) => e.ts === 5);
    expect(widePieces.length).toBeGreaterThan(1);
    expect(Object.assign({}, ...widePieces.map((e) => e.values))).toEqual(wide);
    expect(entries.filter((e) => e.ts !== 5)).toEqual(data.filter((e) => e.ts !== 5));
    // the wide row's pieces sit where the row was
    expect(entries.findIndex((e) => e.ts === 5)).toBe(100);
  });

  test("publishes of those records carry each row once, whole, under the limit (also when the limit shrank after storing)", () => {
    const recs: string[] = [];
    for (let d = 0; d < 10; d++) recs.push(...toRecords({ deviceName: `Meter ${d}`, telemetry: rows(1000) }, "meter", 0, Math.floor(65536 * 0.9)));
    for (const limit of [Math.floor(65536 * 0.9), Math.floor(65536 * 0.8), LIMIT]) {
      const pubs = buildPublishes(recs, limit, id);
      const seen = new Map<string, number>();
      for (const p of pubs) {
        expect(Buffer.byteLength(p.payload)).toBeLessThanOrEqual(limit);
        for (const [dev, entries] of Object.entries(JSON.parse(p.payload) as Record<string, Array<{ ts: number; values: object }>>)) {
          for (const e of entries) {
            expect(Object.keys(e.values)).toEqual(["seq", "temperature", "humidity"]);
            seen.set(`${dev}@${e.ts}`, (seen.get(`${dev}@${e.ts}`) ?? 0) + 1);
          }
        }
      }
      expect(seen.size).toBe(10_000);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    }
  });
});
