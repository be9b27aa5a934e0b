// `tb-gw bench`: drives the real uplink engine (pipeline → report strategy → storage → sender →
// platform client) with synthetic device data and measures what the platform acknowledged.
// Each device message is one ConvertedData with `keys` telemetry values stamped with its intake
// time, so the acknowledged records tell their own intake→PUBACK latency.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConvertedData } from "../core/model.ts";
import { setStderrLogging } from "../observe/logger.ts";
import { createEngine, whenPlatformReady, type StorageKind } from "./engine.ts";
import { dirBytes, LatencyRecorder, PeakRss } from "./measure.ts";
import { startPlatformSide } from "./platform-side.ts";
import { formatTable, type BenchResult } from "./report.ts";

export interface BenchOptions {
  duration: number;
  devices: number;
  keys: number;
  /** Datapoints per second offered; 0 = as fast as the engine takes them. */
  rate: number;
  storage: StorageKind;
  /** Approximate bytes of each value (strings); 0 = numbers. */
  payloadSize: number;
  broker?: string;
  json?: boolean;
  /** Records allowed to wait in storage before intake pauses (as-fast-as-possible mode). */
  maxDepth: number;
  quiet?: boolean;
  /** RAM the JS heap was sized for (BUN_JSC_forceRAMSize), 0 = the machine's; reported only. */
  heapRamMb?: number;
}

