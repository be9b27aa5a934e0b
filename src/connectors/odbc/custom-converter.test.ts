// A custom ODBC row converter (upstream's top-level `converter`) from <config folder>/extensions/odbc/,
// against SQLite through unixODBC (Debian libsqliteodbc), as the other ODBC tests:
// - in process (a .ts class): built with the connector's config, called per row with the mapping
//   section and the typed row; its legacy dict gets the device from `mapping.device` and the row's
//   ts; a row it throws on is dropped, logged once (and "works again" after), the iterator moves
//   past it (the persisted file says so) and later rows still arrive; a converter naming a class the
//   folder lacks is one error listing what the folder exports, and the rows are converted by the
//   built-in mapping;
// - through the compiled binary (a .js class) with the upstream sample odbc.json pointed at a SQLite
//   ts_kv table: rows before and while running arrive converted once, and across a restart the
//   persisted iterator keeps them from being sent again;
// - `validate --sample` shows what the class makes of a row, and names a missing class;
// - rows the storage refuses are read and converted again, and sent once (the iterator waits);
// - `mapping: "*"`: formatted rows as they are, and the class called with "*".

import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { BUN, CLI, gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { sample, upstreamMain } from "../../../test/support/upstream.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { OdbcConnector } from "./connector.ts";
import { OdbcConfigSchema } from "./schema.ts";
import { buildAddonForTests, odbcInstDir, sqlite } from "./test/peers.ts";

const odbcEnv = odbcInstDir();
const platform = platformForFile();

beforeAll(() => {
  buildAddonForTests();
  gatewayBinary();
}, 600_000);

// TypeScript, as a user would write it: upstream's legacy dict without a device name.
const TS_CONVERTER = `
export class CelsiusOdbcConverter {
  private readonly source: string;
  constructor(config: { name: string; converter: string }) { this.source = config.name + "/" + config.converter; }
  convert(mapping: { device: { name: string } }, row: Record<string, any>) {
    if (row.label === "bad") throw new Error("cannot convert row " + row.id);
    return {
      attributes: [{ source: this.source }, { mappedBy: mapping.device.name }],
      telemetry: [{ celsius: row.temp, fahrenheit: row.temp * 9 / 5 + 32 }],
    };
  }
}
`;

const T0 = 1_765_000_000_000;

test("converter names a .ts class in extensions/odbc: rows through it, a bad row dropped once and skipped, a missing class falls back to the mapping", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-odbc-ext-"));
  mkdirSync(join(dir, "extensions", "odbc"), { recursive: true });
  writeFileSync(join(dir, "extensions", "odbc", "celsius.ts"), TS_CONVERTER);
  const db = join(dir, "plant.db");
  sqlite(db, "CREATE TABLE readings (id BIGINT PRIMARY KEY, ts BIGINT, device TEXT, temp REAL, label TEXT)");
  const insert = (rows: Array<[number, number, string]>) =>
    sqlite(db, "INSERT INTO readings VALUES (?, ?, ?, ?, ?)", rows.map(([id, temp, label]) => [id, T0 + id, "A", temp, label]));
  insert([
    [1, 20, "ok"],
    [2, 25, "bad"],
    [3, 30, "ok"],
  ]);
  const config = (converter: string) =>
    OdbcConfigSchema.parse({
      connection: { str: `Driver={SQLite3};Database=${db};` },
      converter,
      polling: { query: "SELECT id, ts, device, temp, label FROM readings WHERE id > ? ORDER BY id LIMIT 100", period: 0.3, iterator: { column: "id", value: 0, persistent: true } },
      mapping: { device: { name: "'Line ' + device", type: "'line'" }, timeseries: [{ name: "t", column: "temp" }] },
    });
  const custom = recordingContext({ type: "odbc", name: "ODBC custom", configDir: dir });
  const ghost = recordingContext({ type: "odbc", name: "ODBC ghost", configDir: mkdtempSync(join(tmpdir(), "tbgw-odbc-ghost-")) });
  mkdirSync(join(ghost.configDir, "extensions", "odbc"), { recursive: true });
  writeFileSync(join(ghost.configDir, "extensions", "odbc", "celsius.ts"), TS_CONVERTER);
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => (r.scope.includes("ODBC custom") || r.scope.includes("ODBC ghost")) && logs.push(r));
  const savedIni = process.env.ODBCSYSINI;
  process.env.ODBCSYSINI = odbcEnv.ODBCSYSINI;
  const connectors = [new OdbcConnector(config("CelsiusOdbcConverter"), custom), new OdbcConnector(config("NoSuchOdbcConverter"), ghost)];
  try {
    for (const c of connectors) await c.start();
    await custom.waitFor((s) => s.length >= 1, 30_000, "rows 1 and 3 through the class");
    // one poll's rows of one device are one record (groupByDevice), each row's telemetry with its ts
    expect(custom.sent).toEqual([
      {
        deviceName: "Line A",
        deviceType: "line",
        attributes: { source: "ODBC custom/CelsiusOdbcConverter", mappedBy: "'Line ' + device" },
        telemetry: [
          { ts: T0 + 1, values: { celsius: 20, fahrenheit: 68 } },
          { ts: T0 + 3, values: { celsius: 30, fahrenheit: 86 } },
        ],
      },
    ]);
    // the bad row is read once: the iterator moved past it and is saved
    // only the saved file: while the connector rewrites it, its half-written temporary file (.<name>.<pid>.tmp) sits beside it
    const saved = () => readdirSync(join(dir, "odbc")).filter((f) => f.endsWith(".json") && !f.startsWith("."));
    const iteratorFile = () => saved().map((f) => JSON.parse(readFileSync(join(dir, "odbc", f), "utf8")))[0];
    await waitUntil(() => existsSync(join(dir, "odbc")) && iteratorFile()?.value === 3, 10_000, "the iterator at row 3");
    insert([[4, 40, "ok"]]);
    await custom.waitFor((s) => s.length >= 2, 30_000, "row 4");
    expect(custom.sent[1]!.telemetry).toEqual([{ ts: T0 + 4, values: { celsius: 40, fahrenheit: 104 } }]);
    await waitUntil(() => logs.some((l) => l.message.includes("CelsiusOdbcConverter works again")), 10_000, "the recovery line");

    // the missing class: one error listing the folder's classes; the built-in mapping converts
    await ghost.waitFor((s) => s.length >= 1, 30_000, "the ghost connector's rows, built-in");
    expect(ghost.sent[0]).toEqual({ deviceName: "Line A", deviceType: "line", telemetry: [{ ts: T0 + 1, values: { t: 20 } }, { ts: T0 + 2, values: { t: 25 } }, { ts: T0 + 3, values: { t: 30 } }] });

    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors).toContain("row: custom converter CelsiusOdbcConverter failed: cannot convert row 2; this message is dropped, the connector goes on (logged again only when the error changes)");
    const missing = errors.find((e) => e.startsWith("converter NoSuchOdbcConverter"));
    expect(missing).toMatch(
      /^converter NoSuchOdbcConverter cannot be used \(custom converter class NoSuchOdbcConverter not found in .*extensions\/odbc; the folder exports: CelsiusOdbcConverter \(celsius\.ts\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/,
    );
  } finally {
    off();
    for (const c of connectors) await c.stop();
    if (savedIni === undefined) delete process.env.ODBCSYSINI;
    else process.env.ODBCSYSINI = savedIni;
  }
}, 90_000);

