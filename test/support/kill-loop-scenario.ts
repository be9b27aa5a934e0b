// The gateway killed with SIGKILL at seeded random moments, again and again, under device load,
// and started again each time (sqlite or file storage, a lasting device-broker session): what was stored
// survives each kill, what was not acknowledged to the device broker is delivered again by it.
// Shared by test/gateway/kill-loop.test.ts and bench/kill-loop.ts.

import mqtt from "mqtt";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sensorConnector } from "../gateway/fixtures.ts";
import { mainConfig, startGatewayFrom, writeGatewayConfig, type GatewayFrom } from "./gateway.ts";
import { startMosquitto } from "./mosquitto.ts";
import type { Started } from "./process.ts";
import { storageSection } from "./outage-scenario.ts";
import { seededRandom } from "./seeded-random.ts";
import { startSeqCounter, startSeqLoad, warmUpThrough } from "./seq-load.ts";

export interface KillLoopOptions {
  kills: number;
  seed: number;
  storage?: "sqlite" | "file";
  /** Device messages/s (5 datapoints each). */
  rate?: number;
  devices?: number;
  from?: GatewayFrom;
  /** Each run lasts a random time in [minRunMs, maxRunMs) after "gateway started". */
  minRunMs?: number;
  maxRunMs?: number;
  log?: (line: string) => void;
}

export interface KillLoopFigures {
  sent: number;
  lost: number;
  missing: string;
  duplicates: number;
  outOfOrder: number;
  /** How long each run lasted before its kill (ms). */
  runMs: number[];
  /** From the last start to every message delivered (ms). */
  settleMs: number;
  /** Lines with an empty error text or a crash, over all runs (must be none). */
  problems: string[];
  output: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runKillLoop(opts: KillLoopOptions): Promise<KillLoopFigures> {
  const devices = opts.devices ?? 10;
  const random = seededRandom(opts.seed);
  const log = opts.log ?? (() => {});
  const device = await startMosquitto();
  const platform = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), "tbgw-kill-loop-"));
  const counter = await startSeqCounter(platform.url, devices);
  const deviceClient = await mqtt.connectAsync(device.url, { clientId: `kill-loop-devices-${Math.random().toString(16).slice(2)}` });
  let gw: Started | undefined;
  const problems: string[] = [];
  let output = "";
  const start = async () => startGatewayFrom(opts.from ?? "binary", files.configPath, { timeoutMs: 30000 });
  // a fixed client id and a lasting session: the device broker keeps what the gateway did not acknowledge
  const connector = sensorConnector(device.port, { broker: { clientId: `tbgw-kill-loop-${opts.seed}`, cleanSession: false } });
  const files = writeGatewayConfig(mainConfig(platform.port, storageSection(opts.storage ?? "sqlite"), [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": connector }, dir);
  try {
    gw = await start();
    await warmUpThrough(deviceClient, counter);
    const load = startSeqLoad(deviceClient, devices, opts.rate ?? 500);
    const runMs: number[] = [];
    for (let k = 0; k < opts.kills; k++) {
      const ms = Math.round((opts.minRunMs ?? 300) + random() * ((opts.maxRunMs ?? 2000) - (opts.minRunMs ?? 300)));
      await sleep(ms);
      if (gw.proc.exitCode !== null) problems.push(`run ${k + 1}: the gateway exited by itself (${gw.proc.exitCode})`);
      await gw.stop("SIGKILL").catch((e: Error) => problems.push(e.message));
      output += gw.output();
      runMs.push(ms);
      log(`kill ${k + 1}/${opts.kills} after ${ms} ms: ${load.sent} sent, ${counter.distinct} delivered, ${counter.duplicates} duplicates`);
      gw = await start();
    }
    const last = Date.now();
    await load.stop();
    const final = load.lastSeq();
    await counter.until(() => counter.complete(final), 60000, "every message after the last restart").catch(() => {});
    const settleMs = Date.now() - last;
    await gw.stop().catch((e: Error) => problems.push(e.message));
    output += gw.output();
    gw = undefined;
    return {
      ...counter.tally(final),
      runMs,
      settleMs,
      problems,
      output,
    };
  } finally {
    await gw?.stop().catch(() => {});
    await deviceClient.endAsync(true).catch(() => {});
    await counter.close();
    await device.dispose();
    await platform.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
