// Soak: a long run at a steady device load with sqlite storage and a platform outage on a fixed
// schedule (issue #17 "Soak"). Load generator (own process) → device broker → tb-gw MQTT connector
// → sqlite → platform broker (persistent sessions, stopped and restarted for each outage) → a
// counting subscriber that checks every device's sequence numbers (loss, duplicates, order).
// Samples the gateway's RSS and CPU every `--sample` seconds into soak.csv, renders soak.png with
// gnuplot (Debian gnuplot-nox) when it is installed, and prints the figures: RSS growth after
// warm-up, CPU, backlog and drain after each outage, loss and duplicates.
// Usage: bun bench/soak.ts [--minutes 60] [--rate 10000] [--outage-every 600] [--outage 60]
//        [--sample 10] [--binary dist/tb-gw] [--out DIR]

import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import mqtt from "mqtt";
import { commandFor } from "../build/targets.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { BUN, CLI, mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startProcess, type Started } from "../test/support/process.ts";
import { cpuSeconds, rssMb } from "./proc.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const MINUTES = Number(opt("minutes", "60"));
const DP_RATE = Number(opt("rate", "10000"));
const OUTAGE_EVERY_S = Number(opt("outage-every", "600"));
const OUTAGE_S = Number(opt("outage", "60"));
const SAMPLE_S = Number(opt("sample", "10"));
const BINARY = opt("binary", "");
const OUT = resolve(opt("out", "bench/results/soak"));
const DEVICES = 10;
const DP_PER_MSG = 5; // seq, t, k0..k2
const MSG_RATE = DP_RATE / DP_PER_MSG;
const MESSAGES = Math.round(MSG_RATE * MINUTES * 60);
const PER_DEVICE = Math.ceil(MESSAGES / DEVICES) + 1;

