// One platform outage under device load, measured: the gateway (MQTT connector, sqlite or file
// storage) takes `rate` messages/s from 10 devices while the platform broker is stopped for
// `outageSecs`, then started again. Shared by test/gateway/long-outage.test.ts (60 s, asserts) and
// bench/outage.ts (10 minutes by default, prints the figures).

import mqtt from "mqtt";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sensorConnector } from "../gateway/fixtures.ts";
import { mainConfig, startGatewayFrom, writeGatewayConfig, type GatewayFrom } from "./gateway.ts";
import { startMosquitto } from "./mosquitto.ts";
import type { Started } from "./process.ts";
import { DATAPOINTS_PER_MESSAGE, rssMb, sampleRss, startSeqCounter, startSeqLoad, warmUpThrough } from "./seq-load.ts";

export interface OutageOptions {
  storage: "sqlite" | "file";
  outageSecs: number;
  /** Load before the outage and after the platform returns (s). */
  liveSecs?: number;
  afterSecs?: number;
  /** Device messages/s (each DATAPOINTS_PER_MESSAGE datapoints). */
  rate?: number;
  devices?: number;
  from?: GatewayFrom;
  /** Progress lines (bench). */
  log?: (line: string) => void;
}

export interface OutageFigures {
  sent: number;
  /** Device messages never delivered (0 is the promise). */
  lost: number;
  missing: string;
  duplicates: number;
  outOfOrder: number;
  /** Platform back → first telemetry at the platform (ms). */
  resumeMs: number;
  /** Messages stored during the outage and not delivered when the platform returned. */
  backlog: number;
  /** Backlog delivered per second from the first telemetry after the return (messages/s). */
  drainRate: number;
  /** Platform back → the whole backlog delivered (ms). */
  caughtUpMs: number;
  /** The offered (live) rate (messages/s). */
  liveRate: number;
  /** RSS (MB): peak over the run, at the start and at the end of the outage. */
  peakRssMb: number;
  rssAtOutageStartMb: number;
  rssAtOutageEndMb: number;
  rssSamples: Array<[number, number]>;
  /** The gateway's reconnect delays during the outage (s), from its log. */
  retryDelays: number[];
  gatewayExited: boolean;
  output: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function storageSection(kind: "sqlite" | "file"): Record<string, unknown> {
  // upstream's shipped tb_gateway.json values (10 records per read)
  return kind === "sqlite"
    ? { type: "sqlite", data_file_path: "./data/", max_read_records_count: 10, messages_ttl_check_in_hours: 1, messages_ttl_in_days: 7 }
    : { type: "file", data_folder_path: "./data/", max_file_count: 1000, max_read_records_count: 10, max_records_per_file: 10000 };
}

export async function runOutage(opts: OutageOptions): Promise<OutageFigures> {
  const devices = opts.devices ?? 10;
  const rate = opts.rate ?? 500;
  const log = opts.log ?? (() => {});
  const device = await startMosquitto();
  const platform = await startMosquitto({ persistent: true });
  const dir = mkdtempSync(join(tmpdir(), "tbgw-long-outage-"));
  let gw: Started | undefined;
  const counter = await startSeqCounter(platform.url, devices);
  const deviceClient = await mqtt.connectAsync(device.url, { clientId: `outage-devices-${Math.random().toString(16).slice(2)}` });
  try {
    const files = writeGatewayConfig(mainConfig(platform.port, storageSection(opts.storage), [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": sensorConnector(device.port) }, dir);
    gw = await startGatewayFrom(opts.from ?? "source", files.configPath);
    const rss = sampleRss(gw.proc.pid!);
    // the connector is subscribed once a warm-up message comes through
    await warmUpThrough(deviceClient, counter);
    const load = startSeqLoad(deviceClient, devices, rate);
    await sleep((opts.liveSecs ?? 5) * 1000);
    await platform.stop();
    const down = Date.now();
    log(`platform down at ${load.sent} messages sent`);
    const rssAtOutageStartMb = rssMb(gw.proc.pid!);
    while (Date.now() - down < opts.outageSecs * 1000) {
      await sleep(Math.min(10000, opts.outageSecs * 1000 - (Date.now() - down)));
      log(`outage ${((Date.now() - down) / 1000).toFixed(0)} s: ${load.sent} sent, gateway RSS ${rssMb(gw.proc.pid!).toFixed(0)} MB`);
    }
    const rssAtOutageEndMb = rssMb(gw.proc.pid!);
    await platform.start();
    const back = Date.now();
    const atBack = load.lastSeq();
    const backlog = atBack.reduce((sum, n, d) => sum + n - counter.deliveredUpTo(d, n), 0);
    await counter.until(() => counter.lastAt > back, 60000, "telemetry after the platform returned");
    const resumedAt = counter.lastAt;
    log(`first telemetry ${resumedAt - back} ms after the platform returned; backlog ${backlog} messages`);
    await counter.until(() => counter.complete(atBack), Math.max(120000, opts.outageSecs * 1000), "the outage backlog");
    const drained = Date.now();
    const drainRate = backlog / Math.max(0.001, (drained - resumedAt) / 1000);
    log(`backlog delivered in ${((drained - resumedAt) / 1000).toFixed(1)} s (${drainRate.toFixed(0)} messages/s)`);
    const left = (opts.afterSecs ?? 5) * 1000 - (Date.now() - back);
    if (left > 0) await sleep(left);
    await load.stop();
    const final = load.lastSeq();
    await counter.until(() => counter.complete(final), 60000, "every message after the load stopped").catch(() => {});
    rss.stop();
    const output = gw.output();
    const retryDelays = [...output.matchAll(/platform [^\n]*; retrying in ([\d.]+) s/g)].map((m) => Number(m[1]));
    return {
      ...counter.tally(final),
      resumeMs: resumedAt - back,
      backlog,
      drainRate,
      caughtUpMs: drained - back,
      liveRate: rate,
      peakRssMb: rss.peak(),
      rssAtOutageStartMb,
      rssAtOutageEndMb,
      rssSamples: rss.samples,
      retryDelays,
      gatewayExited: gw.proc.exitCode !== null,
      output,
    };
  } finally {
    await gw?.stop();
    await deviceClient.endAsync(true).catch(() => {});
    await counter.close();
    await device.dispose();
    await platform.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

export { DATAPOINTS_PER_MESSAGE };
