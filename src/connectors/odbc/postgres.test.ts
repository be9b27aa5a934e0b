// The upstream sample odbc.json through the compiled binary against a real PostgreSQL (started here
// on a loopback port) via Debian's odbc-postgresql driver: only the connection string's server and
// port are changed; `Driver={PostgreSQL}` is the name our odbcinst.ini gives the driver, as a user's
// would. A thingsboard-like ts_kv table gives the devices, keys and values the Python gateway
// would send; the sample's RPC methods call stored procedures with bound arguments; rows inserted
// while it runs arrive once; killing the database and starting it again loses nothing and resends
// nothing.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { buildAddonForTests, odbcInstDir, startPostgres, type Postgres } from "./test/peers.ts";

const platform = platformForFile();
let pg: Postgres;
const odbcEnv = odbcInstDir();

beforeAll(async () => {
  buildAddonForTests();
  gatewayBinary();
  pg = await startPostgres();
  pg.psql("CREATE DATABASE thingsboard");
  pg.psql(
    "CREATE TABLE ts_kv (entity_id varchar(36) NOT NULL, key int NOT NULL, ts bigint NOT NULL, bool_v boolean, str_v varchar(10000000), long_v bigint, dbl_v double precision, PRIMARY KEY (entity_id, key, ts))",
    "thingsboard",
  );
  // the sample's RPC methods as PostgreSQL functions ({CALL f(?)} is SELECT * FROM f($1) in psqlodbc)
  pg.psql(
    "CREATE TABLE calls (name text, a text, b bigint, c double precision); " +
      "CREATE FUNCTION procedureOne() RETURNS void LANGUAGE sql AS $$ INSERT INTO calls (name) VALUES ('one') $$; " +
      "CREATE FUNCTION procedureTwo(a text, b bigint, c double precision) RETURNS void LANGUAGE sql AS $$ INSERT INTO calls VALUES ('two', a, b, c) $$;",
    "thingsboard",
  );
}, 600_000);
afterAll(async () => {
  await pg?.stop();
});

const T0 = 1_765_000_000_000;
const insert = (rows: string[]) => pg.psql(`INSERT INTO ts_kv (entity_id, key, ts, bool_v, str_v, long_v, dbl_v) VALUES ${rows.join(", ")}`, "thingsboard");

test("upstream odbc.json (server and port changed) from the binary: the Python gateway's devices and keys, typed; RPC procedures with bound args; rows once; a killed database recovers", async () => {
  insert([`('e1', 1, ${T0 + 1}, NULL, 'on', NULL, NULL)`, `('e1', 2, ${T0 + 2}, NULL, NULL, 42, NULL)`, `('e2', 3, ${T0 + 3}, NULL, NULL, NULL, 2.5)`, `('e2', 4, ${T0 + 4}, true, NULL, NULL, NULL)`]);
  const cfg = JSON.parse(readFileSync(join(SAMPLES, "odbc.json"), "utf8"));
  cfg.connection.str = cfg.connection.str.replace("Server=localhost;Port=5432;", `Server=127.0.0.1;Port=${pg.port};`);
  expect(cfg.connection.str).toContain(`Port=${pg.port};`);
  const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "odbc", name: "Database", configuration: "odbc.json" }]), { "odbc.json": cfg });
  const gw = await startGatewayFrom("binary", files.configPath, { env: odbcEnv, timeoutMs: 60_000 });
  const values = (device: string) => platform.harness.telemetry().filter((t) => t.device === device && t.key === "value");
  try {
    await platform.harness.waitFor(() => values("ODBC e1").length >= 2 && values("ODBC e2").length >= 2, 60_000, "the four rows");
    // the sample's expression picks the first non-NULL of str_v, long_v, dbl_v, bool_v: typed
    expect(values("ODBC e1").map((t) => [t.ts, t.value])).toEqual([
      [T0 + 1, "on"],
      [T0 + 2, 42],
    ]);
    expect(values("ODBC e2").map((t) => [t.ts, t.value])).toEqual([
      [T0 + 3, 2.5],
      // psqlodbc hands booleans over as the text "1" unless the connection string says BoolsAsChar=0
      [T0 + 4, "1"],
    ]);
    const connect = platform.harness.received.filter((r) => r.topic === "v1/gateway/connect").map((r) => r.body);
    expect(connect).toContainEqual({ device: "ODBC e1", type: "postgres" });
    // attributes "*": the non-NULL columns of each row
    const attrs = platform.harness.received.filter((r) => r.topic === "v1/gateway/attributes" && r.body["ODBC e1"]?.entity_id).map((r) => r.body["ODBC e1"]);
    expect(attrs.flatMap((a) => Object.values(a)).includes(null)).toBe(false);
    expect(Object.assign({}, ...attrs)).toEqual({ entity_id: "e1", ts: T0 + 2, str_v: "on", long_v: 42 });

    // the sample's RPC methods: stored procedures with the configured args BOUND; with
    // overrideRpcConfig the RPC's own args replace them (a quote in a value stays a value)
    await platform.harness.sendDeviceRpc("ODBC e1", 501, "procedureOne", {});
    await platform.harness.sendDeviceRpc("ODBC e1", 502, "procedureTwo", {});
    await platform.harness.sendDeviceRpc("ODBC e1", 503, "procedureTwo", { args: ["It's", 7, 0.5] });
    for (const id of [501, 502, 503]) {
      const reply = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === id), 30_000, `RPC ${id} reply`);
      expect(reply.body.data).toEqual({ success: true });
    }
    expect(pg.psql("SELECT name, a, b, c FROM calls ORDER BY name, b", "thingsboard").split("\n")).toEqual(["one|||", "two|One|2|3", "two|It's|7|0.5"]);

    // inserted while running: arrives once (the sample polls every 10 s)
    insert([`('e1', 5, ${T0 + 5}, NULL, NULL, 43, NULL)`]);
    await platform.harness.waitFor(() => values("ODBC e1").length >= 3, 60_000, "the row inserted while running");

    // the database dies (every connection dropped) and comes back: the connector reconnects
    await pg.kill();
    await waitUntil(() => /lost the database connection|cannot connect to the database/.test(gw.output()), 60_000, "the connection loss noticed", 200);
    await pg.restart();
    insert([`('e2', 6, ${T0 + 6}, NULL, 'back', NULL, NULL)`]);
    await platform.harness.waitFor(() => values("ODBC e2").some((t) => t.value === "back"), 120_000, "a row after the database came back");
    // each row exactly once
    expect(values("ODBC e1").map((t) => t.ts)).toEqual([T0 + 1, T0 + 2, T0 + 5]);
    expect(values("ODBC e2").map((t) => t.ts)).toEqual([T0 + 3, T0 + 4, T0 + 6]);
  } finally {
    await gw.stop();
  }
}, 400_000);
