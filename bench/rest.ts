// REST connector throughput through the whole gateway (`tb-gw run` from source, sqlite storage,
// Mosquitto + the platform harness as ThingsBoard): wrk (Debian package) posts JSON as fast as it
// can; reports requests/s accepted (2xx, i.e. stored), datapoints delivered to the platform, and
// wrk's latency percentiles. Then a paced run (own loader, keep-alive fetch) at a fixed rate for p99.
// Usage: bun bench/rest.ts [seconds=10] [connections=64] [rate=2000] [storage=sqlite|memory] [--cpu-prof DIR] [--no-paced]
// --cpu-prof DIR: the gateway writes a Markdown CPU profile into DIR when it stops.
// --no-paced: skip the paced run (A/B comparisons of CPU per request need only the wrk run).
// "CPU per request" is the gateway's CPU time (user + system, all its threads) during the wrk run
// divided by the requests answered: on a shared machine a steadier figure than requests/s.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, CLI, mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startProcess } from "../test/support/process.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { startPlatformHarness } from "../test/support/platform.ts";
import { freePort } from "../test/support/ports.ts";
import { cpuSeconds, systemCpuSeconds } from "./proc.ts";

/** CPU seconds of the process's main thread (the JS thread: HTTP, converters, sqlite), without JIT and GC threads. */
function mainThreadCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

const profAt = process.argv.indexOf("--cpu-prof");
const cpuProfDir = profAt > 0 ? process.argv.splice(profAt, 2)[1] : undefined;
const noPacedAt = process.argv.indexOf("--no-paced");
const paced = noPacedAt < 0;
if (!paced) process.argv.splice(noPacedAt, 1);
const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 64);
const rate = Number(process.argv[4] ?? 2000);
const storageType = process.argv[5] ?? "sqlite";

const broker = await startMosquitto();
const harness = await startPlatformHarness(broker.url);
let delivered = 0;
harness.client.on("message", (topic, payload) => {
  if (topic !== "v1/gateway/telemetry") return;
  const body = JSON.parse(payload.toString()) as Record<string, Array<{ values: object }>>;
  for (const entries of Object.values(body)) for (const e of entries) delivered += Object.keys(e.values).length;
});
harness.received.length = 0;
const restPort = await freePort();
const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-rest-"));
const rest = {
  server: { host: "127.0.0.1", port: restPort },
  mapping: [
    {
      endpoint: "/data/{deviceName}",
      HTTPMethods: ["POST"],
      converter: { type: "json", deviceInfo: { deviceNameExpressionSource: "request", deviceNameExpression: "${deviceName}" }, timeseries: [{ key: "t", type: "double", value: "${t}" }] },
    },
  ],
};
const storage =
  storageType === "memory" ? { type: "memory", read_records_count: 1000, max_records_count: 1_000_000 } : { type: "sqlite", data_file_path: "./data/", max_read_records_count: 1000 };
const files = writeGatewayConfig(mainConfig(broker.port, storage, [{ name: "REST", type: "rest", configuration: "rest.json" }], { maxPayloadSizeBytes: 65536 }), { "rest.json": rest }, dir);
const prof = cpuProfDir ? ["--cpu-prof-md", `--cpu-prof-dir=${cpuProfDir}`] : [];
const gw = await startProcess(BUN, [...prof, CLI, "run", "--config", files.configPath], { ready: /gateway started/, env: { TB_GW_LOG_LEVEL: "WARNING" } });
const gwPid = gw.proc.pid!;
// keep the harness from storing every message (memory), counting only
const keep = harness.received;
setInterval(() => (keep.length = 0), 500).unref();

try {
  const lua = join(dir, "post.lua");
  writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, "/data/dev-" .. (n % 100), nil, '{"t": ' .. n .. '.5}')\nend\n`);
  const cpu0 = cpuSeconds(gwPid);
  const sys0 = systemCpuSeconds(gwPid);
  const main0 = mainThreadCpuSeconds(gwPid);
  const p = Bun.spawn(["wrk", "-t2", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", lua, `http://127.0.0.1:${restPort}/`], { stdout: "pipe" });
  const out = await new Response(p.stdout).text();
  const cpuUsed = cpuSeconds(gwPid) - cpu0;
  const sysUsed = systemCpuSeconds(gwPid) - sys0;
  const mainUsed = mainThreadCpuSeconds(gwPid) - main0;
  const cpu = (cpuUsed / seconds) * 100;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const accepted = requests - non2xx;
  const t0 = Date.now();
  while (delivered < accepted && Date.now() - t0 < 120_000) await Bun.sleep(200);
  const drainS = (Date.now() - t0) / 1000;
  console.log(`wrk ${connections} connections, ${seconds} s, ${storageType} storage:`);
  console.log(`  accepted (200 = stored): ${accepted} = ${(accepted / seconds).toFixed(0)} req/s, non-2xx ${non2xx}; gateway CPU ${cpu.toFixed(0)} % of one core`);
  console.log(`  CPU per request: ${requests > 0 ? ((cpuUsed / requests) * 1e6).toFixed(1) : "-"} µs (of which system ${requests > 0 ? ((sysUsed / requests) * 1e6).toFixed(1) : "-"} µs; JS thread ${requests > 0 ? ((mainUsed / requests) * 1e6).toFixed(1) : "-"} µs, other threads (JIT compiler, GC) ${requests > 0 ? (((cpuUsed - mainUsed) / requests) * 1e6).toFixed(1) : "-"} µs)`);
  console.log(`  delivered to the platform: ${delivered} of ${accepted} (${drainS.toFixed(1)} s after the load ended)`);
  for (const m of out.matchAll(/^\s+(50|90|99)%\s+(\S+)/gm)) console.log(`  latency p${m[1]}: ${m[2]}`);

  if (paced) {
    // paced: `rate` requests/s for `seconds`, keep-alive fetch, latency of each
    const lat: number[] = [];
    const start = performance.now();
    const total = rate * seconds;
    let sent = 0;
    const inflight = new Set<Promise<void>>();
    while (sent < total) {
      const due = start + (sent / rate) * 1000;
      const now = performance.now();
      if (due > now) await Bun.sleep(due - now);
      const t = performance.now();
      const i = sent++;
      const pr: Promise<void> = fetch(`http://127.0.0.1:${restPort}/data/paced-${i % 50}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: `{"t": ${i}}` }).then(async (r) => {
        await r.arrayBuffer();
        if (r.status === 200) lat.push(performance.now() - t);
        inflight.delete(pr);
      });
      inflight.add(pr);
    }
    await Promise.all(inflight);
    lat.sort((a, b) => a - b);
    const pct = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(2);
    console.log(`paced ${rate} req/s for ${seconds} s: ${lat.length} of ${total} answered 200; latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${lat.at(-1)!.toFixed(2)} ms`);
  }
} finally {
  await gw.stop();
  await harness.close();
  await broker.dispose();
}
