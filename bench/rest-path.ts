// The REST connector's own per-request work, in one process, without HTTP parsing or sockets: the
// connector's Bun.serve handler is called with `server.fetch(request)`, and the data goes through
// the real pipeline into real sqlite storage (group commit), drained as the sender does (next,
// pack into gateway-API payloads, ack) without MQTT. Rounds of `concurrency` requests in flight,
// like wrk's connections; the figure is CPU time per request (process.cpuUsage), which on a shared
// machine is much steadier than the end-to-end bench (bench/rest.ts), whose batching changes with
// how much CPU the gateway gets.
//
// A/B: `--compare DIR...` loads the same modules from other checkouts of tb-gw (e.g. a
// `git archive <commit> | tar -x -C DIR` with node_modules linked) into this process and runs
// the variants in alternating blocks, so load from other processes falls on all of them alike.
// Usage: bun bench/rest-path.ts [requests=200000] [concurrency=64] [--compare DIR...]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

const at = process.argv.indexOf("--compare");
const others = at > 0 ? process.argv.splice(at).slice(1) : [];
const total = Number(process.argv[2] ?? 200_000);
const concurrency = Number(process.argv[3] ?? 64);
/** Requests per block before switching to the next variant. */
const BLOCK = concurrency * 50;

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

interface Variant {
  name: string;
  /** Send `count` requests starting at number `from`, `concurrency` at a time; returns non-200 answers. */
  run(from: number, count: number): Promise<number>;
  delivered(): number;
  close(): Promise<void>;
}

async function variant(root: string, name: string): Promise<Variant> {
  const m = async (p: string) => import(join(root, p));
  const { DeviceFilter } = await m("src/core/device-filter.ts");
  const { DeviceRegistry } = await m("src/core/devices.ts");
  const { Pipeline } = await m("src/core/pipeline.ts");
  const { ReportStrategyService } = await m("src/core/report-strategy.ts");
  const { RestConnector } = await m("src/connectors/rest/connector.ts");
  const { RestConfigSchema } = await m("src/connectors/rest/schema.ts");
  const { EventBus } = await m("src/observe/events.ts");
  const { Logger, setLogLevel } = await m("src/observe/logger.ts");
  const { buildPublishes } = await m("src/platform/packing.ts");
  const { SqliteStorage } = await m("src/storage/sqlite.ts");

  setLogLevel("WARNING");
  const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-rest-path-"));
  const log = new Logger("bench");
  const storage = new SqliteStorage({ dir, sizeLimitBytes: 1024 * 1024 * 1024, maxDbAmount: 10, writingBatchSize: 1000, ttlMs: 7 * 86_400_000, ttlCheckMs: 3_600_000, log });
  const pipeline = new Pipeline({
    storage,
    devices: new DeviceRegistry(dir, log),
    strategies: new ReportStrategyService({ type: "ON_RECEIVED" }, () => {}),
    filter: DeviceFilter.none(),
    events: new EventBus(),
    log,
    maxRecordBytes: () => 65536,
    announce: (d: { announced: boolean }) => (d.announced = true),
  });
  const ctx = {
    name: "REST",
    id: "rest-id",
    type: "rest",
    configDir: dir,
    dataDir: dir,
    log,
    sendData: (data: unknown) => pipeline.send("REST", "rest-id", "rest", data),
    countDropped: () => {},
    addDevice: () => {},
    delDevice: () => {},
    requestAttributes: async () => ({}),
    sendRpcReply: () => {},
  };
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
      for (const p of buildPublishes(b.records, 65536, (n: string) => n)) delivered += p.datapoints;
      storage.ack(b);
    }
  }, 15);
  return {
    name,
    async run(from, count) {
      let failed = 0;
      for (let n = from; n < from + count; ) {
        const answers: Array<Promise<Response>> = [];
        for (let i = 0; i < concurrency && n < from + count; i++, n++) {
          const body = `{"t": ${n}.5}`;
          answers.push(server.fetch(new Request(`http://127.0.0.1:5000/data/dev-${n % 100}`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(body.length) }, body })));
        }
        for (const a of await Promise.all(answers)) if (a.status !== 200) failed++;
      }
      return failed;
    },
    delivered: () => delivered,
    async close() {
      clearInterval(drain);
      await connector.stop();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const roots = [resolve(import.meta.dir, ".."), ...others.map((d) => resolve(d))];
const variants: Variant[] = [];
for (const r of roots) variants.push(await variant(r, r === roots[0] ? "this checkout" : basename(r)));
const cpu = variants.map(() => 0);
const failed = variants.map(() => 0);
// warm-up (JIT), not counted
for (const v of variants) await v.run(0, BLOCK);
for (let from = BLOCK; from < BLOCK + total; from += BLOCK) {
  for (let i = 0; i < variants.length; i++) {
    const c0 = cpuUs();
    failed[i]! += await variants[i]!.run(from, Math.min(BLOCK, BLOCK + total - from));
    cpu[i]! += cpuUs() - c0;
  }
}
for (let i = 0; i < variants.length; i++) {
  const v = variants[i]!;
  const t0 = Date.now();
  while (v.delivered() < BLOCK + total - failed[i]! && Date.now() - t0 < 30_000) await Bun.sleep(20);
  console.log(`${v.name}: ${(cpu[i]! / total).toFixed(2)} µs CPU per request (${total} requests, ${concurrency} in flight), ${failed[i]} not 200, ${v.delivered()} of ${BLOCK + total} delivered`);
  await v.close();
}
