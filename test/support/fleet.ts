// Several tb-gw instances on one config (`run --instance N`), for the scale-out tests and
// bench/scaleout.ts. Each instance gets its own platform broker (TB_GW_PORT in its environment, as
// an instance-N.env file gives it under systemd) with a harness playing ThingsBoard: like a
// ThingsBoard cluster routing a device's downlink to the gateway session that last reported the
// device, the harness of instance N reaches instance N only, and what it received is what
// instance N delivered.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, CLI, mainConfig, writeGatewayConfig } from "./gateway.ts";
import { startMosquitto, type Broker } from "./mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "./platform.ts";
import { startProcess, type Started } from "./process.ts";

export interface Fleet {
  dir: string;
  configPath: string;
  /** Index i is instance i + 1. */
  platforms: Broker[];
  harnesses: PlatformHarness[];
  gateways: Array<Started | undefined>;
  /** Start (or restart) instance `n` (1-based). */
  start(n: number): Promise<Started>;
  /** kill -9 instance `n`; resolves once it is gone. Its log is kept in `logs`. */
  kill(n: number): Promise<void>;
  /** Logs of instances that were killed, by instance number. */
  logs: Map<number, string[]>;
  /**
   * Resolves true once `pred` holds, checked on every message any platform side receives (the
   * harness records it first); false after `ms`.
   */
  until(pred: () => boolean, ms: number): Promise<boolean>;
  /** Stop every instance (SIGTERM, log check) and the platform brokers; remove the config folder. */
  dispose(): Promise<void>;
}

export interface FleetOptions {
  instances: number;
  /** The MQTT connector file (upstream format). */
  connector: Record<string, unknown>;
  storage?: Record<string, unknown>;
  /** Run this executable instead of `bun cli/main.ts`. */
  binary?: string;
  logLevel?: string;
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-fleet-"));
  const platforms: Broker[] = [];
  const harnesses: PlatformHarness[] = [];
  const gateways: Array<Started | undefined> = [];
  const logs = new Map<number, string[]>();
  const main = mainConfig(0, o.storage ?? { type: "sqlite", data_file_path: "./data/" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }], {
    // every instance is its own gateway device in ThingsBoard, with its own token
    security: { type: "accessToken", accessToken: "fleet-gw-${instance}" },
  });
  main.status = { socket: join(dir, "status.sock") };
  const files = writeGatewayConfig(main, { "sensors.json": o.connector }, dir);
  const fleet: Fleet = {
    dir,
    configPath: files.configPath,
    platforms,
    harnesses,
    gateways,
    logs,
    async start(n) {
      const env = { TB_GW_LOG_LEVEL: o.logLevel ?? "INFO", TB_GW_PORT: String(platforms[n - 1]!.port) };
      const args = ["run", "--config", files.configPath, "--instance", String(n)];
      const gw = o.binary ? await startProcess(o.binary, args, { ready: /gateway started/, timeoutMs: 30000, env }) : await startProcess(BUN, [CLI, ...args], { ready: /gateway started/, timeoutMs: 30000, env });
      gateways[n - 1] = gw;
      return gw;
    },
    async kill(n) {
      const gw = gateways[n - 1];
      gateways[n - 1] = undefined;
      if (!gw) return;
      await gw.stop("SIGKILL");
      logs.set(n, [...(logs.get(n) ?? []), gw.output()]);
    },
    until(pred, ms) {
      return new Promise((resolve) => {
        const check = () => pred() && done(true);
        const done = (v: boolean) => {
          clearTimeout(timer);
          for (const h of harnesses) h.client.off("message", check);
          resolve(v);
        };
        const timer = setTimeout(() => done(false), ms);
        for (const h of harnesses) h.client.on("message", check);
        check();
      });
    },
    async dispose() {
      const errors: unknown[] = [];
      await Promise.all(gateways.map((g) => g?.stop().catch((e) => errors.push(e))));
      for (const h of harnesses) await h.close().catch(() => {});
      for (const p of platforms) await p.dispose();
      rmSync(dir, { recursive: true, force: true });
      if (errors.length) throw errors[0];
    },
  };
  try {
    for (let i = 0; i < o.instances; i++) {
      const p = await startMosquitto();
      platforms.push(p);
      harnesses.push(await startPlatformHarness(p.url));
    }
    await Promise.all(Array.from({ length: o.instances }, (_, i) => fleet.start(i + 1)));
  } catch (e) {
    await fleet.dispose().catch(() => {});
    throw e;
  }
  return fleet;
}

/** Per device, every `seq` the platform side received from any instance, in arrival order per instance. */
export function seqsByDevice(harnesses: PlatformHarness[], skip = "warm-up"): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const h of harnesses) {
    for (const row of h.telemetry()) {
      if (row.key !== "seq" || row.device.startsWith(skip)) continue;
      let l = out.get(row.device);
      if (!l) out.set(row.device, (l = []));
      l.push(Number(row.value));
    }
  }
  return out;
}

/** Messages received more than once (across all instances), and the seqs of each device missing from 1..last. */
export function tally(harnesses: PlatformHarness[], devices: string[], last: number): { duplicates: number; missing: Map<string, number[]>; received: number } {
  const seqs = seqsByDevice(harnesses);
  let duplicates = 0;
  let received = 0;
  const missing = new Map<string, number[]>();
  for (const d of devices) {
    const list = seqs.get(d) ?? [];
    received += list.length;
    const set = new Set(list);
    duplicates += list.length - set.size;
    const gone: number[] = [];
    for (let s = 1; s <= last; s++) if (!set.has(s)) gone.push(s);
    if (gone.length) missing.set(d, gone);
  }
  return { duplicates, missing, received };
}

/** `1-5,9` for a sorted list of numbers. */
export function ranges(list: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j]! + 1) j++;
    out.push(i === j ? `${list[i]}` : `${list[i]}-${list[j]}`);
    i = j + 1;
  }
  return out.join(",");
}
