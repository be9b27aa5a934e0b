// Scale-out figures (README "Scaling out"): N tb-gw instances sharing one device stream through an
// MQTT shared subscription ($share/tbgw/bench/+) on one mosquitto, each delivering to its own
// platform broker (test/support/fleet.ts).
//
//   bun bench/scaleout.ts throughput [--instances 1,2,3] [--messages 100000] [--binary dist/tb-gw] [--storage sqlite|memory]
//     the load generator (bench/load-gen.ts, own process) publishes as fast as acknowledgements
//     allow; per instance count: delivered messages/s, each instance's share, CPU of every process.
//   bun bench/scaleout.ts kill [--session clean,persistent,expiry] [--rate 300] [--seconds 20]
//     three instances, steady load; instance 3 is killed (-9) after 5 s and NOT restarted. Per
//     message: delivered or not by the end (+5 s grace), and for those delivered late, how late.

import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { cpuSeconds } from "./proc.ts";
import { BUN } from "../test/support/gateway.ts";
import { startFleet, tally, type Fleet } from "../test/support/fleet.ts";
import { startMosquitto, type Broker } from "../test/support/mosquitto.ts";
import { startProcess } from "../test/support/process.ts";

const args = process.argv.slice(2);
const mode = args[0] ?? "throughput";
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const BINARY = opt("binary", "");
const DEVICES = 10;
const KEYS = 5;

function connector(port: number, session: string): Record<string, unknown> {
  const broker: Record<string, unknown> = { host: "127.0.0.1", port, clientId: "bench-share", version: 4, security: { type: "anonymous" } };
  if (session === "persistent") broker.cleanSession = false;
  if (session === "expiry") Object.assign(broker, { version: 5, cleanStart: false, sessionExpiryInterval: 10 });
  return {
    broker,
    mapping: [
      {
        topicFilter: "$share/tbgw/bench/+",
        subscriptionQos: 1,
        converter: {
          type: "json",
          deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "bench/(.*)", deviceProfileExpressionSource: "constant", deviceProfileExpression: "bench" },
          timeseries: [{ type: "integer", key: "seq", value: "${seq}" }, ...Array.from({ length: KEYS - 1 }, (_, i) => ({ type: "integer", key: `k${i}`, value: `\${k${i}}` }))],
        },
      },
    ],
  };
}