// JavaScript, upstream's shape as a Python port would give it (the sample's columns).
const JS_CONVERTER = `
export class KvOdbcConverter {
  constructor(config) { this.type = config.mapping.device.type; }
  convert(mapping, row) {
    const value = [row.str_v, row.long_v, row.dbl_v, row.bool_v].find((v) => v !== null);
    return { deviceType: this.type + "-custom", attributes: { kind: typeof value }, telemetry: [{ ts: row.ts, values: { reading: value } }] };
  }
}
`;

test("compiled binary, upstream odbc.json with converter: rows converted once, and a restart resends nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-odbc-bin-"));
  const db = join(dir, "thingsboard.db");
  sqlite(db, "CREATE TABLE ts_kv (entity_id TEXT NOT NULL, key INT NOT NULL, ts BIGINT NOT NULL, bool_v BOOLEAN, str_v TEXT, long_v BIGINT, dbl_v DOUBLE, PRIMARY KEY (entity_id, key, ts))");
  const insert = (rows: Array<[string, number, number, string | null, number | null, number | null]>) =>
    sqlite(db, "INSERT INTO ts_kv (entity_id, key, ts, str_v, long_v, dbl_v) VALUES (?, ?, ?, ?, ?, ?)", rows.map(([e, k, ts, s, l, d]) => [e, k, T0 + ts, s, l, d]));
  // no `key` column: the sample's query does not select it
  insert([
    ["e1", 1, 1, null, 7, null],
    ["e1", 2, 2, "warm", null, null],
  ]);
  const odbc = sample("odbc.json");
  // pointed at the test's database, with a custom converter; persistent so a restart resumes
  odbc.connection.str = `Driver={SQLite3};Database=${db};`;
  odbc.converter = "KvOdbcConverter";
  odbc.polling.iterator.persistent = true;
  odbc.polling.period = 1;
  const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "odbc", name: "ODBC Custom Bin", configuration: "odbc.json" }], { type: "memory" }), { "odbc.json": odbc }, dir);
  mkdirSync(join(dir, "extensions", "odbc"), { recursive: true });
  writeFileSync(join(dir, "extensions", "odbc", "kv.js"), JS_CONVERTER);
  const tel = () => platform.harness.telemetry().filter((t) => t.device === "ODBC e1");
  let gw = await startGatewayFrom("binary", files.configPath, { env: odbcEnv, timeoutMs: 60_000 });
  try {
    await platform.harness.waitFor(() => tel().length >= 2, 30_000, "the two rows through the class");
    insert([["e1", 1, 3, null, 8, null]]);
    await platform.harness.waitFor(() => tel().length >= 3, 30_000, "a row inserted while running");
    expect(gw.output()).toContain("rows are converted by the custom converter KvOdbcConverter");
    await gw.stop();
    insert([["e1", 3, 4, null, null, 2.5]]);
    gw = await startGatewayFrom("binary", files.configPath, { env: odbcEnv, timeoutMs: 60_000 });
    await platform.harness.waitFor(() => tel().length >= 4, 30_000, "the row inserted while stopped");
    insert([["e1", 2, 5, "cool", null, null]]);
    await platform.harness.waitFor(() => tel().length >= 5, 30_000, "a row after the restart");
    expect(tel().map((t) => [t.key, t.ts, t.value])).toEqual([
      ["reading", T0 + 1, 7],
      ["reading", T0 + 2, "warm"],
      ["reading", T0 + 3, 8],
      ["reading", T0 + 4, 2.5],
      ["reading", T0 + 5, "cool"],
    ]);
    const attrs = platform.harness.received.filter((r) => r.topic === "v1/gateway/attributes" && r.body["ODBC e1"]).map((r) => r.body["ODBC e1"].kind);
    expect(attrs.at(-1)).toBe("string");
  } finally {
    await gw.stop();
  }
}, 240_000);

