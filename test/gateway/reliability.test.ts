// Nothing is lost when the platform or the gateway goes down: gateway kill -9 under load with sqlite, a platform that stops sending
// PUBACK while the connection stays up, a platform that never answers the session-limits request,
// and a refused token. (The platform outage on sqlite and file storage is long-outage.test.ts: 60 s
// there made the 20 s variants that were here redundant.)

import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import { startMosquitto } from "../support/mosquitto.ts";
import type { Started } from "../support/process.ts";
import { startStallProxy, type StallProxy } from "../support/stall-proxy.ts";
import { firstOccurrences, sensorConnector, seqByDevice, startWorld, type World } from "./fixtures.ts";

const DEVICES = 10;

/** Publish `perDevice` messages per device at roughly `rate` msgs/s overall (QoS 1), seq from 1. */
async function load(world: World, perDevice: number, rate: number, from = 1, onProgress?: (sent: number) => void): Promise<void> {
  const total = perDevice * DEVICES;
  const started = Date.now();
  let sent = 0;
  for (let s = from; s < from + perDevice; s++) {
    for (let d = 0; d < DEVICES; d++) {
      world.deviceClient.publish(`sensors/dev-${d}`, JSON.stringify({ seq: s, k1: s, k2: d, k3: s * 2, k4: 1 }), { qos: 1 });
      sent++;
    }
    onProgress?.(sent);
    const due = started + (sent / rate) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  expect(sent).toBe(total);
}

function expectComplete(world: World, perDevice: number, lastSeq = perDevice): void {
  const seqs = seqByDevice(world.harness);
  seqs.delete("warm-up");
  expect(seqs.size).toBe(DEVICES);
  for (const [device, list] of seqs) {
    const first = firstOccurrences(list);
    // every datapoint arrived …
    expect(new Set(first).size, `${device} distinct seqs`).toBe(lastSeq);
    // … in order per device
    for (let i = 1; i < first.length; i++) if (first[i]! <= first[i - 1]!) throw new Error(`${device}: seq ${first[i]} arrived after ${first[i - 1]}`);
  }
}

/** Publish a warm-up message until the platform sees it: the connector is then subscribed. */
async function warmUp(world: World): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await world.deviceClient.publishAsync("sensors/warm-up", JSON.stringify({ seq: 0 }), { qos: 1 });
    try {
      await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === "warm-up"), 300, "warm-up telemetry");
      return;
    } catch {
      // not subscribed yet
    }
  }
  throw new Error("the connector never delivered the warm-up message");
}

/** Which seqs never reached the platform, as ranges per device: the failure message says where. */
function missingReport(world: World, perDevice: number): string {
  const seqs = seqByDevice(world.harness);
  const lines: string[] = [];
  for (let d = 0; d < DEVICES; d++) {
    const got = new Set(seqs.get(`dev-${d}`) ?? []);
    const ranges: string[] = [];
    let start = 0;
    for (let s = 1; s <= perDevice + 1; s++) {
      const missing = s <= perDevice && !got.has(s);
      if (missing && !start) start = s;
      if (!missing && start) {
        ranges.push(start === s - 1 ? `${start}` : `${start}-${s - 1}`);
        start = 0;
      }
    }
    if (ranges.length) lines.push(`dev-${d} missing ${ranges.join(",")}`);
  }
  return lines.join("\n") || "nothing missing";
}

function allArrived(perDevice: number) {
  return (h: World["harness"]) => {
    const seqs = seqByDevice(h);
    seqs.delete("warm-up");
    if (seqs.size < DEVICES) return false;
    for (const list of seqs.values()) if (new Set(list).size < perDevice) return false;
    return true;
  };
}

