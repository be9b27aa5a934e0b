// XMPP connector benchmark through the whole gateway: a slixmpp device (own process) sends N JSON
// chat messages as fast as it can → Prosody (Debian, started here on free loopback ports) →
// tb-gw (XMPP connector, STARTTLS verified with the test CA) → memory storage → Mosquitto as the
// platform → counting subscriber. Prints messages/s delivered to the platform (every message
// counted, order checked per device), and the CPU of the gateway, Prosody and the devices.
// Usage: bun bench/xmpp.ts [--messages N per device] [--devices D] [--storage memory|sqlite|file] [--binary dist/tb-gw]

import { readFileSync } from "node:fs";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import type { Started } from "../test/support/process.ts";
import { waitUntil } from "../test/support/poll.ts";
import { startDevice, type XmppDevice } from "../src/connectors/xmpp/test/device.ts";
import { startProsody, type Prosody } from "../src/connectors/xmpp/test/prosody.ts";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";
import { cpuSeconds, rssMb } from "./proc.ts";
import { benchStorage } from "./storage-config.ts";

const MESSAGES = Number(option("messages", "20000"));
const BINARY = option("binary", "");
const DEVICES = Number(option("devices", "1"));
const STORAGE = option("storage", "memory");

const platform = await startMosquitto();
let prosody: Prosody | undefined;
let gw: Started | undefined;
const devices: XmppDevice[] = [];
let counter: PlatformCounter | undefined;
try {
  prosody = await startProsody({ accounts: { gateway: "gw-secret", device: "dev-secret" } });
  const jids = Array.from({ length: DEVICES }, (_, k) => `device@localhost/bench-${k}`);
  let received = 0;
  let outOfOrder = 0;
  const last = new Map<string, number>();
  counter = await countPlatform<{ seq: number }>(platform.url, "bench-xmpp-platform", (body) => {
    for (const [name, entries] of Object.entries(body)) {
      for (const e of entries) {
        if (e.values.seq <= (last.get(name) ?? -1)) outOfOrder++;
        last.set(name, e.values.seq);
        received++;
      }
    }
  });

  const xmppCfg = {
    server: { jid: "gateway@localhost", password: "gw-secret", host: "127.0.0.1", port: prosody.port, ca_cert: prosody.certPath },
    devices: jids.map((jid) => ({ jid, deviceNameExpression: "${serialNumber}", deviceTypeExpression: "default", timeseries: [{ key: "seq", value: "${seq}" }, { key: "temperature", value: "${temp}" }] })),
  };
  const storage = benchStorage(STORAGE);
  const files = writeGatewayConfig(mainConfig(platform.port, storage, [{ name: "XMPP", type: "xmpp", configuration: "xmpp.json" }], { statistics: { enable: false } }), { "xmpp.json": xmppCfg });
  const env = { TB_GW_LOG_LEVEL: "INFO" };
  gw = await startBenchGateway(files.configPath, { binary: BINARY, env });
  await waitUntil(() => /\[XMPP\] logged in/.test(gw!.output()), 30_000, "the gateway's XMPP session", 50);
  for (const jid of jids) devices.push(startDevice(jid, "dev-secret", prosody.port, "gateway@localhost"));
  for (const d of devices) await d.ready();

  const total = MESSAGES * DEVICES;
  const pids = { gw: gw.proc.pid!, prosody: prosody.pid()! };
  const deviceCpu = () => devices.reduce((sum, d) => sum + cpuSeconds(d.pid), 0);
  const cpu0 = { gw: cpuSeconds(pids.gw), prosody: cpuSeconds(pids.prosody), devices: deviceCpu() };
  const t0 = performance.now();
  devices.forEach((d, k) => d.burst(MESSAGES, `{"serialNumber":"bench-${k}","seq":{i},"temp":21.5}`));
  let peakRss = rssMb(pids.gw);
  while (received < total && performance.now() - t0 < 600_000) {
    await new Promise((r) => setTimeout(r, 100));
    peakRss = Math.max(peakRss, rssMb(pids.gw));
    if (counter.lastAt() && performance.now() - counter.lastAt() > 15_000) break;
  }
  const secs = ((counter.lastAt() || performance.now()) - t0) / 1000;
  console.log(
    JSON.stringify({
      devices: DEVICES,
      messages: total,
      delivered: received,
      lost: total - received,
      outOfOrder,
      messagesPerSec: Math.round(received / secs),
      seconds: +secs.toFixed(2),
      gatewayCpuPct: Math.round(((cpuSeconds(pids.gw) - cpu0.gw) / secs) * 100),
      prosodyCpuPct: Math.round(((cpuSeconds(pids.prosody) - cpu0.prosody) / secs) * 100),
      devicesCpuPct: Math.round(((deviceCpu() - cpu0.devices) / secs) * 100),
      // CPU per delivered message: a figure that a loaded machine distorts less than messages/s
      gatewayCpuUsPerMessage: Math.round(((cpuSeconds(pids.gw) - cpu0.gw) * 1e6) / Math.max(1, received)),
      prosodyCpuUsPerMessage: Math.round(((cpuSeconds(pids.prosody) - cpu0.prosody) * 1e6) / Math.max(1, received)),
      loadAverage1m: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
      peakRssMb: Math.round(peakRss),
      storage: STORAGE,
      build: BINARY ? "binary" : "source",
    }),
  );
} finally {
  for (const d of devices) await d.stop();
  await gw?.stop();
  await counter?.close();
  await prosody?.stop();
  await platform.dispose();
}
