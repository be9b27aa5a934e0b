// Low-rate uplink benchmark: what the gateway costs at the rates most sites run (issue #19).
// Load generator (own process, fixed rate) → device broker (mosquitto) → tb-gw MQTT connector →
// storage → platform broker (mosquitto) → counting subscriber. 10 devices, 5 datapoints per message
// (seq, t = publish time, k0..k2), QoS 1 on every hop. The generator starts as soon as the gateway
// says it started, so the CPU figure covers the first seconds after start (JIT warm-up included).
// Prints per run: the gateway process's CPU (from /proc) as % of one core over the load window and
// from process start, per 10 s slice, core-s per million datapoints, latency from device publish to
// arrival at the platform-side subscriber (the platform broker forwards a publish as it PUBACKs it),
// loss and per-device order, and the JS thread's wake-ups per second and per platform publish.
// Usage: bun bench/low-rate.ts [--rate DATAPOINTS_PER_S] [--storage sqlite|memory|file] [--seconds 60]
//        [--runs N] [--binary dist/tb-gw] [--cpu-prof DIR] [--device-inflight N] [--gw-env K=V,K=V]
// --device-inflight N: the device broker sends the gateway at most N unacknowledged QoS 1 messages
// (mosquitto max_inflight_messages; default unlimited), as a strict broker would.
// --gw-env: extra environment for the gateway process (e.g. BUN_JSC_* or MIMALLOC_* options to measure).
// --floor: measure bench/low-rate-floor.ts (the least a Bun process can do for this work) instead.
// --with-floor: each run measures the gateway, then the floor right after it, and prints the ratio
// of their CPU, taken a minute apart (this machine's CPU figures drift by ±15 % from hour to hour).

import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";
import { cpuSeconds, rssMb, systemCpuSeconds, threadCpuSeconds, voluntarySwitches } from "./proc.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { BUN, mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startProcess, type Started } from "../test/support/process.ts";
import { benchStorage } from "./storage-config.ts";

const DP_RATE = Number(option("rate", "1000"));
const KIND = option("storage", "sqlite");
const SECONDS = Number(option("seconds", "60"));
const RUNS = Number(option("runs", "1"));
const BINARY = option("binary", "");
const CPU_PROF = option("cpu-prof", "");
const DEVICE_INFLIGHT = Number(option("device-inflight", "0"));
const FLOOR = process.argv.includes("--floor");
const WITH_FLOOR = process.argv.includes("--with-floor");
const FLOOR_SCRIPT = new URL("./low-rate-floor.ts", import.meta.url).pathname;
const GW_ENV = Object.fromEntries(
  option("gw-env", "")
    .split(",")
    .filter((kv) => kv.includes("="))
    .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
);
const DEVICES = 10;
const DP_PER_MSG = 5; // seq, t and 3 keys
const MSG_RATE = DP_RATE / DP_PER_MSG;
const MESSAGES = Math.round(MSG_RATE * SECONDS);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