test("validate --sample runs the row through the custom class; a missing class is the error, listing the folder's classes", () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-odbc-validate-ext-"));
  const odbc = sample("odbc.json");
  odbc.converter = "KvOdbcConverter";
  const files = writeGatewayConfig(upstreamMain(1883, [{ type: "odbc", name: "Database", configuration: "odbc.json" }]), { "odbc.json": odbc, "row.json": { bool_v: null, str_v: null, long_v: 42, dbl_v: null, entity_id: "e1", ts: T0 } }, dir);
  mkdirSync(join(dir, "extensions", "odbc"), { recursive: true });
  writeFileSync(join(dir, "extensions", "odbc", "kv.js"), JS_CONVERTER);
  const validate = () => spawnSync(BUN, [CLI, "validate", files.configPath, "--sample", join(dir, "row.json"), "--connector", "Database"], { encoding: "utf8", timeout: 60_000 });
  const ok = validate();
  expect(ok.status).toBe(0);
  expect(ok.stdout).toContain('device "ODBC e1" (type postgres-custom)');
  expect(ok.stdout).toContain("reading = 42");
  expect(ok.stdout).toContain('kind = "number"');

  odbc.converter = "NoSuchOdbcConverter";
  writeFileSync(join(dir, "odbc.json"), JSON.stringify(odbc));
  const bad = validate();
  expect(bad.status).not.toBe(0);
  expect(bad.stdout + bad.stderr).toContain("custom converter class NoSuchOdbcConverter not found in");
  expect(bad.stdout + bad.stderr).toContain("the folder exports: KvOdbcConverter (kv.js)");
}, 60_000);

const STAR_CONVERTER = `
export class StarOdbcConverter {
  convert(config, row) {
    if (config !== "*") throw new Error("expected the mapping \\"*\\", got " + JSON.stringify(config));
    const t = JSON.parse(row.telemetry);
    const value = Array.isArray(t) ? t.at(-1).value : t.value;
    return { deviceName: "Star " + row.deviceName, deviceType: row.deviceType, telemetry: [{ ts: row.ts, values: { doubled: value * 2 } }] };
  }
}
`;

