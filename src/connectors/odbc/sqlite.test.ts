// The ODBC connector through the whole gateway against SQLite (Debian libsqliteodbc over unixODBC),
// from source and from the compiled binary: rows inserted while the gateway runs arrive once, typed
// (NULL as null; `attributes: "*"` without the NULL columns); the persisted iterator in upstream's
// file keeps a restart from resending; a bad query is one clear error; attribute updates and RPC
// write rows with bound parameters (a value full of SQL stays a value).
// The SQLite driver maps INTEGER to 32 bits, hence BIGINT for the millisecond timestamps.

import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { buildAddonForTests, odbcInstDir, sqlite } from "./test/peers.ts";

const platform = platformForFile();
const odbcEnv = odbcInstDir();

beforeAll(() => {
  buildAddonForTests();
  gatewayBinary();
}, 600_000);

const T0 = 1_765_000_000_000; // beyond 32 bits: needs BIGINT

function makeDb(): string {
  const file = join(mkdtempSync(join(tmpdir(), "tbgw-sqlite-")), "plant.db");
  sqlite(
    file,
    "CREATE TABLE readings (id BIGINT PRIMARY KEY, ts BIGINT, device TEXT, temp REAL, count BIGINT, label TEXT, note TEXT); CREATE TABLE setpoints (device TEXT, name TEXT, value TEXT); CREATE TABLE commands (device TEXT, cmd TEXT, level REAL);",
  );
  return file;
}

const insert = (file: string, rows: Array<[number, string, number, number | null, string, string | null]>) =>
  sqlite(file, "INSERT INTO readings (id, ts, device, temp, count, label, note) VALUES (?, ?, ?, ?, ?, ?, ?)", rows.map(([id, device, temp, count, label, note]) => [id, T0 + id, device, temp, count, label, note]));

function connectorConfig(db: string, query = "SELECT id, ts, device, temp, count, label, note FROM readings WHERE id > ? ORDER BY id LIMIT 100") {
  return {
    connection: { str: `Driver={SQLite3};Database=${db};`, reconnectPeriod: 2 },
    polling: { query, period: 0.5, iterator: { column: "id", value: 0, persistent: true } },
    mapping: {
      device: { name: "'Line ' + device", type: "'line'" },
      attributes: "*",
      timeseries: [{ name: "temperature", column: "temp" }, { name: "count", column: "count" }, { name: "tag", value: "label + '-' + str(id)" }],
    },
    serverSideRpc: {
      methods: [
        { name: "setLevel", query: "INSERT INTO commands (device, cmd, level) VALUES (?, ?, ?)", args: ["L1", "level", 0] },
        { name: "lastCommand", query: "SELECT device, cmd, level FROM commands ORDER BY rowid DESC LIMIT 1", result: true },
      ],
      overrideRpcConfig: true,
    },
    attributeUpdates: [{ attributeOnThingsBoard: "*", query: "INSERT INTO setpoints (device, name, value) VALUES (?, ?, ?)", args: ["deviceName", "key", "value"] }],
  };
}

const tel = (device: string, key: string) => platform.harness.telemetry().filter((t) => t.device === device && t.key === key);