mkdirSync(OUT, { recursive: true });
const device = await startMosquitto();
const platform = await startMosquitto({ persistent: true });
let gw: Started | undefined;
let gen: ReturnType<typeof Bun.spawn> | undefined;
let counter: mqtt.MqttClient | undefined;
try {
  // The platform side: counts each device's sequence numbers once (a bitmap per device).
  const seen = Array.from({ length: DEVICES }, () => new Uint8Array(PER_DEVICE));
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  const lastSeq = new Map<string, number>();
  counter = await mqtt.connectAsync(platform.url, { clientId: "soak-platform", clean: false, reconnectPeriod: 500 });
  counter.on("message", (topic, payload) => {
    if (topic.startsWith("v1/devices/me/rpc/request/")) {
      counter!.publish(`v1/devices/me/rpc/response/${topic.split("/").pop()}`, JSON.stringify({ maxPayloadSize: 65536, maxInflightMessages: 100 }));
      return;
    }
    if (topic !== "v1/gateway/telemetry") return;
    const body = JSON.parse(payload.toString()) as Record<string, Array<{ values: Record<string, number> }>>;
    for (const [dev, entries] of Object.entries(body)) {
      const d = Number(dev.slice(dev.lastIndexOf("-") + 1));
      for (const e of entries) {
        const seq = e.values.seq!;
        if (seen[d]![seq]) duplicates++;
        else {
          seen[d]![seq] = 1;
          delivered++;
        }
        if (seq <= (lastSeq.get(dev) ?? 0)) outOfOrder++;
        lastSeq.set(dev, seq);
      }
    }
  });
  await counter.subscribeAsync({ "v1/gateway/telemetry": { qos: 1 }, "v1/devices/me/rpc/request/+": { qos: 1 } });

  const connector = {
    broker: { host: "127.0.0.1", port: device.port, clientId: "soak-gw", version: 4, security: { type: "anonymous" } },
    mapping: [
      {
        topicFilter: "bench/+",
        subscriptionQos: 1,
        converter: {
          type: "json",
          deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "bench/(.*)", deviceProfileExpressionSource: "constant", deviceProfileExpression: "bench" },
          attributes: [],
          timeseries: ["seq", "t", "k0", "k1", "k2"].map((k) => ({ type: "integer", key: k, value: `\${${k}}` })),
        },
      },
    ],
  };
  const storage = { type: "sqlite", data_file_path: "./data/", max_read_records_count: 1000, messages_ttl_check_in_hours: 1, messages_ttl_in_days: 7 };
  const files = writeGatewayConfig(mainConfig(platform.port, storage, [{ name: "Soak", type: "mqtt", configuration: "soak.json" }], { statistics: { enable: false } }), { "soak.json": connector });
  const env = { TB_GW_LOG_LEVEL: "WARNING" };
  const run = ["run", "--config", files.configPath];
  gw = BINARY ? await startProcess(...commandFor(BINARY, run), { ready: /gateway started/, timeoutMs: 60000, env }) : await startProcess(BUN, [CLI, ...run], { ready: /gateway started/, env });
  const pid = gw.proc.pid!;
  // device names bench/dev-N: the load generator names its devices dev-<i>
  // the generator prints only when it is done: spawned, not waited for
  gen = Bun.spawn([BUN, new URL("./load-gen.ts", import.meta.url).pathname, device.url, String(DEVICES), "3", String(MESSAGES), String(MSG_RATE), "1000", "stamp"], { stdout: "ignore", stderr: "inherit" });

  const rows: string[] = ["minute,rss_mb,cpu_pct,delivered_dp_per_s,backlog_messages,platform_up"]; // delivered: datapoints/s
  const t0 = performance.now();
  let lastCpu = cpuSeconds(pid);
  let lastDelivered = 0;
  let up = true;
  let nextOutage = OUTAGE_EVERY_S;
  const outages: Array<{ at: number; backlog: number; drainedAfterS?: number }> = [];
  const endAt = MINUTES * 60;
  const offered = () => Math.min(MESSAGES, Math.round(((performance.now() - t0) / 1000) * MSG_RATE));
  for (let s = SAMPLE_S; s <= endAt; s += SAMPLE_S) {
    await Bun.sleep(Math.max(0, t0 + s * 1000 - performance.now()));
    if (up && s >= nextOutage && s + OUTAGE_S < endAt) {
      await platform.stop();
      up = false;
      outages.push({ at: s, backlog: 0 });
    } else if (!up && s >= nextOutage + OUTAGE_S) {
      outages.at(-1)!.backlog = offered() - delivered;
      await platform.start();
      up = true;
      nextOutage += OUTAGE_EVERY_S;
    }
    const last = outages.at(-1);
    if (up && last && last.drainedAfterS === undefined && offered() - delivered < MSG_RATE * 2) last.drainedAfterS = s - (last.at + OUTAGE_S);
    const cpu = cpuSeconds(pid);
    rows.push([(s / 60).toFixed(2), rssMb(pid).toFixed(1), (((cpu - lastCpu) / SAMPLE_S) * 100).toFixed(1), (((delivered - lastDelivered) * DP_PER_MSG) / SAMPLE_S).toFixed(0), String(offered() - delivered), up ? 1 : 0].join(","));
    lastCpu = cpu;
    lastDelivered = delivered;
    if (s % 60 === 0) console.log(`${s / 60} min: RSS ${rssMb(pid).toFixed(0)} MB, delivered ${delivered} of ${offered()} messages`);
  }
  // drain what is left, then count
  const drainStart = performance.now();
  while (delivered < MESSAGES && performance.now() - drainStart < 300_000) await Bun.sleep(500);
  writeFileSync(join(OUT, "soak.csv"), rows.join("\n") + "\n");
  const data = rows.slice(1).map((r) => r.split(",").map(Number));
  const warm = data.filter((r) => r[0]! >= Math.min(5, MINUTES / 4));
  const rssWarm = warm[0]?.[1] ?? NaN;
  const rssEnd = data.at(-1)?.[1] ?? NaN;
  const rssMax = Math.max(...warm.map((r) => r[1]!));
  const cpuMean = data.reduce((a, r) => a + r[2]!, 0) / data.length;
  const summary = {
    minutes: MINUTES,
    rate_dp_per_s: DP_RATE,
    messages: MESSAGES,
    delivered,
    lost: MESSAGES - delivered,
    duplicates,
    out_of_order: outOfOrder,
    rss_after_warmup_mb: rssWarm,
    rss_end_mb: rssEnd,
    rss_max_after_warmup_mb: rssMax,
    rss_growth_pct: ((rssEnd - rssWarm) / rssWarm) * 100,
    cpu_mean_pct: cpuMean,
    outages,
  };
  writeFileSync(join(OUT, "soak.json"), JSON.stringify(summary, null, 2) + "\n");
  console.log(JSON.stringify(summary, null, 2));
  const gp = spawnSync("gnuplot", ["-e", `set terminal png size 1000,600; set output '${join(OUT, "soak.png")}'; set datafile separator ','; set key autotitle columnhead; set xlabel 'minutes'; set ylabel 'RSS MB / CPU %'; set y2label 'delivered datapoints/s'; set y2tics; set ytics nomirror; plot '${join(OUT, "soak.csv")}' using 1:2 with lines lw 2 title 'RSS (MB)', '' using 1:3 with lines title 'CPU (% of a core)', '' using 1:4 axes x1y2 with lines title 'delivered dp/s'`], { encoding: "utf8" });
  console.log(gp.status === 0 ? `plot: ${join(OUT, "soak.png")}` : `no plot (gnuplot: ${gp.error?.message ?? gp.stderr})`);
} finally {
  gen?.kill();
  await gw?.stop().catch((e) => console.error(`gateway stop: ${String(e)}`));
  await counter?.endAsync(true);
  await platform.dispose();
  await device.dispose();
}
