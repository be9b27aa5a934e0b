// Idle memory of the compiled gateway: the shipped templates (config-templates/tb_gateway.json +
// mqtt.json, memory storage) against a local Mosquitto standing in for the platform and the device
// broker, connected and idle; RSS read from /proc after 8 s, median of --runs starts.
//
// Two start conditions, because the executable's file-backed pages count in RSS differently:
//  - cold: the page cache is dropped first (as after a boot; needs root): only what start-up reads
//    is cached, and mapped;
//  - warm: the whole binary is in the page cache first (as when it was just built or copied); the
//    kernel then maps cached neighbours of every page touched (fault-around), so RssFile is a few
//    MB higher for the same work.
// The gateway logs at its default level (INFO), as in production.
// Usage: bun bench/idle-rss.ts [--binary dist/tb-gw] [--runs 3] [--no-connector]
// --binary dist/tb-gw-linux-arm64 runs it under qemu-user (build/targets.ts): RSS is then that of
// the qemu process, the guest's memory plus the emulator's own (translated code, its heap); the
// emulator's share is estimated from smaps (emulatorMb) and the rest reported as guestMb.

import { readFileSync, writeFileSync } from "node:fs";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { writeGatewayConfig } from "../test/support/gateway.ts";
import { cpuSeconds, emulatorRssMb } from "./proc.ts";
import { commandFor } from "../build/targets.ts";
import { startProcess } from "../test/support/process.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const BINARY = opt("binary", "dist/tb-gw");
const RUNS = Number(opt("runs", "3"));
const WITH_CONNECTOR = !args.includes("--no-connector");
const IDLE_MS = 8000;
const EMULATED = commandFor(BINARY, [])[0] !== BINARY;

interface Mem {
  rss: number;
  /** Under qemu-user: the emulator's own share of rss (bench/proc.ts), 0 natively. */
  emulator: number;
  anon: number;
  file: number;
  /** CPU over the last 6 s of the idle period, % of one core. */
  cpu: number;
}

function memOf(pid: number): Mem {
  const st = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile"), cpu: 0, emulator: EMULATED ? emulatorRssMb(pid) : 0 };
}

function dropPageCache(): boolean {
  try {
    Bun.spawnSync(["sync"]);
    writeFileSync("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const broker = await startMosquitto();
try {
  const main = JSON.parse(readFileSync("config-templates/tb_gateway.json", "utf8"));
  delete main.$schema;
  main.thingsboard = { ...main.thingsboard, host: "127.0.0.1", port: broker.port, security: { type: "accessToken", accessToken: "idle-bench" } };
  main.connectors = WITH_CONNECTOR ? [{ name: "MQTT", type: "mqtt", configuration: "mqtt.json" }] : [];
  const mqttCfg = JSON.parse(readFileSync("config-templates/mqtt.json", "utf8"));
  delete mqttCfg.$schema;
  mqttCfg.broker = { ...mqttCfg.broker, host: "127.0.0.1", port: broker.port, clientId: "idle-bench-connector" };
  const files = writeGatewayConfig(main, { "mqtt.json": mqttCfg });

  const results: Record<string, unknown>[] = [];
  for (const mode of ["cold", "warm"] as const) {
    const samples: Mem[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (mode === "cold" && !dropPageCache()) {
        console.error("cold start needs root (writes /proc/sys/vm/drop_caches): skipped");
        break;
      }
      if (mode === "warm") await Bun.file(BINARY).arrayBuffer(); // every page of it into the cache
      const gw = await startProcess(...commandFor(BINARY, ["run", "--config", files.configPath]), { ready: /gateway started/, timeoutMs: 60000, env: { TB_GW_LOG_LEVEL: "INFO" } });
      try {
        // idle by definition: nothing to wait for but time
        await Bun.sleep(IDLE_MS - 6000);
        const cpu0 = cpuSeconds(gw.proc.pid!);
        await Bun.sleep(6000);
        const m = memOf(gw.proc.pid!);
        m.cpu = ((cpuSeconds(gw.proc.pid!) - cpu0) / 6) * 100;
        samples.push(m);
        // a refused or failed connection would be logged as an error: then it was not a connected idle
        if (/ERROR/.test(gw.output())) throw new Error(`the gateway reported errors:\n${gw.output()}`);
      } finally {
        await gw.stop();
      }
    }
    if (samples.length === 0) continue;
    const row = {
      start: mode,
      connectors: WITH_CONNECTOR ? "mqtt" : "none",
      runs: samples.length,
      rssMb: +median(samples.map((s) => s.rss)).toFixed(1),
      anonMb: +median(samples.map((s) => s.anon)).toFixed(1),
      fileMb: +median(samples.map((s) => s.file)).toFixed(1),
      cpuPct: +median(samples.map((s) => s.cpu)).toFixed(2),
      ...(EMULATED ? { emulatorMb: +median(samples.map((s) => s.emulator)).toFixed(1), guestMb: +median(samples.map((s) => s.rss - s.emulator)).toFixed(1) } : {}),
    };
    console.log(JSON.stringify(row));
    results.push(row);
  }
  console.table(results);
} finally {
  await broker.dispose();
}
