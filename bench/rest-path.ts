// The REST connector's own per-request work, in one process, without HTTP parsing or sockets: the
// connector's Bun.serve handler is called with `server.fetch(request)`, and the data goes through
// the real pipeline into real sqlite storage (group commit), drained as the sender does (next,
// pack into gateway-API payloads, ack) without MQTT. Rounds of `concurrency` requests in flight,
// like wrk's connections; the figure is CPU time per request (process.cpuUsage, minus the time the
// bench spends building the requests), which on a shared machine is much steadier than the
// end-to-end bench (bench/rest.ts), whose batching changes with how much CPU the gateway gets.
// Usage: bun bench/rest-path.ts [requests=200000] [concurrency=64] [repeats=3]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectorContext } from "../src/core/connector.ts";
import { DeviceFilter } from "../src/core/device-filter.ts";
import { DeviceRegistry } from "../src/core/devices.ts";
import { Pipeline } from "../src/core/pipeline.ts";
import { ReportStrategyService } from "../src/core/report-strategy.ts";
import { RestConnector } from "../src/connectors/rest/connector.ts";
import { RestConfigSchema } from "../src/connectors/rest/schema.ts";
import { EventBus } from "../src/observe/events.ts";
import { Logger, setLogLevel } from "../src/observe/logger.ts";
import { buildPublishes } from "../src/platform/packing.ts";
import { SqliteStorage } from "../src/storage/sqlite.ts";

const total = Number(process.argv[2] ?? 200_000);
const concurrency = Number(process.argv[3] ?? 64);
const repeats = Number(process.argv[4] ?? 3);

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function once(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-rest-path-"));
  setLogLevel("WARNING");
  const log = new Logger("bench");
  const storage = new SqliteStorage({ dir, sizeLimitBytes: 1024 * 1024 * 1024, maxDbAmount: 10, writingBatchSize: 1000, ttlMs: 7 * 86_400_000, ttlCheckMs: 3_600_000, log });
  const events = new EventBus();
  const pipeline = new Pipeline({
    storage,
    devices: new DeviceRegistry(dir, log),
    strategies: new ReportStrategyService({ type: "ON_RECEIVED" } as never, () => {}),
    filter: DeviceFilter.none(),
    events,
    log,
    maxRecordBytes: () => 65536,
    announce: (d) => (d.announced = true),
  });
  const ctx = {
    name: "REST",
    id: "rest-id",
    type: "rest",
    configDir: dir,
    dataDir: dir,
    log,
    sendData: (data: Parameters<ConnectorContext["sendData"]>[0]) => pipeline.send("REST", "rest-id", "rest", data),
    countDropped: () => {},
    addDevice: () => {},
    delDevice: () => {},
    requestAttributes: async () => ({}),
    sendRpcReply: () => {},
  } as unknown as ConnectorContext;
  const config = RestConfigSchema.parse({
    server: { host: "127.0.0.1", port: 0 },
    mapping: [
      {
        endpoint: "/data/{deviceName}",
        HTTPMethods: ["POST"],
        converter: { type: "json", deviceInfo: { deviceNameExpressionSource: "request", deviceNameExpression: "${deviceName}" }, timeseries: [{ key: "t", type: "double", value: "${t}" }] },
      },
    ],
  });
  const connector = new RestConnector(config, ctx);
  await connector.start();
  // the Bun server inside the connector (private there; a bench may reach in)
  const server = (connector as unknown as { server: { server: { fetch(r: Request): Promise<Response> } } }).server.server;
  // the sender's side: every 15 ms (its gather window) read, pack and acknowledge what is committed
  let delivered = 0;
  const drain = setInterval(() => {
    for (let b = storage.next(512); b; b = storage.next(512)) {
      for (const p of buildPublishes(b.records, 65536, (n) => n)) delivered += p.datapoints;
      storage.ack(b);
    }
  }, 15);
  const request = (n: number) => {
    const body = `{"t": ${n}.5}`;
    return new Request(`http://127.0.0.1:5000/data/dev-${n % 100}`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(body.length) }, body });
  };
  // what building the requests costs the bench itself (subtracted below)
  const b0 = cpuUs();
  for (let n = 0; n < total; n++) request(n);
  const building = cpuUs() - b0;
  let failed = 0;
  const cpu0 = cpuUs();
  for (let n = 0; n < total; ) {
    const reqs: Request[] = [];
    for (let i = 0; i < concurrency && n < total; i++, n++) reqs.push(request(n));
    const answers = await Promise.all(reqs.map((r) => server.fetch(r)));
    for (const a of answers) if (a.status !== 200) failed++;
  }
  const perRequest = (cpuUs() - cpu0 - building) / total;
  while (delivered < total - failed) await Bun.sleep(20);
  clearInterval(drain);
  await connector.stop();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
  if (failed > 0) console.log(`  ${failed} requests not answered 200`);
  return perRequest;
}

const runs: number[] = [];
for (let i = 0; i < repeats; i++) {
  const us = await once();
  runs.push(us);
  console.log(`run ${i + 1}: ${us.toFixed(2)} µs CPU per request (${total} requests, ${concurrency} in flight)`);
}
runs.sort((a, b) => a - b);
console.log(`median ${runs[Math.floor(runs.length / 2)]!.toFixed(2)} µs per request`);
