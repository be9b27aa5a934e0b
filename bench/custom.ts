// Custom connector benchmark through the whole gateway: a JS custom connector (extensions/bench/)
// calls gateway.sendToStorage as fast as the gateway takes it (up to WINDOW calls in flight), each
// call one device message of KEYS telemetry datapoints → storage → Mosquitto as the platform →
// counting subscriber. Prints datapoints/s accepted by sendToStorage (the connector's view) and
// delivered to the platform, with CPU and peak RSS.
// Usage: bun bench/custom.ts [--messages N] [--keys K] [--window W] [--storage memory|sqlite|file] [--binary dist/tb-gw]

import mqtt from "mqtt";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { BUN, CLI, mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startProcess, type Started } from "../test/support/process.ts";
import { cpuSeconds, rssMb } from "./proc.ts";
import { benchStorage } from "./storage-config.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const MESSAGES = Number(opt("messages", "200000"));
const KEYS = Number(opt("keys", "10"));
const WINDOW = Number(opt("window", "256"));
const STORAGE = opt("storage", "memory");
const BINARY = opt("binary", "") && resolve(opt("binary", ""));

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
let counter: mqtt.MqttClient | undefined;
try {
  counter = await mqtt.connectAsync(platform.url, { clientId: "bench-custom-platform" });
  let datapoints = 0;
  let lastAt = 0;
  counter.on("message", (topic, payload) => {
    if (topic.startsWith("v1/devices/me/rpc/request/")) {
      counter!.publish(`v1/devices/me/rpc/response/${topic.split("/").pop()}`, JSON.stringify({ maxPayloadSize: 65536, maxInflightMessages: 100 }));
      return;
    }
    if (topic !== "v1/gateway/telemetry") return;
    const body = JSON.parse(payload.toString()) as Record<string, Array<{ values: Record<string, unknown> }>>;
    for (const entries of Object.values(body)) for (const e of entries) datapoints += Object.keys(e.values).length;
    lastAt = performance.now();
  });
  await counter.subscribeAsync({ "v1/gateway/telemetry": { qos: 1 }, "v1/devices/me/rpc/request/+": { qos: 1 } });

  const files = writeGatewayConfig(
    mainConfig(platform.port, benchStorage(STORAGE), [{ name: "Bench", type: "bench", class: "BenchConnector", configuration: "bench.json" }], { statistics: { enable: false } }),
    { "bench.json": { messages: MESSAGES, keys: KEYS, window: WINDOW } },
  );
  mkdirSync(join(files.dir, "extensions", "bench"), { recursive: true });
  writeFileSync(join(files.dir, "extensions", "bench", "bench.js"), CONNECTOR);
  const env = { TB_GW_LOG_LEVEL: "WARNING" };
  const t0 = performance.now();
  gw = BINARY
    ? await startProcess(BINARY, ["run", "--config", files.configPath], { ready: /gateway started/, env, cwd: files.dir })
    : await startProcess(BUN, [CLI, "run", "--config", files.configPath], { ready: /gateway started/, env });
  const cpu0 = { gw: cpuSeconds(gw.proc.pid!), broker: cpuSeconds(platform.pid!) };
  const total = MESSAGES * KEYS;
  let peakRss = rssMb(gw.proc.pid!);
  let firstAt = 0;
  while (datapoints < total && performance.now() - t0 < 600_000) {
    await new Promise((r) => setTimeout(r, 100));
    if (!firstAt && datapoints > 0) firstAt = performance.now();
    peakRss = Math.max(peakRss, rssMb(gw.proc.pid!));
    if (lastAt && performance.now() - lastAt > 15_000) break;
  }
  const secs = ((lastAt || performance.now()) - (firstAt || t0)) / 1000;
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
  await counter?.endAsync(true);
  await platform.dispose();
}
