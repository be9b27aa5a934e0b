// The row converter on its own (upstream's tests/unit/converters/odbc cases, plus typing and NULLs).

import { describe, expect, test } from "bun:test";
import { compileMapping, convertRow, rowTimestamp, typedValue } from "./converter.ts";
import { OdbcConfigSchema } from "./schema.ts";

const mapping = (m: Record<string, unknown>) =>
  compileMapping(OdbcConfigSchema.parse({ connection: { str: "DSN=x" }, polling: { query: "q ?", iterator: { column: "id", value: 0 } }, mapping: { device: { name: "'D ' + str(id)" }, ...m } }).mapping);

const convert = (m: Record<string, unknown>, row: Record<string, unknown>) => {
  const errors: string[] = [];
  return { data: convertRow(mapping(m), row, 1000, (e) => errors.push(e)), errors };
};

describe("ODBC row converter", () => {
  test('attributes "*" with explicit timeseries: every column as attributes, only the listed telemetry', () => {
    const { data } = convert({ attributes: "*", timeseries: [{ name: "v", column: "value" }] }, { id: 1, value: 2.5, s: "x" });
    expect(data).toEqual({ deviceName: "D 1", deviceType: "default", attributes: { id: 1, value: 2.5, s: "x" }, telemetry: [{ ts: 1000, values: { v: 2.5 } }] });
  });

  test('attributes "*" sends every non-NULL column, also those after a NULL (upstream stops at the first)', () => {
    const { data } = convert({ attributes: "*" }, { id: 1, a: null, b: 2, c: null, d: "z" });
    expect(data?.attributes).toEqual({ id: 1, b: 2, d: "z" });
  });

  test("NULL in a mapped column is JSON null in telemetry", () => {
    const { data } = convert({ timeseries: [{ name: "v", column: "value" }] }, { id: 1, value: null });
    expect(data?.telemetry).toEqual([{ ts: 1000, values: { v: null } }]);
  });

  test("alias, nameExpression and value expressions (the upstream sample's comprehension)", () => {
    const { data } = convert(
      {
        timeseries: [
          { name: "renamed", column: "value" },
          { nameExpression: "key_name", column: "value" },
          { name: "joined", value: "s + str(value)" },
          { name: "first", value: "[i for i in [str_v, long_v, dbl_v] if i is not None][0]" },
        ],
      },
      { id: 1, value: 3, s: "x", key_name: "fromRow", str_v: null, long_v: 42, dbl_v: 1.5 },
    );
    expect(data?.telemetry?.[0]?.values).toEqual({ renamed: 3, fromRow: 3, joined: "x3", first: 42 });
  });

  test("an item with an unknown column is dropped with an error; the valid one is kept", () => {
    const { data, errors } = convert({ timeseries: [{ name: "ok", column: "value" }, { name: "bad", column: "nope" }] }, { id: 1, value: 5 });
    expect(data?.telemetry?.[0]?.values).toEqual({ ok: 5 });
    expect(errors).toEqual([expect.stringContaining('the query has no column "nope"')]);
  });

  test("the row's ts is the telemetry time; device type is an expression over columns or plain text", () => {
    expect(convert({ timeseries: "*" }, { id: 1, ts: 1765000000000 }).data?.telemetry?.[0]?.ts).toBe(1765000000000);
    expect(convert({ timeseries: "*", device: { name: "'D'", type: "postgres" } }, { id: 1 }).data?.deviceType).toBe("postgres");
    expect(convert({ timeseries: "*", device: { name: "'D'", type: "kind + '-meter'" } }, { id: 1, kind: "heat" }).data?.deviceType).toBe("heat-meter");
  });

  test("no device name: nothing, with the reason", () => {
    const { data, errors } = convert({ timeseries: "*", device: { name: "missing_column" } }, { id: 1 });
    expect(data).toBeUndefined();
    expect(errors[0]).toContain("the device name");
  });
});