/** Publish until every instance delivered a warm-up message: all of them are subscribed. */
async function warmUp(device: Broker, fleet: Fleet): Promise<void> {
  const c = await mqtt.connectAsync(device.url, { clientId: "bench-warm-up" });
  try {
    for (let i = 0; i < 400; i++) {
      await c.publishAsync("bench/warm-up", JSON.stringify({ seq: 0 }), { qos: 1 });
      if (fleet.harnesses.every((h) => h.telemetry().some((r) => r.device === "warm-up"))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("not every instance delivered the warm-up message");
  } finally {
    await c.endAsync();
  }
}

const deviceNames = Array.from({ length: DEVICES }, (_, d) => `dev-${d}`);
const delivered = (fleet: Fleet) => fleet.harnesses.map((h) => h.telemetry().filter((r) => r.key === "seq" && r.device !== "warm-up").length);

async function throughput(instances: number, messages: number) {
  const device = await startMosquitto();
  let fleet: Fleet | undefined;
  try {
    const storage = opt("storage", "sqlite") === "memory" ? { type: "memory", max_records_count: 1000000 } : { type: "sqlite", data_file_path: "./data/", max_read_records_count: 10 };
    fleet = await startFleet({ instances, connector: connector(device.port, "clean"), storage, binary: BINARY || undefined, logLevel: "WARNING" });
    await warmUp(device, fleet);
    const f = fleet;
    const pids = [...f.gateways.map((g) => g!.proc.pid!), device.pid!, ...f.platforms.map((p) => p.pid!)];
    const cpu0 = pids.map(cpuSeconds);
    const t0 = performance.now();
    const gen = await startProcess(BUN, [new URL("./load-gen.ts", import.meta.url).pathname, device.url, String(DEVICES), String(KEYS - 1), String(messages)], { ready: /"rate"/, timeoutMs: 600000 });
    const genOut = JSON.parse(gen.output().trim().split("\n").pop()!);
    while (delivered(f).reduce((a, b) => a + b, 0) < messages && performance.now() - t0 < 600000) await new Promise((r) => setTimeout(r, 50));
    const secs = (performance.now() - t0) / 1000;
    const cpu = pids.map((p, i) => Math.round(((cpuSeconds(p) - cpu0[i]!) / secs) * 100));
    const per = delivered(f);
    const total = per.reduce((a, b) => a + b, 0);
    const t = tally(f.harnesses, deviceNames, messages / DEVICES);
    return {
      instances,
      messages: total,
      lost: [...t.missing.values()].reduce((a, l) => a + l.length, 0),
      duplicates: t.duplicates,
      msgsPerSec: Math.round(total / secs),
      dpPerSec: Math.round((total * KEYS) / secs),
      generatorMsgsPerSec: Math.round(genOut.rate),
      split: per.map((n) => `${Math.round((n / total) * 100)}%`).join("/"),
      gatewaysCpuPct: cpu.slice(0, instances).join("+"),
      gatewayCoreSecPerMillionDp: Math.round((cpu.slice(0, instances).reduce((a, b) => a + b, 0) / 100 / ((total * KEYS) / secs / 1e6)) * 100) / 100,
      deviceBrokerCpuPct: cpu[instances],
      platformBrokersCpuPct: cpu.slice(instances + 1).reduce((a, b) => a + b, 0),
      generatorCpuPct: Math.round((genOut.cpuSecs / secs) * 100),
      loadAverage1m: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
    };
  } finally {
    await fleet?.dispose();
    await device.dispose();
  }
}

async function killWithoutRestart(session: string, rate: number, seconds: number) {
  const device = await startMosquitto();
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet({ instances: 3, connector: connector(device.port, session), storage: { type: "sqlite", data_file_path: "./data/" }, binary: BINARY || undefined, logLevel: "WARNING" });
    await warmUp(device, fleet);
    const f = fleet;
    // arrival time of every (device, seq)
    const sentAt = new Map<string, number>();
    const arrivedAt = new Map<string, number>();
    for (const h of f.harnesses)
      h.client.on("message", (topic, payload) => {
        if (topic !== "v1/gateway/telemetry") return;
        for (const [dev, entries] of Object.entries(JSON.parse(payload.toString()) as Record<string, Array<{ values: { seq: number } }>>))
          for (const e of entries) if (!arrivedAt.has(`${dev}/${e.values.seq}`)) arrivedAt.set(`${dev}/${e.values.seq}`, performance.now());
      });
    const pub = await mqtt.connectAsync(device.url, { clientId: "bench-kill-load" });
    const t0 = performance.now();
    let killAt = 0;
    let killing: Promise<void> | undefined;
    let sent = 0;
    const total = rate * seconds;
    for (let seq = 1; sent < total; seq++) {
      for (let d = 0; d < DEVICES && sent < total; d++, sent++) {
        sentAt.set(`dev-${d}/${seq}`, performance.now());
        pub.publish(`bench/dev-${d}`, JSON.stringify({ seq, k0: 1, k1: 2, k2: 3, k3: 4 }), { qos: 1 });
      }
      if (!killing && performance.now() - t0 > 5000) {
        killAt = performance.now();
        killing = f.kill(3);
      }
      const wait = t0 + (sent / rate) * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await killing;
    await new Promise((r) => setTimeout(r, 5000));
    await pub.endAsync();
    let lostBefore = 0;
    let lostAfter = 0;
    let late = 0;
    let maxDelayMs = 0;
    const delays: number[] = [];
    for (const [k, at] of sentAt) {
      const got = arrivedAt.get(k);
      if (got === undefined) {
        if (at < killAt) lostBefore++;
        else lostAfter++;
        continue;
      }
      const delay = got - at;
      delays.push(delay);
      if (delay > 1000) late++;
      maxDelayMs = Math.max(maxDelayMs, delay);
    }
    delays.sort((a, b) => a - b);
    const afterKill = [...sentAt.values()].filter((t) => t >= killAt).length;
    return {
      session,
      sent: sentAt.size,
      notDeliveredSentBeforeKill: lostBefore,
      notDeliveredSentAfterKill: lostAfter,
      shareOfPostKillNotDelivered: `${((lostAfter / afterKill) * 100).toFixed(1)}%`,
      deliveredLaterThan1s: late,
      p99DelayMs: Math.round(delays[Math.floor(delays.length * 0.99)] ?? 0),
      maxDelayMs: Math.round(maxDelayMs),
      observedSecondsAfterKill: Math.round((performance.now() - killAt) / 1000),
    };
  } finally {
    await fleet?.dispose();
    await device.dispose();
  }
}

const rows = [];
if (mode === "throughput") {
  for (const n of opt("instances", "1,2,3").split(",").map(Number)) {
    const r = await throughput(n, Number(opt("messages", "100000")));
    console.log(JSON.stringify(r));
    rows.push(r);
  }
} else if (mode === "kill") {
  for (const s of opt("session", "clean,persistent,expiry").split(",")) {
    const r = await killWithoutRestart(s, Number(opt("rate", "300")), Number(opt("seconds", "20")));
    console.log(JSON.stringify(r));
    rows.push(r);
  }
} else {
  console.error("usage: bun bench/scaleout.ts throughput|kill [options]; see the head of this file");
  process.exit(2);
}
console.table(rows);
