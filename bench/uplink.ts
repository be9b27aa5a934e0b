// End-to-end uplink benchmark: load generator → device broker (mosquitto) → tb-gw MQTT connector
// → storage → platform broker (mosquitto) → counting subscriber. Prints, per storage kind,
// device messages/s and datapoints/s delivered with zero loss, CPU and RSS of every process, idle
// RSS and the time from start to first telemetry.
// Usage: bun bench/uplink.ts [--messages N] [--storage memory,sqlite,file] [--binary dist/tb-gw]
//        [--rate MSGS_PER_S] [--cpu-prof DIR]
// --binary takes an executable of another machine too: dist/tb-gw-linux-arm64 runs under qemu-user
// (build/targets.ts), so its CPU figures are the emulator's, not a Pi's. --rate paces the load
// generator (each message carries 5 datapoints: --rate 200 is 1,000 datapoints/s); without it the
// generator sends as fast as the device broker acknowledges.
// --cpu-prof DIR (from source only): the gateway writes a Markdown CPU profile into DIR on exit.

import mqtt from "mqtt";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";
import { cpuSeconds, emulatorRssMb, rssMb } from "./proc.ts";
import { commandFor } from "../build/targets.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { BUN, mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startProcess, type Started } from "../test/support/process.ts";
import { benchStorage } from "./storage-config.ts";

const MESSAGES = Number(option("messages", "200000"));
const KINDS = option("storage", "memory,sqlite,file").split(",");
const BINARY = option("binary", "");
const RATE = Number(option("rate", "0"));
const EMULATED = BINARY !== "" && commandFor(BINARY, [])[0] !== BINARY;
const CPU_PROF = option("cpu-prof", "");
const DEVICES = 10;
const KEYS = 5;

async function run(kind: string) {
  const device = await startMosquitto();
  const platform = await startMosquitto();
  let gw: Started | undefined;
  let counter: PlatformCounter | undefined;
  try {
    let datapoints = 0;
    let messages = 0;
    let firstAt = 0;
    const lastSeq = new Map<string, number>();
    let outOfOrder = 0;
    counter = await countPlatform<Record<string, number>>(platform.url, "bench-platform", (body) => {
      if (!firstAt) firstAt = performance.now();
      for (const [dev, entries] of Object.entries(body)) {
        for (const e of entries) {
          if (firstAt && e.values.seq === 0) continue; // start-up probe messages
          let n = 0;
          for (const _ in e.values) n++;
          datapoints += n;
          messages++;
          const prev = lastSeq.get(dev) ?? 0;
          if (e.values.seq! <= prev) outOfOrder++;
          lastSeq.set(dev, e.values.seq!);
        }
      }
    });

    const storage = benchStorage(kind);
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
            timeseries: [{ type: "integer", key: "seq", value: "${seq}" }, ...Array.from({ length: KEYS - 1 }, (_, i) => ({ type: "integer", key: `k${i}`, value: `\${k${i}}` }))],
          },
        },
      ],
    };
    const files = writeGatewayConfig(mainConfig(platform.port, storage, [{ name: "Bench", type: "mqtt", configuration: "bench.json" }], { statistics: { enable: false } }), { "bench.json": connector });
    const t0 = performance.now();
    gw = await startBenchGateway(files.configPath, { binary: BINARY, env: { TB_GW_LOG_LEVEL: "WARNING" }, bunArgs: CPU_PROF ? ["--cpu-prof-md", `--cpu-prof-dir=${CPU_PROF}`] : [] });
    // time to first telemetry: one message published right after start
    const probe = await mqtt.connectAsync(device.url, { clientId: "bench-probe" });
    while (!firstAt) {
      await probe.publishAsync("bench/dev-0", JSON.stringify({ seq: 0 }), { qos: 1 });
      await new Promise((r) => setTimeout(r, 5));
      if (performance.now() - t0 > 10000) throw new Error("no first telemetry within 10 s");
    }
    const firstMs = firstAt - t0;
    await probe.endAsync();
    datapoints = 0;
    messages = 0;
    lastSeq.clear();
    await new Promise((r) => setTimeout(r, 2000));
    const idleRss = rssMb(gw.proc.pid!);

    const pids = { gateway: gw.proc.pid!, deviceBroker: device.pid!, platformBroker: platform.pid! };
    const cpu0 = { gw: cpuSeconds(pids.gateway), dev: cpuSeconds(pids.deviceBroker), plat: cpuSeconds(pids.platformBroker) };
    const start = performance.now();
    const gen = await startProcess(BUN, [new URL("./load-gen.ts", import.meta.url).pathname, device.url, String(DEVICES), String(KEYS - 1), String(MESSAGES), String(RATE)], { ready: /"rate"/, timeoutMs: 600000 });
    const genOut = JSON.parse(gen.output().trim().split("\n").pop()!);
    let peakRss = rssMb(pids.gateway);
    while (messages < MESSAGES) {
      await new Promise((r) => setTimeout(r, 100));
      peakRss = Math.max(peakRss, rssMb(pids.gateway));
      if (performance.now() - start > 600000) break;
    }
    const secs = (performance.now() - start) / 1000;
    const emulatorMb = EMULATED ? emulatorRssMb(pids.gateway) : 0;
    const gwCpu = cpuSeconds(pids.gateway) - cpu0.gw;
    const devCpu = cpuSeconds(pids.deviceBroker) - cpu0.dev;
    const platCpu = cpuSeconds(pids.platformBroker) - cpu0.plat;
    return {
      storage: kind,
      messages,
      lost: MESSAGES - messages,
      outOfOrder,
      msgsPerSec: Math.round(messages / secs),
      dpPerSec: Math.round(datapoints / secs),
      generatorMsgsPerSec: Math.round(genOut.rate),
      gatewayCpuPct: Math.round((gwCpu / secs) * 100),
      deviceBrokerCpuPct: Math.round((devCpu / secs) * 100),
      platformBrokerCpuPct: Math.round((platCpu / secs) * 100),
      generatorCpuPct: Math.round((genOut.cpuSecs / secs) * 100),
      coreSecPerMillionDp: Math.round((gwCpu / (datapoints / 1e6)) * 100) / 100,
      idleRssMb: Math.round(idleRss),
      peakRssMb: Math.round(peakRss),
      // under qemu: the emulator's own share at the end of the load, and what that leaves the gateway
      ...(EMULATED ? { emulatorMb: Math.round(emulatorMb), peakGuestMb: Math.round(peakRss - emulatorMb) } : {}),
      firstTelemetryMs: Math.round(firstMs),
    };
  } finally {
    await gw?.stop();
    await counter?.close();
    await device.dispose();
    await platform.dispose();
  }
}

const rows = [];
for (const kind of KINDS) {
  const r = await run(kind);
  console.log(JSON.stringify(r));
  rows.push(r);
}
console.table(rows);
