// A long run under steady device load with a platform outage at fixed intervals, sampling the
// gateway's RSS and CPU every `sampleSecs`: memory must not creep, nothing may be lost. Shared by
// test/gateway/soak.test.ts (2 minutes) and bench/soak.ts (an hour by default, with a plot).

import mqtt from "mqtt";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sensorConnector } from "../gateway/fixtures.ts";
import { mainConfig, startGatewayFrom, writeGatewayConfig, type GatewayFrom } from "./gateway.ts";
import { startMosquitto } from "./mosquitto.ts";
import { storageSection } from "./outage-scenario.ts";
import type { Started } from "./process.ts";
import { rssMb, startSeqCounter, startSeqLoad, warmUpThrough } from "./seq-load.ts";

export interface SoakOptions {
  minutes: number;
  /** Device messages/s (5 datapoints each). */
  rate: number;
  /** A platform outage of `outageSecs` starts every `outageEveryMin` minutes (not at the start). */
  outageEveryMin: number;
  outageSecs: number;
  sampleSecs?: number;
  /** Samples before this are warm-up, not counted in the growth. */
  warmUpSecs: number;
  storage?: "sqlite" | "file";
  from?: GatewayFrom;
  log?: (line: string) => void;
}

export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  rssMb: number;
  /** Gateway CPU over the last interval, % of one core. */
  cpuPercent: number;
  platformUp: boolean;
}

export interface SoakFigures {
  sent: number;
  lost: number;
  missing: string;
  duplicates: number;
  outOfOrder: number;
  samples: SoakSample[];
  /** RSS growth from the first to the last steady sample after warm-up (%). */
  rssGrowthPercent: number;
  steadyFirstMb: number;
  steadyLastMb: number;
  meanCpuPercent: number;
  output: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

export async function runSoak(opts: SoakOptions): Promise<SoakFigures> {
  const devices = 10;
  const sampleSecs = opts.sampleSecs ?? 10;
  const log = opts.log ?? (() => {});
  const device = await startMosquitto();
  const platform = await startMosquitto({ persistent: true });
  const dir = mkdtempSync(join(tmpdir(), "tbgw-soak-"));
  const counter = await startSeqCounter(platform.url, devices);
  const deviceClient = await mqtt.connectAsync(device.url, { clientId: `soak-devices-${Math.random().toString(16).slice(2)}` });
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(platform.port, storageSection(opts.storage ?? "sqlite"), [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": sensorConnector(device.port) }, dir);
    gw = await startGatewayFrom(opts.from ?? "source", files.configPath);
    const pid = gw.proc.pid!;
    await warmUpThrough(deviceClient, counter);
    const load = startSeqLoad(deviceClient, devices, opts.rate);
    const t0 = Date.now();
    const samples: SoakSample[] = [];
    let up = true;
    let lastCpu = cpuSeconds(pid);
    let lastAt = Date.now();
    const end = t0 + opts.minutes * 60_000;
    let nextOutage = t0 + opts.outageEveryMin * 60_000;
    let outageEnds = 0;
    let nextSample = t0 + sampleSecs * 1000;
    while (Date.now() < end) {
      await sleep(Math.max(0, Math.min(nextSample, up ? nextOutage : outageEnds, end) - Date.now()));
      const now = Date.now();
      if (up && now >= nextOutage && now < end) {
        await platform.stop();
        up = false;
        outageEnds = Date.now() + opts.outageSecs * 1000;
        nextOutage += opts.outageEveryMin * 60_000;
        log(`${((Date.now() - t0) / 1000).toFixed(0)} s: platform down`);
      } else if (!up && now >= outageEnds) {
        await platform.start();
        up = true;
        log(`${((Date.now() - t0) / 1000).toFixed(0)} s: platform back`);
      }
      if (Date.now() >= nextSample) {
        const cpu = cpuSeconds(pid);
        const at = Date.now();
        samples.push({ t: Math.round((at - t0) / 1000), rssMb: rssMb(pid), cpuPercent: ((cpu - lastCpu) / ((at - lastAt) / 1000)) * 100, platformUp: up });
        lastCpu = cpu;
        lastAt = at;
        nextSample += sampleSecs * 1000;
        const s = samples.at(-1)!;
        log(`${s.t} s: RSS ${s.rssMb.toFixed(0)} MB, CPU ${s.cpuPercent.toFixed(0)} %, ${load.sent} sent, ${counter.distinct} delivered`);
      }
    }
    if (!up) await platform.start();
    await load.stop();
    const final = load.lastSeq();
    await counter.until(() => counter.complete(final), 120_000, "every message after the soak").catch(() => {});
    // steady: after warm-up, platform up and not within 30 s of an outage (the drain peaks)
    const outages = samples.filter((s, i) => !s.platformUp && (i === 0 || samples[i - 1]!.platformUp)).map((s) => s.t);
    const steady = samples.filter((s) => s.t >= opts.warmUpSecs && s.platformUp && !outages.some((o) => s.t >= o && s.t <= o + opts.outageSecs + 30));
    const first = steady[0]?.rssMb ?? 0;
    const last = steady.at(-1)?.rssMb ?? 0;
    return {
      ...counter.tally(final),
      samples,
      rssGrowthPercent: first ? ((last - first) / first) * 100 : 0,
      steadyFirstMb: first,
      steadyLastMb: last,
      meanCpuPercent: samples.reduce((a, s) => a + s.cpuPercent, 0) / Math.max(1, samples.length),
      output: gw.output(),
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
