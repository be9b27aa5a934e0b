// gRPC connector benchmark through the whole gateway: a Python connector process (grpcio) sends
// telemetry requests one call at a time → tb-gw (gRPC server, connector of type grpc) → memory
// storage → Mosquitto as the platform → counting subscriber. Prints datapoints/s delivered to the
// platform (every datapoint counted, per-device order of `seq` checked), the connector's own call
// rate, CPU of each process and the gateway's peak RSS.
// Usage: bun bench/grpc.ts [--requests N] [--devices D per request] [--keys K per device] [--processes P] [--binary dist/tb-gw]

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { freePort } from "../test/support/ports.ts";
import type { Started } from "../test/support/process.ts";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";
import { cpuSeconds, rssMb } from "./proc.ts";

const REQUESTS = Number(option("requests", "5000"));
const DEVICES = Number(option("devices", "10"));
const KEYS = Number(option("keys", "10"));
const PROCESSES = Number(option("processes", "1"));
const BINARY = option("binary", "");
const PYTHON = "/usr/bin/python3";
const LOAD = new URL("./grpc-load.py", import.meta.url).pathname;
const PROTO_DIR = new URL("../src/connectors/grpc/", import.meta.url).pathname;

const stubs = mkdtempSync(join(tmpdir(), "tbgw-grpc-bench-"));
const gen = spawnSync(PYTHON, ["-m", "grpc_tools.protoc", `-I${PROTO_DIR}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, "messages.proto"], { encoding: "utf8" });
if (gen.status !== 0) throw new Error(`grpc_tools.protoc failed (apt-get install python3-grpc-tools): ${gen.stderr}`);

function load(port: number, key: string) {
  const child = spawn(PYTHON, [LOAD, String(port), key, String(REQUESTS), String(DEVICES), String(KEYS)], { env: { ...process.env, PYTHONPATH: stubs }, stdio: ["ignore", "pipe", "inherit"] });
  const done = new Promise<{ seconds: number }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited (${code})`))));
  });
  return { done, pid: child.pid! };
}

const platform = await startMosquitto();
let gw: Started | undefined;
let counter: PlatformCounter | undefined;
try {
  let datapoints = 0;
  let outOfOrder = 0;
  const lastSeq = new Map<string, number>();
  counter = await countPlatform<Record<string, number>>(platform.url, "bench-grpc-platform", (body) => {
    for (const [device, entries] of Object.entries(body)) {
      for (const e of entries) {
        const seq = e.values.seq!;
        if (seq <= (lastSeq.get(device) ?? 0) && PROCESSES === 1) outOfOrder++;
        lastSeq.set(device, seq);
        datapoints += Object.keys(e.values).length;
      }
    }
  });

  const port = await freePort();
  const connectors = Array.from({ length: PROCESSES }, (_, i) => ({ name: `Bench ${i}`, type: "grpc", configuration: "grpc.json", key: `bench-key-${i}` }));
  const storage = { type: "memory", max_records_count: 20_000_000, read_records_count: 1000 };
  const main = { ...mainConfig(platform.port, storage, connectors, { statistics: { enable: false } }), grpc: { enabled: true, serverPort: port, serverHost: "127.0.0.1" } };
  const files = writeGatewayConfig(main, { "grpc.json": { comment: "bench" } });
  const env = { TB_GW_LOG_LEVEL: "WARNING" };
  gw = await startBenchGateway(files.configPath, { binary: BINARY, env: { ...env, TB_GW_LOG_LEVEL: "INFO" } });
  await new Promise((r) => setTimeout(r, 1000));

  const total = REQUESTS * DEVICES * KEYS * PROCESSES;
  const cpu0 = { gw: cpuSeconds(gw.proc.pid!), broker: cpuSeconds(platform.pid!) };
  const t0 = performance.now();
  const runs = connectors.map((_, i) => load(port, `bench-key-${i}`));
  const loadCpu = () => runs.reduce((s, r) => s + (() => { try { return cpuSeconds(r.pid); } catch { return 0; } })(), 0);
  let peakRss = rssMb(gw.proc.pid!);
  let cpuLoad = 0;
  const finished = Promise.all(runs.map((r) => r.done));
  let gens: Array<{ seconds: number }> | undefined;
  void finished.then((g) => (gens = g));
  while (datapoints < total && performance.now() - t0 < 600_000) {
    await new Promise((r) => setTimeout(r, 100));
    peakRss = Math.max(peakRss, rssMb(gw.proc.pid!));
    if (!gens) cpuLoad = Math.max(cpuLoad, loadCpu());
    if (counter.lastAt() && performance.now() - counter.lastAt() > 10_000) break;
  }
  const secs = ((counter.lastAt() || performance.now()) - t0) / 1000;
  gens ??= await finished;
  const callSecs = Math.max(...gens.map((g) => g.seconds));
  const row = {
    processes: PROCESSES,
    requests: REQUESTS * PROCESSES,
    datapointsPerRequest: DEVICES * KEYS,
    datapoints,
    lost: total - datapoints,
    outOfOrder,
    datapointsPerSec: Math.round(datapoints / secs),
    callsPerSec: Math.round((REQUESTS * PROCESSES) / callSecs),
    gatewayCpuPct: Math.round(((cpuSeconds(gw.proc.pid!) - cpu0.gw) / secs) * 100),
    platformBrokerCpuPct: Math.round(((cpuSeconds(platform.pid!) - cpu0.broker) / secs) * 100),
    connectorProcessesCpuPct: Math.round((cpuLoad / secs) * 100),
    peakRssMb: Math.round(peakRss),
    build: BINARY ? "binary" : "source",
  };
  console.log(JSON.stringify(row));
} finally {
  await gw?.stop();
  await counter?.close();
  await platform.dispose();
}
