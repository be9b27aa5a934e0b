// Whole-gateway Modbus polling benchmark (issue #19): pymodbus slaves (Debian python3-pymodbus, one
// peer process serving every slave, one TCP connection per slave on 127.0.0.x aliases) → `tb-gw run`
// with a modbus config (K slaves × M holding registers of 16uint, pollPeriod P) → storage → platform
// (mosquitto) → a counting subscriber. Per step: datapoints/s delivered vs expected (K × M / P),
// polls on time (intervals between a device's consecutive messages at the platform within 1.5 × P),
// gateway CPU (from /proc: % of a core and core-s per million datapoints, over a fixed window after
// warm-up), gateway RSS (peak over the whole run, VmHWM) and the peer's CPU. The load average is
// printed next to every figure (the machine is shared).
// Usage: bun bench/modbus-gateway.ts [--steps 100x50x1000,300x50x100] [--storage memory|sqlite]
//        [--seconds 20] [--warmup 10] [--binary dist/tb-gw] [--cpu-prof DIR] [--heap-ram-mb MB] [--smol yes]
// GW_PRELOAD=file.ts (from source): preloaded into the gateway; it is sent SIGUSR2 once after the
// warm-up, e.g. to write heap statistics after a full GC (how the memory figures were found).

import { startMosquitto } from "../test/support/mosquitto.ts";
import { mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startProcess, type Started } from "../test/support/process.ts";
import { freePort } from "../test/support/ports.ts";
import { PEER_SCRIPT } from "../src/connectors/modbus/test/peer.ts";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";
import { cpuSeconds, peakRssMb, rssMb } from "./proc.ts";
import { benchStorage } from "./storage-config.ts";
import { readdirSync, readFileSync } from "node:fs";

const STEPS = option("steps", "100x50x1000,100x50x100,300x50x100,300x50x50").split(",").map((s) => s.split("x").map(Number) as [number, number, number]);
const KIND = option("storage", "memory");
const SECONDS = Number(option("seconds", "20"));
const WARMUP = Number(option("warmup", "10"));
const BINARY = option("binary", "");
const CPU_PROF = option("cpu-prof", "");
/** size the gateway's JS heap as on a machine with this much RAM (BUN_JSC_forceRAMSize); 0 = this machine's */
const HEAP_RAM_MB = Number(option("heap-ram-mb", "0"));
/** `--smol yes`: bun's small-heap mode (collects more often), from source only */
const SMOL = option("smol", "") === "yes";
/** `--start-sample-ms N`: sample the gateway's VmRSS every N ms from its launch through the warm-up (where start-up peaks) */
const START_SAMPLE_MS = Number(option("start-sample-ms", "0"));