const CONNECTOR = "bench";

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-"));
  setStderrLogging(false);
  // The platform endpoint and the counting subscriber run in their own process (platform-side.ts):
  // the figures below are of the engine's process alone.
  const platformSide = await startPlatformSide(o.broker).catch((e) => {
    rmSync(dir, { recursive: true, force: true });
    setStderrLogging(true);
    throw e;
  });
  const url = new URL(platformSide.url);
  const gw = createEngine({ host: url.hostname, port: Number(url.port || 1883), storage: o.storage, dir, maxPayloadSizeBytes: 65536 });
  const latency = new LatencyRecorder();
  const rss = new PeakRss();
  let ackedDp = 0;
  let ackedRecords = 0;
  let recordBytes = 0;
  let lastAckAt = 0;
  let ackWaiter: (() => void) | undefined;
  gw.events.on((e) => {
    if (e.kind !== "acked") return;
    const now = Date.now();
    ackedDp += e.datapoints;
    ackedRecords += e.records;
    lastAckAt = now;
    if (e.batch) {
      latency.recordBatch(e.batch, now);
      for (const r of e.batch) recordBytes += r.length;
    }
    const w = ackWaiter;
    ackWaiter = undefined;
    w?.();
  }, ["acked"]);
  const nextAck = () => new Promise<void>((r) => (ackWaiter = r));
  try {
    await gw.start();
    await whenPlatformReady(gw);
    const values = makeValues(o.keys, o.payloadSize);
    const names = Array.from({ length: o.devices }, (_, i) => `bench-device-${String(i).padStart(5, "0")}`);
    let intakeMsgs = 0;
    let diskAtPeak = 0;
    let peakDepth = 0;
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const end = t0 + o.duration * 1000;
    const progress = setInterval(() => {
      const s = (Date.now() - t0) / 1000;
      const depth = gw.storage.depth();
      if (o.storage !== "memory" && depth > peakDepth) {
        peakDepth = depth;
        diskAtPeak = dirBytes(join(dir, "data"));
      }
      const mb = rss.sample() / 1048576;
      if (!o.quiet) process.stderr.write(`${process.stderr.isTTY ? "\r" : ""}${s.toFixed(1)} s  intake ${fmt((intakeMsgs * o.keys) / s)} dp/s  acked ${fmt(ackedDp / s)} dp/s  waiting ${fmt(depth)} records  rss ${mb.toFixed(0)} MB${process.stderr.isTTY ? "   " : "\n"}`);
    }, 500);
    // Intake: messages in slices, yielding between slices so the sender and socket progress.
    let dev = 0;
    const SLICE = 200;
    while (Date.now() < end) {
      let due = SLICE;
      if (o.rate > 0) {
        const elapsed = (Date.now() - t0) / 1000;
        due = Math.min(SLICE, Math.floor((elapsed * o.rate) / o.keys) - intakeMsgs);
        if (due <= 0) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
      } else if (gw.storage.depth() > o.maxDepth) {
        await Promise.race([nextAck(), new Promise((r) => setTimeout(r, 100))]);
        continue;
      }
      const batch: ConvertedData[] = [];
      const ts = Date.now();
      for (let i = 0; i < due; i++) {
        batch.push({ deviceName: names[dev]!, telemetry: [{ ts, values: values(intakeMsgs + i) }] });
        dev = (dev + 1) % names.length;
      }
      intakeMsgs += due;
      const stored = gw.pipeline.send(CONNECTOR, "bench", "bench", batch);
      // memory storage is durable at once; for disk storage wait as a connector acking its source would
      if (o.storage !== "memory") await stored;
      else await new Promise((r) => setImmediate(r));
    }
    const intakeSeconds = (Date.now() - t0) / 1000;
    // Drain: everything accepted must be acknowledged (bounded).
    const drainUntil = Date.now() + 60_000;
    const storedRecords = gw.pipeline.statsFor(CONNECTOR).recordsStored;
    while (ackedRecords < storedRecords && Date.now() < drainUntil) await Promise.race([nextAck(), new Promise((r) => setTimeout(r, 200))]);
    clearInterval(progress);
    if (!o.quiet && process.stderr.isTTY) process.stderr.write("\n");
    const cpu = process.cpuUsage(cpu0);
    const wall = ((lastAckAt || Date.now()) - t0) / 1000;
    const counted = await platformSide.settle(ackedDp, 5000);
    const [p50, p95, p99] = latency.percentiles([50, 95, 99]);
    const snd = gw.senderStats;
    return {
      storage: o.storage,
      devices: o.devices,
      keys: o.keys,
      rate: o.rate,
      durationSeconds: round(intakeSeconds),
      platform: o.broker ? o.broker : "embedded",
      intake: { messages: intakeMsgs, datapoints: intakeMsgs * o.keys, datapointsPerSecond: round((intakeMsgs * o.keys) / intakeSeconds) },
      delivered: { messages: snd.messagesSent, datapoints: snd.datapointsSent, messagesPerSecond: round(snd.messagesSent / wall), datapointsPerSecond: round(snd.datapointsSent / wall) },
      acked: { records: ackedRecords, datapoints: ackedDp, datapointsPerSecond: round(ackedDp / wall), recordsPerSecond: round(ackedRecords / wall) },
      platformReceived: { datapoints: counted.datapoints, messages: counted.messages },
      dropped: gw.pipeline.statsFor(CONNECTOR).dropped,
      latencyMs: { p50: p50!, p95: p95!, p99: p99!, samples: latency.count },
      peakRssMB: round(rss.peak() / 1048576),
      heapRamMb: o.heapRamMb ?? 0,
      cpuPercent: round(((cpu.user + cpu.system) / 1000 / (wall * 1000)) * 100),
      platformProcess: { peakRssMB: counted.rssMB, cpuPercent: round((counted.cpuMs / (wall * 1000)) * 100), embedded: !o.broker },
      storageBytesPerDatapoint: {
        record: round(recordBytes / Math.max(1, ackedDp)),
        // only meaningful with enough records waiting to outweigh the files' fixed overhead
        ...(o.storage !== "memory" && peakDepth >= 1000 ? { diskAtPeak: round(diskAtPeak / (peakDepth * o.keys)) } : {}),
      },
    };
  } finally {
    await gw.stop().catch(() => {});
    await platformSide.close();
    rmSync(dir, { recursive: true, force: true });
    setStderrLogging(true);
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

/** Values for message n: numbers that change every message (so ON_CHANGE strategies pass), or strings of ~size bytes. */
function makeValues(keys: number, size: number): (n: number) => Record<string, unknown> {
  const names = Array.from({ length: keys }, (_, k) => `key${k}`);
  const pad = size > 12 ? "x".repeat(size - 12) : "";
  return (n) => {
    const v: Record<string, unknown> = {};
    for (let k = 0; k < keys; k++) v[names[k]!] = pad ? `${pad}${(n * keys + k) % 1e9}` : ((n * keys + k) % 100000) / 10;
    return v;
  };
}

export { formatTable };