test("gateway kill -9 under load, restarted with sqlite → nothing lost", async () => {
  const world = await startWorld({ persistent: true });
  let gw: Started | undefined;
  try {
    const connector = sensorConnector(world.device.port, { broker: { clientId: "tbgw-kill9-fixed", cleanSession: false } });
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "sqlite", data_file_path: "./data/" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": connector });
    gw = await startGateway(files.configPath);
    await warmUp(world);
    const perDevice = 400;
    let killed: Promise<void> | undefined;
    await load(world, perDevice, 400, 1, (sent) => {
      if (sent === 1500 && !killed) killed = gw!.stop("SIGKILL");
    });
    await killed;
    gw = await startGateway(files.configPath);
    await world.harness.waitFor(allArrived(perDevice), 60000, "all datapoints after kill -9 and restart").catch((e) => {
      throw new Error(`${missingReport(world, perDevice)}\n${gw!.output().slice(-3000)}\n${e.message.slice(0, 300)}`);
    });
    expectComplete(world, perDevice);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 120000);

/** Resolves when `pred` holds for the gateway's output (checked on each chunk it writes); rejects after `limitMs`. */
function waitForOutput(gw: Started, pred: (out: string) => boolean, limitMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pred(gw.output())) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${what} within ${limitMs / 1000} s:\n${gw.output().slice(-3000)}`));
    }, limitMs);
    const done = () => {
      clearTimeout(timer);
      gw.proc.stderr!.off("data", check);
      gw.proc.stdout!.off("data", check);
    };
    // the helper's own listener appends first (registered at spawn), so output() has the chunk
    gw.proc.stderr!.on("data", check);
    gw.proc.stdout!.on("data", check);
    check();
  });
}

test("platform stops sending PUBACK (pings still answered) under load, then recovers → dropped, resent, every datapoint arrives in order", async () => {
  const world = await startWorld();
  let proxy: StallProxy | undefined;
  let gw: Started | undefined;
  try {
    // gateway → proxy → platform broker; the proxy can swallow the PUBACKs coming back
    proxy = await startStallProxy(world.platform.port);
    // keep-alive 1 s: PINGREQ/PINGRESP flow through the stall; a window of 4 publishes fills at once
    const main = mainConfig(proxy.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }], { keep_alive: 1, maxInflightPublishes: 4 });
    const files = writeGatewayConfig(main, { "sensors.json": sensorConnector(world.device.port) });
    gw = await startGateway(files.configPath, [], { TB_GW_PUBACK_TIMEOUT_MS: "1500" });
    await warmUp(world);
    const warning = /WARNING .*platform 127\.0\.0\.1:\d+: no PUBACK for \d+\.\d s on \d+ publishes?; dropping the connection to resend/g;
    const warnings = (out: string) => (out.match(warning) ?? []).length;
    proxy.stalling = true;
    const perDevice = 100;
    await load(world, perDevice, 250);
    // stalled long enough for two drops: the reconnected session is watched as well
    await waitForOutput(gw, (out) => warnings(out) >= 2, 30000, "second PUBACK warning");
    proxy.stalling = false;
    expect(proxy.swallowed).toBeGreaterThan(0);
    await world.harness.waitFor(allArrived(perDevice), 60000, "all datapoints after the stall").catch((e) => {
      throw new Error(`${missingReport(world, perDevice)}\n${gw!.output().slice(-3000)}\n${e.message.slice(0, 300)}`);
    });
    expectComplete(world, perDevice);
    expect(proxy.connections).toBeGreaterThanOrEqual(3);
    // pings were answered through the stall: no keepalive drop, only the PUBACK bound
    expect(gw.output()).not.toContain("no answer to keepalive");
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await proxy?.close();
    await world.dispose();
  }
}, 120000);

test("platform connection cut every 1.5 s under load (sqlite) → every datapoint arrives in order, each reconnect within a few tries", async () => {
  const world = await startWorld();
  let proxy: StallProxy | undefined;
  let gw: Started | undefined;
  let cutter: ReturnType<typeof setInterval> | undefined;
  try {
    proxy = await startStallProxy(world.platform.port);
    const dir = mkdtempSync(join(tmpdir(), "tbgw-flap-"));
    const main = mainConfig(proxy.port, { type: "sqlite", data_file_path: "./data/data.db" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]);
    const files = writeGatewayConfig(main, { "sensors.json": sensorConnector(world.device.port) }, dir);
    gw = await startGateway(files.configPath);
    await warmUp(world);
    // the scenario: a load balancer that drops the gateway's connection every 1.5 s
    cutter = setInterval(() => proxy!.dropAll(), 1500);
    const perDevice = 150;
    await load(world, perDevice, 250);
    clearInterval(cutter);
    await world.harness.waitFor(allArrived(perDevice), 60000, "all datapoints across the cuts").catch((e) => {
      throw new Error(`${missingReport(world, perDevice)}\n${gw!.output().slice(-3000)}\n${e.message.slice(0, 300)}`);
    });
    expectComplete(world, perDevice);
    expect(proxy.connections).toBeGreaterThanOrEqual(4);
    // the backoff restarts with every good session: no cut leads to a long wait
    const delays = [...gw.output().matchAll(/platform [^\n]*; retrying in ([\d.]+) s \(attempt (\d+)/g)].map((m) => ({ s: Number(m[1]), attempt: Number(m[2]) }));
    expect(delays.length).toBeGreaterThan(0);
    expect(Math.max(...delays.map((d) => d.attempt))).toBeLessThanOrEqual(3);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    clearInterval(cutter);
    await gw?.stop();
    await proxy?.close();
    await world.dispose();
  }
}, 120000);

test("platform that never answers getSessionLimits: telemetry still flows after the timeout", async () => {
  const world = await startWorld({ answerSessionLimits: false });
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": sensorConnector(world.device.port) });
    gw = await startGateway(files.configPath);
    for (let i = 0; i < 40; i++) {
      await world.deviceClient.publishAsync("sensors/quiet-1", JSON.stringify({ seq: 1 }), { qos: 1 });
      try {
        await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === "quiet-1"), 500, "telemetry");
        break;
      } catch {
        // keep publishing until the connector subscribed and the limits wait is over
      }
    }
    expect(world.harness.telemetry().some((r) => r.device === "quiet-1")).toBe(true);
    expect(gw.output()).toMatch(/did not answer getSessionLimits/);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 60000);

test("wrong token: one clear error, growing backoff, no crash loop", async () => {
  // No anonymous access and no user database: every CONNECT is refused as not authorized.
  const broker = await startMosquitto({ extraConfig: "allow_anonymous false" });
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(broker.port, { type: "memory" }, []));
    gw = await startGateway(files.configPath);
    const started = Date.now();
    // wait for at least four retries, then look at the log
    while ((gw.output().match(/retrying in/g) ?? []).length < 4 && Date.now() - started < 30000) {
      await new Promise<void>((r) => gw!.proc.stderr!.once("data", () => r()));
    }
    const out = gw.output();
    expect((out.match(/platform refused the gateway: connection refused: (not authorized|bad user name or password)/g) ?? []).length).toBe(1);
    const delays = [...out.matchAll(/retrying in ([\d.]+) s/g)].map((m) => Number(m[1]));
    expect(delays.length).toBeGreaterThanOrEqual(4);
    expect(delays[3]!).toBeGreaterThan(delays[0]!);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await broker.dispose();
  }
}, 60000);