test('mapping "*": gateway-formatted rows as they are, or handed to the custom class as convert("*", row)', async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-odbc-star-"));
  mkdirSync(join(dir, "extensions", "odbc"), { recursive: true });
  writeFileSync(join(dir, "extensions", "odbc", "star.js"), STAR_CONVERTER);
  const db = join(dir, "gw.db");
  sqlite(db, "CREATE TABLE gw (id BIGINT PRIMARY KEY, ts BIGINT, deviceName TEXT, deviceType TEXT, attributes TEXT, telemetry TEXT)");
  sqlite(db, "INSERT INTO gw VALUES (?, ?, ?, ?, ?, ?)", [
    [1, T0 + 1, "Boiler", "heater", '{"model": "B1"}', '{"value": 60}'],
    [2, T0 + 2, "Boiler", "heater", "{}", '[{"ts": 1765000000099, "values": {"value": 61}}, {"value": 62}]'],
  ]);
  const config = (converter?: string) =>
    OdbcConfigSchema.parse({
      connection: { str: `Driver={SQLite3};Database=${db};` },
      ...(converter ? { converter } : {}),
      polling: { query: "SELECT id, ts, deviceName, deviceType, attributes, telemetry FROM gw WHERE id > ? ORDER BY id LIMIT 10", period: 0.3, iterator: { column: "id", value: 0 } },
      mapping: "*",
    });
  const builtIn = recordingContext({ type: "odbc", name: "ODBC star", configDir: dir });
  const custom = recordingContext({ type: "odbc", name: "ODBC star custom", configDir: dir });
  const savedIni = process.env.ODBCSYSINI;
  process.env.ODBCSYSINI = odbcEnv.ODBCSYSINI;
  const connectors = [new OdbcConnector(config(), builtIn), new OdbcConnector(config("StarOdbcConverter"), custom)];
  try {
    for (const c of connectors) await c.start();
    await builtIn.waitFor((s) => s.length >= 1, 30_000, "the formatted rows");
    expect(builtIn.sent[0]).toEqual({
      deviceName: "Boiler",
      deviceType: "heater",
      attributes: { model: "B1" },
      telemetry: [
        { ts: T0 + 1, values: { value: 60 } },
        { ts: 1765000000099, values: { value: 61 } },
        { ts: T0 + 2, values: { value: 62 } },
      ],
    });
    await custom.waitFor((s) => s.length >= 1, 30_000, "the rows through the class");
    // the class got "*" (else it would have thrown and sent nothing)
    expect(custom.sent[0]).toEqual({
      deviceName: "Star Boiler",
      deviceType: "heater",
      telemetry: [
        { ts: T0 + 1, values: { doubled: 120 } },
        { ts: T0 + 2, values: { doubled: 124 } },
      ],
    });
  } finally {
    for (const c of connectors) await c.stop();
    if (savedIni === undefined) delete process.env.ODBCSYSINI;
    else process.env.ODBCSYSINI = savedIni;
  }
}, 60_000);

test("rows through the class are acknowledged only once stored: refused by storage, they are read and converted again, then sent once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-odbc-refused-"));
  mkdirSync(join(dir, "extensions", "odbc"), { recursive: true });
  writeFileSync(
    join(dir, "extensions", "odbc", "seen.js"),
    `export class SeenOdbcConverter { convert(m, row) { (globalThis.odbcSeen ??= []).push(row.id); return { telemetry: [{ v: row.id }] }; } }`,
  );
  const db = join(dir, "t.db");
  sqlite(db, "CREATE TABLE t (id BIGINT PRIMARY KEY, ts BIGINT)");
  sqlite(db, "INSERT INTO t VALUES (?, ?)", [
    [1, T0 + 1],
    [2, T0 + 2],
  ]);
  const ctx = recordingContext({ type: "odbc", name: "ODBC refused", configDir: dir });
  const store = ctx.sendData.bind(ctx);
  let refusals = 1;
  ctx.sendData = async (d) => (refusals-- > 0 ? "NOT_STORED" : store(d));
  const savedIni = process.env.ODBCSYSINI;
  process.env.ODBCSYSINI = odbcEnv.ODBCSYSINI;
  const c = new OdbcConnector(
    OdbcConfigSchema.parse({
      connection: { str: `Driver={SQLite3};Database=${db};` },
      converter: "SeenOdbcConverter",
      polling: { query: "SELECT id, ts FROM t WHERE id > ? ORDER BY id LIMIT 10", period: 0.3, iterator: { column: "id", value: 0, persistent: true } },
      mapping: { device: { name: "'T'" } },
    }),
    ctx,
  );
  (globalThis as { odbcSeen?: number[] }).odbcSeen = [];
  try {
    await c.start();
    await ctx.waitFor((s) => s.length >= 1, 30_000, "the rows once storage takes them");
    sqlite(db, "INSERT INTO t VALUES (?, ?)", [[3, T0 + 3]]);
    await ctx.waitFor((s) => s.length >= 2, 30_000, "row 3");
    expect(ctx.sent.flatMap((d) => d.telemetry!.map((e) => e.values.v))).toEqual([1, 2, 3]);
    // the refused poll's rows were converted twice (read again), row 3 once
    expect((globalThis as { odbcSeen?: number[] }).odbcSeen).toEqual([1, 2, 1, 2, 3]);
  } finally {
    await c.stop();
    if (savedIni === undefined) delete process.env.ODBCSYSINI;
    else process.env.ODBCSYSINI = savedIni;
  }
}, 60_000);
