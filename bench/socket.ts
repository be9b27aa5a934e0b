// Socket connector benchmark through the whole gateway: a load generator (own process) writes
// small newline-ended frames over TCP connections → tb-gw (Socket connector, TCP server, delimiter
// framing) → memory storage → Mosquitto as the platform → counting subscriber. Prints frames/s
// delivered to the platform (every frame counted, per-connection order checked), CPU and RSS, and
// the gateway's memory per idle connection.
// Usage: bun bench/socket.ts [--frames N per connection] [--connections C] [--idle I] [--binary dist/tb-gw]

import { spawn } from "node:child_process";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { BUN, mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { freePort } from "../test/support/ports.ts";
import type { Started } from "../test/support/process.ts";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";
import { cpuSeconds, rssMb } from "./proc.ts";

const FRAMES = Number(option("frames", "100000"));
const CONNECTIONS = Number(option("connections", "10"));
const IDLE = Number(option("idle", "10000"));
const BINARY = option("binary", "");
const LOAD = new URL("./socket-load.ts", import.meta.url).pathname;

/** Run the load generator; resolves with its first JSON line and a way to end it. */
function load(port: number, connections: number, frames: number, idle: boolean) {
  const child = spawn(BUN, [LOAD, "127.0.0.1", String(port), String(connections), String(frames), ...(idle ? ["--idle"] : [])], { stdio: ["pipe", "pipe", "inherit"] });
  const first = new Promise<Record<string, number>>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    child.once("exit", (code) => reject(new Error(`load generator exited (${code})`)));
  });
  const end = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null) return r();
      child.once("exit", () => r());
      child.stdin.end();
    });
  return { first, end, pid: child.pid! };
}

const platform = await startMosquitto();
let gw: Started | undefined;
let counter: PlatformCounter | undefined;
try {
  let frames = 0;
  let outOfOrder = 0;
  const lastSeq = new Map<string, number>();
  counter = await countPlatform<{ frame: string }>(platform.url, "bench-socket-platform", (body) => {
    for (const entries of Object.values(body)) {
      for (const e of entries) {
        const [conn, seq] = e.values.frame.split("-");
        if (Number(seq) <= (lastSeq.get(conn!) ?? 0)) outOfOrder++;
        lastSeq.set(conn!, Number(seq));
        frames++;
      }
    }
  });

  const port = await freePort();
  const socketCfg = {
    socket: { type: "TCP", address: "127.0.0.1", port, bufferSize: 64, framing: { type: "delimiter", delimiter: "\n" } },
    devices: [{ address: "*:*", deviceName: "bench-device", telemetry: [{ key: "frame", byteFrom: 0, byteTo: -1 }] }],
  };
  const storage = { type: "memory", max_records_count: 20_000_000, read_records_count: 1000 };
  const files = writeGatewayConfig(mainConfig(platform.port, storage, [{ name: "Bench", type: "socket", configuration: "socket.json" }], { statistics: { enable: false } }), { "socket.json": socketCfg });
  const env = { TB_GW_LOG_LEVEL: "WARNING" };
  gw = await startBenchGateway(files.configPath, { binary: BINARY, env: { ...env, TB_GW_LOG_LEVEL: "INFO" } });
  await new Promise((r) => setTimeout(r, 1000));

  // memory per idle connection
  const rss0 = rssMb(gw.proc.pid!);
  const idle = load(port, IDLE, 0, true);
  await idle.first;
  await new Promise((r) => setTimeout(r, 1000));
  const rssIdle = rssMb(gw.proc.pid!);
  await idle.end();
  await new Promise((r) => setTimeout(r, 1000));

  // throughput
  const total = FRAMES * CONNECTIONS;
  const cpu0 = { gw: cpuSeconds(gw.proc.pid!), broker: cpuSeconds(platform.pid!) };
  const t0 = performance.now();
  const run = load(port, CONNECTIONS, FRAMES, false);
  const gen = await run.first;
  let peakRss = rssMb(gw.proc.pid!);
  while (frames < total && performance.now() - t0 < 300_000) {
    await new Promise((r) => setTimeout(r, 100));
    peakRss = Math.max(peakRss, rssMb(gw.proc.pid!));
    if (counter.lastAt() && performance.now() - counter.lastAt() > 10_000) break;
  }
  const secs = ((counter.lastAt() || performance.now()) - t0) / 1000;
  await run.end();
  const row = {
    connections: CONNECTIONS,
    frames,
    lost: total - frames,
    outOfOrder,
    framesPerSec: Math.round(frames / secs),
    generatorWriteSeconds: +gen.writeSeconds!.toFixed(2),
    gatewayCpuPct: Math.round(((cpuSeconds(gw.proc.pid!) - cpu0.gw) / secs) * 100),
    platformBrokerCpuPct: Math.round(((cpuSeconds(platform.pid!) - cpu0.broker) / secs) * 100),
    peakRssMb: Math.round(peakRss),
    idleConnections: IDLE,
    rssBeforeIdleMb: Math.round(rss0),
    rssWithIdleMb: Math.round(rssIdle),
    kbPerIdleConnection: +(((rssIdle - rss0) * 1024) / IDLE).toFixed(2),
    build: BINARY ? "binary" : "source",
  };
  console.log(JSON.stringify(row));
} finally {
  await gw?.stop();
  await counter?.close();
  await platform.dispose();
}
