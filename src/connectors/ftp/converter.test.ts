// The three file views, line by line, and the sample path of `validate --sample`.

import { describe, expect, test } from "bun:test";
import { createFileConverter, isProblem, type LineResult } from "./converter.ts";
import { convertSample } from "./sample.ts";
import { FtpConfigSchema, type FtpConfig } from "./schema.ts";

function config(path: Record<string, unknown>): FtpConfig {
  return FtpConfigSchema.parse({ parameters: { host: "h" }, paths: [{ readMode: "FULL", ...path }] });
}

function convert(cfg: FtpConfig, file: string, text: string) {
  const conv = createFileConverter(cfg.paths[0]!, file, { maxJsonBytes: 1 << 20 })!;
  const out: LineResult[] = [];
  text.split("\n").forEach((l, i) => out.push(...conv.line(l, i + 1)));
  out.push(...conv.end());
  return { data: out.filter((r) => r && !isProblem(r)), problems: out.filter(isProblem) };
}

describe("ftp converter", () => {
  test("table: every placeholder, typed values, ts column, unknown column dropped, short row reported", () => {
    const cfg = config({
      path: "d/*.csv",
      devicePatternName: "${name}-${site}",
      devicePatternType: "meter",
      attributes: [{ key: "model", value: "${model}" }, { key: "x", value: "${nope}" }],
      timeseries: [
        { key: "ts", value: "${ts}" },
        { key: "${name}_temp", value: "${temp}", type: "float" },
        { key: "ok", value: "${ok}", type: "bool" },
      ],
    });
    const { data, problems } = convert(cfg, "d/a.csv", "name, site, ts, temp, model, ok\nm1, s1, 1700000000000, 21.5, A, yes\n\nm2\n");
    expect(data).toEqual([
      { deviceName: "m1-s1", deviceType: "meter", attributes: { model: "A" }, telemetry: [{ ts: 1700000000000, values: { m1_temp: 21.5, ok: true } }] },
    ]);
    expect(problems).toEqual([{ line: 4, message: expect.stringContaining("no device name") }]);
  });

  test("table: a bad timestamp is reported and the row still sent (telemetry without ts)", () => {
    const cfg = config({ path: "a.csv", devicePatternName: "${name}", attributes: [{ key: "m", value: "${m}" }], timeseries: [{ key: "ts", value: "${ts}" }, { key: "v", value: "${v}", type: "int" }] });
    const { data, problems } = convert(cfg, "a.csv", "name,ts,v,m\nx,yesterday-ish,3,B");
    expect(data).toEqual([{ deviceName: "x", deviceType: "Device", attributes: { m: "B" }, telemetry: [{ values: { v: 3 } }] }]);
    expect(problems[0]).toEqual({ line: 2, message: expect.stringContaining('bad timestamp ts "yesterday-ish"') });
  });

  test("sliced: [from:to] over the first field in keys, values and the device name; literals stay", () => {
    const cfg = config({
      path: "fol/*_hello*.txt",
      txtFileDataView: "SLICED",
      devicePatternName: "dev[0:2]",
      attributes: [{ key: "temp", value: "[1:]" }],
      timeseries: [{ key: "[0:1]", value: "[0:1]", type: "int" }, { key: "neg", value: "[-2:]" }],
    });
    const { data } = convert(cfg, "fol/a_hello.txt", "123,ignored\n");
    expect(data).toEqual([{ deviceName: "dev12", deviceType: "Device", attributes: { temp: "23" }, telemetry: [{ values: { "1": 1, neg: "23" } }] }]);
  });

  test("json: a document (array) and JSON Lines with a bad line in the middle", () => {
    const cfg = config({ path: "*.json", devicePatternName: "${device.name}", timeseries: [{ key: "temp", value: "${temp}" }, { key: "missing", value: "${nothing}" }], attributes: [{ key: "fw", value: "v${fw}" }] });
    const doc = convert(cfg, "a.json", '[\n {"device": {"name": "d1"}, "temp": 1.5, "fw": 2, "ts": 1700000000000},\n {"device": {"name": "d2"}, "temp": 2}\n]');
    expect(doc.data).toEqual([
      { deviceName: "d1", deviceType: "Device", attributes: { fw: "v2" }, telemetry: [{ ts: 1700000000000, values: { temp: 1.5 } }] },
      { deviceName: "d2", deviceType: "Device", telemetry: [{ values: { temp: 2 } }] }, // fw missing: no attribute
    ]);
    const lines = convert(cfg, "b.json", '{"device":{"name":"d1"},"temp":1}\n{"device":{"name":"d1"},"temp":\n{"device":{"name":"d1"},"temp":3}');
    expect(lines.data.map((d: any) => d.telemetry[0].values.temp)).toEqual([1, 3]);
    expect(lines.problems).toEqual([{ line: 2, message: expect.stringContaining("not valid JSON") }]);
  });

  test("json: a broken document is reported with the line of the error", () => {
    const cfg = config({ path: "*.json", devicePatternName: "x", timeseries: [{ key: "t", value: "${t}" }] });
    const { data, problems } = convert(cfg, "a.json", '[\n{"t": 1},\n{"t": }\n]');
    expect(data).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.line).toBeGreaterThanOrEqual(1);
  });

  test("a UTF-8 byte order mark before the header is not part of the first column's name", () => {
    const cfg = config({ path: "*.csv", devicePatternName: "${name}", timeseries: [{ key: "v", value: "${v}", type: "int" }] });
    expect(convert(cfg, "a.csv", "\uFEFFname,v\r\nx,1").data).toEqual([{ deviceName: "x", deviceType: "Device", telemetry: [{ values: { v: 1 } }] }]);
  });

  test("${fileName} in the device name", () => {
    const cfg = config({ path: "d/*.csv", devicePatternName: "meter ${fileName}", timeseries: [{ key: "v", value: "${v}" }] });
    expect(convert(cfg, "d/m7.csv", "v\n5").data).toEqual([{ deviceName: "meter m7.csv", deviceType: "Device", telemetry: [{ values: { v: "5" } }] }]);
  });

  test("validate --sample picks the path by file name", () => {
    const cfg = FtpConfigSchema.parse({
      host: "h",
      paths: [
        { path: "a/*.csv", readMode: "FULL", devicePatternName: "${n}", timeseries: [{ key: "v", value: "${v}", type: "int" }] },
        { path: "b/*.json", readMode: "FULL", devicePatternName: "${n}", timeseries: [{ key: "v", value: "${v}" }] },
      ],
    });
    expect(convertSample(cfg, Buffer.from('{"n": "j", "v": true}\n'), "x.json")).toEqual([{ deviceName: "j", deviceType: "Device", telemetry: [{ values: { v: true } }] }]);
    expect(convertSample(cfg, Buffer.from("n,v\nc,7\n"))).toEqual([{ deviceName: "c", deviceType: "Device", telemetry: [{ values: { v: 7 } }] }]);
  });
});