describe("typed values", () => {
  test("BIGINT within ±2^53 as a number, beyond as decimal text; DECIMAL as a number; BIT as a boolean; binary as hex", () => {
    expect(typedValue(1765000000000n, -5)).toBe(1765000000000);
    expect(typedValue(2n ** 60n, -5)).toBe("1152921504606846976");
    expect(typedValue("12.50", 3)).toBe(12.5);
    expect(typedValue("1", -7)).toBe(true);
    expect(typedValue(0, -7)).toBe(false);
    expect(typedValue(new Uint8Array([1, 171]).buffer, -3)).toBe("01ab");
    expect(typedValue(null, 4)).toBeNull();
  });

  test("timestamps: epoch ms, digits, date text", () => {
    expect(rowTimestamp(5)).toBe(5);
    expect(rowTimestamp("1765000000000")).toBe(1765000000000);
    expect(rowTimestamp("2026-01-02T03:04:05Z")).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(rowTimestamp("soon")).toBeUndefined();
  });
});

describe("grouping a poll's rows per device", () => {
  test("telemetry in row order, attributes applied in order, at most maxRows rows per record", async () => {
    const { groupByDevice } = await import("./connector.ts");
    const row = (d: string, ts: number, attrs?: Record<string, unknown>) => ({ deviceName: d, deviceType: "t", attributes: attrs, telemetry: [{ ts, values: { v: ts } }] });
    const out = groupByDevice([row("a", 1, { x: 1 }), row("b", 2), row("a", 3, { x: 2, y: 3 }), row("a", 4)], 2);
    expect(out).toEqual([
      { deviceName: "a", deviceType: "t", attributes: { x: 2, y: 3 }, telemetry: [{ ts: 1, values: { v: 1 } }, { ts: 3, values: { v: 3 } }] },
      { deviceName: "b", deviceType: "t", attributes: undefined, telemetry: [{ ts: 2, values: { v: 2 } }] },
      { deviceName: "a", deviceType: "t", attributes: undefined, telemetry: [{ ts: 4, values: { v: 4 } }] },
    ]);
  });
});

describe('mapping "*": rows that are gateway data already (upstream test_glob_matching)', () => {
  const star = (row: Record<string, unknown>) => {
    const errors: string[] = [];
    const m = compileMapping(OdbcConfigSchema.parse({ connection: { str: "DSN=x" }, polling: { query: "q ?", iterator: { column: "id", value: 0 } }, mapping: "*" }).mapping);
    return { data: convertRow(m, row, 1000, (e) => errors.push(e)), errors };
  };

  test("JSON text columns: attributes object, telemetry list of {ts, values} and {key: value}", () => {
    const { data, errors } = star({
      deviceName: "testDevice",
      deviceType: "testType",
      attributes: '{"key": "value"}',
      telemetry: '[{"ts": 1700000000000, "values": {"value": 42}}, {"other": true}]',
      ts: 5000,
    });
    expect(errors).toEqual([]);
    expect(data).toEqual({
      deviceName: "testDevice",
      deviceType: "testType",
      attributes: { key: "value" },
      telemetry: [
        { ts: 1700000000000, values: { value: 42 } },
        { ts: 5000, values: { other: true } },
      ],
    });
  });

  test("values already parsed, timeseries instead of telemetry, attributes as upstream's list, no deviceType", () => {
    const { data } = star({ deviceName: "d", attributes: [{ a: 1 }, { b: 2 }], timeseries: { t: 3 } });
    expect(data).toEqual({ deviceName: "d", deviceType: "default", attributes: { a: 1, b: 2 }, telemetry: [{ ts: 1000, values: { t: 3 } }] });
  });

  test("a row without the columns, or with text that is not JSON, is dropped with the reason", () => {
    const missing = star({ deviceName: "d", telemetry: "[]" });
    expect(missing.data).toBeUndefined();
    expect(missing.errors).toEqual(['mapping "*" takes rows that are gateway data already: columns deviceName, attributes and telemetry (or timeseries); this row\'s columns: deviceName, telemetry']);
    const bad = star({ deviceName: "d", attributes: "{oops", telemetry: "[]" });
    expect(bad.data).toBeUndefined();
    expect(bad.errors[0]).toStartWith('row of device "d" dropped: column attributes is not JSON (');
  });
});
