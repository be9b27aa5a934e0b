// ODBC connector throughput through the whole gateway (`tb-gw run` from source, or --binary;
// sqlite storage; Mosquitto + the platform harness as ThingsBoard): a table of N rows waiting in
// SQLite (libsqliteodbc) and in PostgreSQL (odbc-postgresql, a server started here), read in
// pages of `limit` rows by the connector's polling query; reports rows/s delivered to the platform
// (from the gateway's start to the last row's telemetry) and the gateway's CPU.
// Usage: bun bench/odbc.ts [rows=200000] [limit=10000] [sqlite|postgres|both] [--binary] [--memory]

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, startGatewayFrom, writeGatewayConfig } from "../test/support/gateway.ts";
import { gatewayBinary } from "../test/support/gateway.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { startPlatformHarness } from "../test/support/platform.ts";
import { buildAddonForTests, odbcInstDir, sqlite, startPostgres } from "../src/connectors/odbc/test/peers.ts";
import { cpuSeconds } from "./proc.ts";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const rows = Number(args[0] ?? 200_000);
const limit = Number(args[1] ?? 10_000);
const which = args[2] ?? "both";
const from = process.argv.includes("--binary") ? "binary" : "source";
const storageKind = process.argv.includes("--memory") ? "memory" : "sqlite";

buildAddonForTests();
if (from === "binary") gatewayBinary();
const broker = await startMosquitto();
const harness = await startPlatformHarness(broker.url);
let delivered = 0;
let lastAt = 0;
harness.client.on("message", (topic, payload) => {
  if (topic !== "v1/gateway/telemetry") return;
  const body = JSON.parse(payload.toString()) as Record<string, unknown[]>;
  for (const entries of Object.values(body)) delivered += entries.length;
  lastAt = performance.now();
});
const keep = harness.received;
setInterval(() => (keep.length = 0), 500).unref();
const odbcEnv = odbcInstDir();

function connectorConfig(str: string) {
  return {
    connection: { str, reconnectPeriod: 5 },
    polling: { query: `SELECT id, ts, device, temp, hum FROM readings WHERE id > ? ORDER BY id LIMIT ${limit}`, period: 1, iterator: { column: "id", value: 0, persistent: true } },
    mapping: { device: { name: "'bench ' + device" }, timeseries: [{ name: "temp", column: "temp" }, { name: "hum", column: "hum" }] },
  };
}

async function run(label: string, str: string): Promise<void> {
  delivered = 0;
  const storage = storageKind === "memory" ? { type: "memory", read_records_count: 1000, max_records_count: 1_000_000 } : { type: "sqlite", data_file_path: "./data/", max_read_records_count: 1000 };
  const files = writeGatewayConfig(mainConfig(broker.port, storage, [{ name: "Bench", type: "odbc", configuration: "odbc.json" }], { maxPayloadSizeBytes: 65536 }), { "odbc.json": connectorConfig(str) });
  const gw = await startGatewayFrom(from, files.configPath, { env: { ...odbcEnv, TB_GW_LOG_LEVEL: process.env.BENCH_LOG ?? "WARNING" }, timeoutMs: 60_000 });
  const t0 = performance.now();
  const cpu0 = cpuSeconds(gw.proc.pid!);
  try {
    while (delivered < rows && performance.now() - Math.max(t0, lastAt) < 30_000) await Bun.sleep(20);
    const ms = lastAt - t0;
    const cpu = cpuSeconds(gw.proc.pid!) - cpu0;
    if (delivered === 0) console.log(gw.output());
    console.log(`${label} (${from}, ${storageKind} storage): ${delivered}/${rows} rows delivered in ${ms.toFixed(0)} ms = ${Math.round((delivered / ms) * 1000)} rows/s; gateway CPU ${((cpu / ms) * 100000).toFixed(0)} % of a core`);
  } finally {
    await gw.stop();
  }
}

try {
  if (which === "sqlite" || which === "both") {
    const db = join(mkdtempSync(join(tmpdir(), "tbgw-odbc-bench-")), "bench.db");
    sqlite(db, "CREATE TABLE readings (id BIGINT PRIMARY KEY, ts BIGINT, device TEXT, temp REAL, hum REAL); CREATE INDEX r_id ON readings(id);");
    const t = 1_765_000_000_000;
    const batch: unknown[][] = [];
    for (let i = 1; i <= rows; i++) batch.push([i, t + i, `d${i % 10}`, 20 + (i % 100) / 10, 40 + (i % 50)]);
    sqlite(db, "INSERT INTO readings VALUES (?, ?, ?, ?, ?)", batch);
    await run("SQLite", `Driver={SQLite3};Database=${db};`);
  }
  if (which === "postgres" || which === "both") {
    const pg = await startPostgres();
    try {
      pg.psql(
        `CREATE TABLE readings (id bigint PRIMARY KEY, ts bigint, device text, temp double precision, hum double precision); INSERT INTO readings SELECT i, 1765000000000 + i, 'd' || (i % 10), 20 + (i % 100) / 10.0, 40 + (i % 50) FROM generate_series(1, ${rows}) AS i; ANALYZE readings;`,
      );
      await run("PostgreSQL", `Driver={PostgreSQL};Server=127.0.0.1;Port=${pg.port};Database=postgres;Uid=postgres;`);
    } finally {
      await pg.stop();
    }
  }
} finally {
  await harness.close();
  await broker.dispose();
}
process.exit(0);