async function run(n: number, floor = FLOOR) {
  const device = await startMosquitto(DEVICE_INFLIGHT > 0 ? { extraConfig: `max_inflight_messages ${DEVICE_INFLIGHT}` } : {});
  const platform = await startMosquitto();
  let gw: Started | undefined;
  let counter: PlatformCounter | undefined;
  try {
    let datapoints = 0;
    let messages = 0;
    let outOfOrder = 0;
    const lastSeq = new Map<string, number>();
    const latencies: number[] = [];
    let platformPublishes = 0;
    counter = await countPlatform<Record<string, number>>(platform.url, "bench-platform", (body) => {
      const now = Date.now();
      platformPublishes++;
      for (const [dev, entries] of Object.entries(body)) {
        for (const e of entries) {
          let k = 0;
          for (const _ in e.values) k++;
          datapoints += k;
          messages++;
          latencies.push(now - e.values.t!);
          if (e.values.seq! <= (lastSeq.get(dev) ?? 0)) outOfOrder++;
          lastSeq.set(dev, e.values.seq!);
        }
      }
    });

    const storage = benchStorage(KIND);
    const keys = ["seq", "t", "k0", "k1", "k2"];
    const connector = {
      broker: { host: "127.0.0.1", port: device.port, clientId: "bench-gw", version: 4, security: { type: "anonymous" } },
      mapping: [
        {
          topicFilter: "bench/+",
          subscriptionQos: 1,
          converter: {
            type: "json",
            deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "bench/(.*)", deviceProfileExpressionSource: "constant", deviceProfileExpression: "bench" },
            attributes: [],
            timeseries: keys.map((k) => ({ type: "integer", key: k, value: `\${${k}}` })),
          },
        },
      ],
    };
    const files = writeGatewayConfig(mainConfig(platform.port, storage, [{ name: "Bench", type: "mqtt", configuration: "bench.json" }], { statistics: { enable: false } }), { "bench.json": connector });
    const t0 = performance.now();
    const env = { TB_GW_LOG_LEVEL: "WARNING", ...GW_ENV };
    gw = floor
      ? await startProcess(BUN, [FLOOR_SCRIPT, "run", "--config", files.configPath], { ready: /gateway started/, timeoutMs: 60_000, env })
      : await startBenchGateway(files.configPath, { binary: BINARY, env, bunArgs: CPU_PROF ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${CPU_PROF}`] : [] });
    const pid = gw.proc.pid!;
    const startupCpu = cpuSeconds(pid);
    const readyAt = performance.now();
    const gen = startProcess(BUN, [new URL("./load-gen.ts", import.meta.url).pathname, device.url, String(DEVICES), "3", String(MESSAGES), String(MSG_RATE), "1000", "stamp"], { ready: /"rate"/, timeoutMs: SECONDS * 1000 + 120000 });
    const slices: number[] = [];
    let lastCpu = startupCpu;
    let nextSlice = readyAt + 10000;
    let peakRss = rssMb(pid);
    const wakesAtReady = voluntarySwitches(pid);
    const publishesAtReady = platformPublishes;
    while (messages < MESSAGES && performance.now() - readyAt < SECONDS * 1000 + 30000) {
      await new Promise((r) => setTimeout(r, 100));
      peakRss = Math.max(peakRss, rssMb(pid));
      if (performance.now() >= nextSlice) {
        const c = cpuSeconds(pid);
        slices.push(Math.round((c - lastCpu) * 1000) / 100); // % of a core over 10 s
        lastCpu = c;
        nextSlice += 10000;
      }
    }
    const endAt = performance.now();
    const endCpu = cpuSeconds(pid);
    const endSysCpu = systemCpuSeconds(pid);
    const threads = threadCpuSeconds(pid);
    const wakes = voluntarySwitches(pid) - wakesAtReady;
    const publishes = platformPublishes - publishesAtReady;
    const genOut = JSON.parse((await gen).output().trim().split("\n").pop()!);
    const window = (endAt - readyAt) / 1000;
    const loadCpu = endCpu - startupCpu;
    latencies.sort((a, b) => a - b);
    return {
      run: n,
      storage: KIND,
      dpPerSec: DP_RATE,
      deviceInflight: DEVICE_INFLIGHT || "unlimited",
      ...(floor ? { floor: true } : { binary: BINARY !== "" }),
      ...(Object.keys(GW_ENV).length > 0 ? { gwEnv: GW_ENV } : {}),
      generatorMsgsPerSec: Math.round(genOut.rate),
      received: messages,
      lost: MESSAGES - messages,
      outOfOrder,
      windowS: Math.round(window * 10) / 10,
      startupCpuS: Math.round(startupCpu * 100) / 100,
      // the target: CPU from the gateway's start over the load window, % of one core
      cpuPctFromStart: Math.round(((endCpu / ((endAt - t0) / 1000)) * 100) * 10) / 10,
      cpuPctLoad: Math.round((loadCpu / window) * 1000) / 10,
      cpuPctPer10s: slices.join(" "),
      // share of the gateway's CPU spent in the kernel (socket and file writes, wake-ups)
      kernelSharePct: Math.round((endSysCpu / endCpu) * 100),
      // from start, % of one core per thread: js (the event loop), JITWorker, mi-scavenger, ...
      threadPct: Object.entries(threads)
        .filter(([, s]) => s > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([name, s]) => `${name} ${Math.round((s / ((endAt - t0) / 1000)) * 1000) / 10}`)
        .join(", "),
      // the JS thread's sleeps and wake-ups (voluntary context switches) over the load window, and
      // per publish the platform received (a batch): the per-batch floor at low rates
      jsWakeupsPerSec: Math.round(wakes / window),
      jsWakeupsPerPublish: publishes > 0 ? Math.round((wakes / publishes) * 100) / 100 : null,
      coreSecPerMillionDp: Math.round((loadCpu / (datapoints / 1e6)) * 10) / 10,
      latencyMs: `p50 ${pct(latencies, 50)} p99 ${pct(latencies, 99)} max ${latencies.at(-1)}`,
      peakRssMb: Math.round(peakRss),
      loadavg: (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" "),
    };
  } finally {
    await gw?.stop();
    await counter?.close();
    await device.dispose();
    await platform.dispose();
  }
}

for (let i = 1; i <= RUNS; i++) {
  const measured = await run(i);
  console.log(JSON.stringify(measured));
  if (!WITH_FLOOR) continue;
  const floor = await run(i, true);
  console.log(JSON.stringify(floor));
  console.log(JSON.stringify({ run: i, gatewayOverFloor: Math.round((measured.cpuPctFromStart / floor.cpuPctFromStart) * 100) / 100 }));
}