const loadavg = async () => (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");

async function step(slaves: number, regs: number, periodMs: number) {
  const platform = await startMosquitto();
  const port = await freePort();
  const hosts = Array.from({ length: slaves }, (_, i) => `127.0.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`);
  let peer: Started | undefined;
  let gw: Started | undefined;
  let counter: PlatformCounter | undefined;
  try {
    // one peer serving every address (starting 300 listeners takes a while on a loaded machine)
    peer = await startProcess("/usr/bin/python3", [PEER_SCRIPT, JSON.stringify({ port, hosts, units: [1] })], { ready: /READY/, timeoutMs: 60_000 });
    let datapoints = 0;
    let measuring = false;
    let onTime = 0;
    let late = 0;
    const lastAt = new Map<string, number>();
    counter = await countPlatform<Record<string, number>>(platform.url, "bench-platform", (body) => {
      const now = performance.now();
      for (const [dev, entries] of Object.entries(body)) {
        for (const e of entries) {
          const prev = lastAt.get(dev);
          lastAt.set(dev, now);
          if (!measuring) continue;
          for (const _ in e.values) datapoints++;
          if (prev !== undefined) (now - prev <= 1.5 * periodMs ? onTime++ : late++);
        }
      }
    });
    const connector = {
      master: {
        slaves: hosts.map((host, i) => ({
          deviceName: `mb-${i + 1}`, deviceType: "bench", type: "tcp", method: "socket", host, port, unitId: 1,
          pollPeriod: periodMs, timeout: 2000, retries: 0, byteOrder: "BIG", wordOrder: "BIG",
          timeseries: Array.from({ length: regs }, (_, r) => ({ tag: `r${r}`, type: "16uint", functionCode: 3, objectsCount: 1, address: r })),
        })),
      },
    };
    const files = writeGatewayConfig(mainConfig(platform.port, benchStorage(KIND), [{ name: "Modbus", type: "modbus", configuration: "modbus.json" }], { statistics: { enable: false } }), { "modbus.json": connector });
    const env: Record<string, string> = { TB_GW_LOG_LEVEL: "WARNING" };
    if (HEAP_RAM_MB > 0) env.BUN_JSC_forceRAMSize = String(HEAP_RAM_MB * 1048576);
    const prof = [...(CPU_PROF ? ["--cpu-prof-md", `--cpu-prof-dir=${CPU_PROF}`] : [])];
    const sampler = START_SAMPLE_MS > 0 ? sampleStart(START_SAMPLE_MS) : undefined;
    gw = await startBenchGateway(files.configPath, { binary: BINARY, env, bunArgs: [...(SMOL ? ["--smol"] : []), ...prof, ...(process.env.GW_PRELOAD ? ["--preload", process.env.GW_PRELOAD] : [])] });
    const pid = gw.proc.pid!;
    const timeline: number[] = [];
    for (let t = 0; t < WARMUP * 2; t++) {
      await Bun.sleep(500);
      if (t % 4 === 3) timeline.push(Math.round(rssMb(pid)));
    }
    const startRss = sampler?.stop();
    if (process.env.GW_PRELOAD) { process.kill(pid, "SIGUSR2"); await Bun.sleep(2000); }
    const cpu0 = cpuSeconds(pid);
    const peer0 = cpuSeconds(peer.proc.pid!);
    const load0 = await loadavg();
    measuring = true;
    const t0 = performance.now();
    let maxRss = rssMb(pid);
    while (performance.now() - t0 < SECONDS * 1000) {
      await Bun.sleep(250);
      maxRss = Math.max(maxRss, rssMb(pid));
      if (Math.round((performance.now() - t0) / 250) % 8 === 0) timeline.push(Math.round(rssMb(pid)));
    }
    measuring = false;
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    const peerCpu = cpuSeconds(peer.proc.pid!) - peer0;
    const expected = (slaves * regs * 1000) / periodMs;
    return {
      step: `${slaves}x${regs}x${periodMs}ms`,
      from: BINARY ? "binary" : "source",
      storage: KIND,
      heapRamMb: HEAP_RAM_MB || "machine",
      smol: SMOL,
      expectedDpPerS: expected,
      deliveredDpPerS: Math.round(datapoints / wall),
      deliveredPct: Math.round((datapoints / wall / expected) * 1000) / 10,
      pollsOnTimePct: Math.round((onTime / Math.max(1, onTime + late)) * 1000) / 10,
      gwCpuPct: Math.round((cpu / wall) * 1000) / 10,
      coreSPerMillionDp: datapoints ? Math.round((cpu / (datapoints / 1e6)) * 10) / 10 : NaN,
      gwPeakRssMb: Math.round(Math.max(maxRss, peakRssMb(pid))),
      peerCpuPct: Math.round((peerCpu / wall) * 1000) / 10,
      rssEvery2sMb: timeline.join(" "),
      ...(startRss ? { startRssMb: startRss } : {}),
      loadavg: `${load0} → ${await loadavg()}`,
    };
  } finally {
    await gw?.stop();
    await peer?.stop();
    await counter?.close();
    await platform.dispose();
  }
}

/**
 * VmRSS of the gateway from its launch: the child of this process is found in /proc as soon as it
 * exists (startBenchGateway resolves only once it has started, after the config load). Returns
 * "seconds:MB" at each sample, and the peak.
 */
function sampleStart(everyMs: number) {
  const t0 = performance.now();
  const samples: string[] = [];
  let pid: number | undefined;
  let peak = { at: 0, mb: 0 };
  const findChild = (): number | undefined => {
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = readFileSync(`/proc/${d}/stat`, "utf8");
        if (Number(st.split(") ")[1]!.split(" ")[1]) === process.pid && !st.includes("(python3)") && !st.includes("(mosquitto)")) return Number(d);
      } catch {}
    }
    return undefined;
  };
  const timer = setInterval(() => {
    pid ??= findChild();
    if (pid === undefined) return;
    try {
      const at = (performance.now() - t0) / 1000;
      const mb = Math.round(rssMb(pid));
      samples.push(`${at.toFixed(2)}:${mb}`);
      if (mb > peak.mb) peak = { at, mb };
    } catch {}
  }, everyMs);
  return { stop: () => (clearInterval(timer), `peak ${peak.mb} MB at ${peak.at.toFixed(2)} s; ${samples.join(" ")}`) };
}

const results = [];
for (const [k, m, p] of STEPS) {
  const r = await step(k, m, p);
  console.log(JSON.stringify(r));
  results.push(r);
}
console.log("| step | expected dp/s | delivered | polls on time | gateway CPU | core-s / 1 M dp | gateway peak RSS | peer CPU | load avg |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---|");
for (const r of results)
  console.log(`| ${r.step} | ${r.expectedDpPerS.toLocaleString("en")} | ${r.deliveredPct} % | ${r.pollsOnTimePct} % | ${r.gwCpuPct} % | ${r.coreSPerMillionDp} | ${r.gwPeakRssMb} MB | ${r.peerCpuPct} % | ${r.loadavg} |`);