describe.each(FROM_BOTH)("ODBC connector with SQLite (%s)", (from) => {
  test("rows arrive once and typed; a restart does not resend; downlink writes with bound parameters", async () => {
    const db = makeDb();
    const line = from === "source" ? "Asrc" : "Abin";
    const dev = `Line ${line}`;
    const rpcId = from === "source" ? 100 : 200; // the harness outlives each run: ids of its own
    insert(db, [
      [1, line, 20.5, 7, "a", null],
      [2, line, 21.25, null, "b", "warm"],
    ]);
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "odbc", name: "Plant DB", configuration: "odbc.json" }]), { "odbc.json": connectorConfig(db) });
    let gw = await startGatewayFrom(from, files.configPath, { env: odbcEnv, timeoutMs: 60_000 });
    try {
      await platform.harness.waitFor(() => tel(dev, "tag").length >= 2, 30_000, "the two rows");
      expect(tel(dev, "temperature").map((t) => [t.ts, t.value])).toEqual([
        [T0 + 1, 20.5],
        [T0 + 2, 21.25],
      ]);
      expect(tel(dev, "count").map((t) => t.value)).toEqual([7, null]); // NULL as null, numbers as numbers
      expect(tel(dev, "tag").map((t) => t.value)).toEqual(["a-1", "b-2"]);
      // attributes "*": every non-NULL column, never a null (row 2's NULL count leaves row 1's 7 in
      // place; the gateway may merge both rows' attributes into one message)
      const attrs = platform.harness.received.filter((r) => r.topic === "v1/gateway/attributes" && r.body[dev]?.id !== undefined).map((r) => r.body[dev]);
      expect(attrs.flatMap((a) => Object.values(a)).includes(null)).toBe(false);
      expect(Object.assign({}, ...attrs)).toEqual({ id: 2, ts: T0 + 2, device: line, temp: 21.25, count: 7, label: "b", note: "warm" });

      // inserted while running: arrives once
      insert(db, [[3, line, 22, 9, "c", null]]);
      await platform.harness.waitFor(() => tel(dev, "tag").length >= 3, 30_000, "row 3");

      // the iterator in upstream's file: sha1(driver + server + database + connector name + column)
      const hash = createHash("sha1").update(`sqlite3odbc.so${db}${db}Plant DBid`).digest("hex");
      const iteratorFile = join(files.dir, "odbc", `${hash}.json`);
      await platform.harness.waitFor(() => existsSync(iteratorFile) && JSON.parse(readFileSync(iteratorFile, "utf8")).value === 3, 10_000, "iterator saved");
      expect(readFileSync(iteratorFile, "utf8")).toBe('{\n  "name": "id",\n  "total": 3,\n  "value": 3\n}');

      // attribute update: one row per key, the value bound (it is SQL, and stays a value)
      const evil = "x'); DROP TABLE readings; --";
      await platform.harness.sendAttributeUpdate(dev, { mode: evil, target: 42.5 });
      await platform.harness.waitFor(() => sqlite(db, "SELECT COUNT(*) FROM setpoints") === "[[2]]", 15_000, "setpoints written");
      expect(JSON.parse(sqlite(db, "SELECT device, name, value FROM setpoints ORDER BY name"))).toEqual([
        [dev, "mode", evil],
        [dev, "target", "42.5"],
      ]);
      // RPC: a configured query with its args overridden by the RPC's params, then one with a result
      await platform.harness.sendDeviceRpc(dev, rpcId + 1, "setLevel", { args: [line, "level", 3.5] });
      const r1 = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === rpcId + 1), 15_000, "setLevel reply");
      expect(r1.body.data).toEqual({ success: true });
      await platform.harness.sendDeviceRpc(dev, rpcId + 2, "lastCommand", {});
      const r2 = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === rpcId + 2), 15_000, "lastCommand reply");
      expect(r2.body.data).toEqual({ device: line, cmd: "level", level: 3.5 });
      await platform.harness.sendDeviceRpc(dev, rpcId + 3, "dropEverything", {});
      const r3 = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === rpcId + 3), 15_000, "unknown RPC reply");
      expect(r3.body.data.success).toBe(false);

      await gw.stop();
      // a restart does not resend: only the rows inserted meanwhile arrive
      insert(db, [[4, line, 23, 10, "d", null]]);
      gw = await startGatewayFrom(from, files.configPath, { env: odbcEnv, timeoutMs: 60_000 });
      await platform.harness.waitFor(() => tel(dev, "tag").length >= 4, 30_000, "row 4 after the restart");
      insert(db, [[5, line, 24, 11, "e", null]]);
      await platform.harness.waitFor(() => tel(dev, "tag").length >= 5, 30_000, "row 5");
      expect(tel(dev, "tag").map((t) => t.value)).toEqual(["a-1", "b-2", "c-3", "d-4", "e-5"]);
    } finally {
      await gw.stop();
    }
    expect(sqlite(db, "SELECT COUNT(*) FROM readings")).toBe("[[5]]");
  }, 240_000);
});

test("a bad polling query is one clear error naming the query and the database's message; the gateway keeps running", async () => {
  const db = makeDb();
  const query = "SELECT id, ts FROM no_such_table WHERE id > ?";
  const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "odbc", name: "Bad", configuration: "odbc.json" }]), { "odbc.json": connectorConfig(db, query) });
  const gw = await startGatewayFrom("source", files.configPath, { env: odbcEnv, timeoutMs: 60_000 });
  try {
    const want = `polling query ${JSON.stringify(query)} failed: [SQLite]no such table: no_such_table`;
    await waitUntil(() => gw.output().includes(want), 30_000, "the query error", 100);
    // polls go on every half second: still one line
    const lines = () => gw.output().split("\n").filter((l) => l.includes("no_such_table"));
    const seen = lines().length;
    // several polling periods (0.5 s) pass: no timing is asserted, only that nothing more is logged
    await Bun.sleep(2000);
    expect(lines().length).toBe(seen);
    expect(seen).toBe(1);
  } finally {
    await gw.stop();
  }
}, 120_000);
