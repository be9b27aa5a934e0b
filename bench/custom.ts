// Custom connector benchmark through the whole gateway: a JS custom connector (extensions/bench/)
// calls gateway.sendToStorage as fast as the gateway takes it (up to WINDOW calls in flight), each
// call one device message of KEYS telemetry datapoints → storage → Mosquitto as the platform →
// counting subscriber. Prints datapoints/s accepted by sendToStorage (the connector's view) and
// delivered to the platform, with CPU and peak RSS.
// Usage: bun bench/custom.ts [--messages N] [--keys K] [--window W] [--storage memory|sqlite|file] [--binary dist/tb-gw]

import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import type { Started } from "../test/support/process.ts";
import { cpuSeconds, rssMb } from "./proc.ts";
import { benchStorage } from "./storage-config.ts";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";

const MESSAGES = Number(option("messages", "200000"));
const KEYS = Number(option("keys", "10"));
const WINDOW = Number(option("window", "256"));
const STORAGE = option("storage", "memory");
const BINARY = option("binary", "") && resolve(option("binary", ""));

/** The connector under test: sends MESSAGES messages of KEYS keys, logs its own rate when done. */
const CONNECTOR = `
export class BenchConnector {
  constructor(gateway, config) { this.gateway = gateway; this.config = config; this.stopped = true; }
  open() {
    this.stopped = false;
    setTimeout(() => void this.run(), 500);
  }
  async run() {
    const { messages, keys, window } = this.config;
    const g = this.gateway;
    const t0 = performance.now();
    let next = 0, refused = 0;
    const worker = async () => {
      while (next < messages && !this.stopped) {
        const seq = ++next;
        const values = { seq };
        for (let k = 1; k < keys; k++) values["k" + k] = seq + k;
        const status = await g.sendToStorage(this.config.name, this.config.id, { deviceName: "bench-" + (seq % 10), deviceType: "bench", telemetry: [{ ts: 1700000000000 + seq, values }] });
        if (status !== "SUCCESS") refused++;
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
    const secs = (performance.now() - t0) / 1000;
    g.log.warning("BENCH " + JSON.stringify({ messages, refused, seconds: secs, acceptedDatapointsPerSec: Math.round((messages - refused) * keys / secs) }));
  }
  close() { this.stopped = true; }
  getName() { return this.config.name; }
  getType() { return "bench"; }
  getConfig() { return this.config; }
  isConnected() { return true; }
  isStopped() { return this.stopped; }
  onAttributesUpdate() {}
  serverSideRpcHandler() {}
}
`;

const platform = await startMosquitto();
let gw: Started | undefined;
let counter: PlatformCounter | undefined;
try {
  let datapoints = 0;
  counter = await countPlatform(platform.url, "bench-custom-platform", (body) => {
    for (const entries of Object.values(body)) for (const e of entries) datapoints += Object.keys(e.values).length;
  });

  const files = writeGatewayConfig(
    mainConfig(platform.port, benchStorage(STORAGE), [{ name: "Bench", type: "bench", class: "BenchConnector", configuration: "bench.json" }], { statistics: { enable: false } }),
    { "bench.json": { messages: MESSAGES, keys: KEYS, window: WINDOW } },
  );
  mkdirSync(join(files.dir, "extensions", "bench"), { recursive: true });
  writeFileSync(join(files.dir, "extensions", "bench", "bench.js"), CONNECTOR);
  const env = { TB_GW_LOG_LEVEL: "WARNING" };
  const t0 = performance.now();
  gw = await startBenchGateway(files.configPath, { binary: BINARY, env });
  const cpu0 = { gw: cpuSeconds(gw.proc.pid!), broker: cpuSeconds(platform.pid!) };
  const total = MESSAGES * KEYS;
  let peakRss = rssMb(gw.proc.pid!);
  let firstAt = 0;
  while (datapoints < total && performance.now() - t0 < 600_000) {
    await new Promise((r) => setTimeout(r, 100));
    if (!firstAt && datapoints > 0) firstAt = performance.now();
    peakRss = Math.max(peakRss, rssMb(gw.proc.pid!));
    if (counter.lastAt() && performance.now() - counter.lastAt() > 15_000) break;
  }
  const secs = ((counter.lastAt() || performance.now()) - (firstAt || t0)) / 1000;
  const connectorLine = /BENCH (\{.*\})/.exec(gw.output())?.[1];
  const row = {
    storage: STORAGE,
    messages: MESSAGES,
    keys: KEYS,
    window: WINDOW,
    connector: connectorLine ? JSON.parse(connectorLine) : "no BENCH line (still sending?)",
    delivered: datapoints,
    lost: total - datapoints,
    deliveredDatapointsPerSec: Math.round(datapoints / secs),
    gatewayCpuPct: Math.round(((cpuSeconds(gw.proc.pid!) - cpu0.gw) / secs) * 100),
    platformBrokerCpuPct: Math.round(((cpuSeconds(platform.pid!) - cpu0.broker) / secs) * 100),
    peakRssMb: Math.round(peakRss),
    build: BINARY ? "binary" : "source",
  };
  console.log(JSON.stringify(row));
} finally {
  await gw?.stop();
  await counter?.close();
  await platform.dispose();
}
