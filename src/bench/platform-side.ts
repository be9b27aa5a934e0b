// The platform side of `tb-gw bench`, in a process of its own: the embedded platform endpoint
// (aedes) when no --broker is given, and the subscriber that counts what the platform side
// received. A gateway never hosts its platform, so the bench's RSS and CPU figures are of the
// engine alone; this process reports its own figures beside them. Keeping the broker and the
// counter (which parses every publish) in the engine's process added ~20 MB to its peak RSS and
// shared its core.
//
// Protocol (NDJSON): the child prints {"port":N} when ready; the parent writes
// {"settle":DATAPOINTS,"timeoutMs":T} and gets {"datapoints","messages","rssMB","cpuMs"} once the
// counter has seen DATAPOINTS (or T passed); closing stdin stops the child.

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import mqtt from "mqtt";
import { PeakRss } from "./measure.ts";
import { errorText } from "../observe/logger.ts";

export interface PlatformCount {
  datapoints: number;
  messages: number;
  rssMB: number;
  cpuMs: number;
}

export interface PlatformSide {
  /** Port of the embedded endpoint, or of the --broker URL. */
  url: string;
  /** Counts once the platform side has seen `datapoints` (bounded by timeoutMs). */
  settle(datapoints: number, timeoutMs: number): Promise<PlatformCount>;
  close(): Promise<void>;
}

/** Starts the platform side in a child process (the same executable, or bun with this file). */
export async function startPlatformSide(broker?: string): Promise<PlatformSide> {
  // In the single executable modules live under /$bunfs/: the child is `tb-gw bench --platform-side`.
  const compiled = import.meta.url.includes("$bunfs");
  const args = [...(compiled ? ["bench", "--platform-side"] : [join(import.meta.dir, "platform-side.ts")]), ...(broker ? ["--broker", broker] : [])];
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(l: string) => void> = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const next = (what: string, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the bench's platform-side process did not answer (${what}) within ${timeoutMs / 1000} s`)), timeoutMs);
      const onExit = (code: number | null) => reject(new Error(`the bench's platform-side process exited (code ${code}) before ${what}`));
      child.once("exit", onExit);
      waiting.push((l) => {
        clearTimeout(t);
        child.off("exit", onExit);
        try {
          const o = JSON.parse(l);
          if (o.error) reject(new Error(o.error));
          else resolve(o);
        } catch {
          reject(new Error(`the bench's platform-side process wrote ${JSON.stringify(l.slice(0, 200))}`));
        }
      });
    });
  let ready: Record<string, unknown>;
  try {
    ready = await next("being ready", 20000);
  } catch (e) {
    stop(child);
    throw e;
  }
  return {
    url: broker ?? `mqtt://127.0.0.1:${ready.port}`,
    async settle(datapoints, timeoutMs) {
      const answer = next("counting", timeoutMs + 5000);
      child.stdin!.write(`${JSON.stringify({ settle: datapoints, timeoutMs })}\n`);
      return (await answer) as unknown as PlatformCount;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.stdin!.end();
      const t = setTimeout(() => stop(child), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

function stop(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** The child: runs until stdin closes. */
export async function runPlatformSide(broker?: string): Promise<void> {
  const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  let platform: { port: number; close(): Promise<void> } | undefined;
  let client: mqtt.MqttClient | undefined;
  const rss = new PeakRss();
  try {
    platform = broker ? undefined : await (await import("../demo/platform.ts")).startDemoPlatform(0);
    const url = broker ?? `mqtt://127.0.0.1:${platform!.port}`;
    // mqtt.js parses a URL string with Node's deprecated url.parse (DEP0169 printed to the user's
    // terminal by the binary); WHATWG URL here, and mqtt.js gets the parts
    const u = new URL(url);
    const protocol = u.protocol.replace(":", "") as "mqtt" | "mqtts";
    client = await mqtt.connectAsync({ protocol, host: u.hostname, port: Number(u.port) || (protocol === "mqtts" ? 8883 : 1883), clientId: `tbgw-bench-counter-${process.pid}`, reconnectPeriod: 0 });
    let datapoints = 0;
    let messages = 0;
    let waiter: (() => void) | undefined;
    client.on("message", (_t, payload) => {
      messages++;
      try {
        const body = JSON.parse(payload.toString()) as Record<string, Array<{ values: Record<string, unknown> }>>;
        for (const entries of Object.values(body)) for (const e of entries) for (const _ in e.values) datapoints++;
      } catch {
        // not ours
      }
      waiter?.();
    });
    await client.subscribeAsync("v1/gateway/telemetry", { qos: 1 });
    out({ port: platform ? platform.port : Number(new URL(url).port || 1883) });
    const cpu0 = process.cpuUsage();
    const input = createInterface({ input: process.stdin });
    for await (const line of input) {
      let req: { settle?: number; timeoutMs?: number };
      try {
        req = JSON.parse(line);
      } catch {
        continue;
      }
      const want = Number(req.settle ?? 0);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Number(req.timeoutMs ?? 5000));
        waiter = () => {
          if (datapoints < want) return;
          clearTimeout(t);
          resolve();
        };
        waiter();
      });
      waiter = undefined;
      const cpu = process.cpuUsage(cpu0);
      out({ datapoints, messages, rssMB: Math.round(rss.peak() / 104857.6) / 10, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
    }
  } catch (e) {
    out({ error: `platform side: ${errorText(e)}` });
  } finally {
    await client?.endAsync(true).catch(() => {});
    await platform?.close().catch(() => {});
  }
}

if (import.meta.main) {
  const i = process.argv.indexOf("--broker");
  await runPlatformSide(i > 0 ? process.argv[i + 1] : undefined);
  process.exit(0);
}
