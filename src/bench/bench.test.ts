// `tb-gw bench` as a user runs it, against a real Mosquitto as the platform side; a subscriber of
// the test's own counts what the broker actually carried.
import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import mqtt from "mqtt";
import { BUN, CLI } from "../../test/support/gateway.ts";
import { startMosquitto } from "../../test/support/mosquitto.ts";

test("bench for 5 s reports non-zero figures that match what the platform-side broker received", async () => {
  const broker = await startMosquitto();
  const counter = await mqtt.connectAsync(broker.url, { clientId: `bench-test-counter-${process.pid}` });
  let proc: ReturnType<typeof spawn> | undefined;
  try {
    let datapoints = 0;
    let messages = 0;
    const devices = new Set<string>();
    counter.on("message", (_t, payload) => {
      messages++;
      for (const [dev, entries] of Object.entries(JSON.parse(payload.toString()) as Record<string, Array<{ values: Record<string, unknown> }>>)) {
        devices.add(dev);
        for (const e of entries) datapoints += Object.keys(e.values).length;
      }
    });
    await counter.subscribeAsync("v1/gateway/telemetry", { qos: 1 });
    proc = spawn(BUN, [CLI, "bench", "--duration", "5", "--devices", "50", "--keys", "4", "--storage", "sqlite", "--broker", broker.url, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout!.on("data", (b) => (out += b));
    proc.stderr!.on("data", (b) => (err += b));
    const code = await new Promise<number | null>((r) => proc!.on("exit", (c) => r(c)));
    expect(code, err).toBe(0);
    const r = JSON.parse(out);
    expect(r.acked.datapoints).toBeGreaterThan(0);
    expect(r.acked.datapointsPerSecond).toBeGreaterThan(0);
    expect(r.delivered.messagesPerSecond).toBeGreaterThan(0);
    expect(r.latencyMs.p99).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
    expect(r.peakRssMB).toBeGreaterThan(0);
    expect(r.cpuPercent).toBeGreaterThan(0);
    expect(r.storageBytesPerDatapoint.record).toBeGreaterThan(0);
    // nothing lost: all intake was acked, and the broker carried exactly what the bench says
    expect(r.dropped).toBe(0);
    expect(r.acked.datapoints).toBe(r.intake.datapoints);
    expect(r.delivered.datapoints).toBe(r.acked.datapoints);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`broker carried ${datapoints} datapoints, bench acked ${r.acked.datapoints}`)), 10000);
      const check = () => {
        if (datapoints >= r.acked.datapoints) {
          clearTimeout(t);
          resolve();
        }
      };
      counter.on("message", check);
      check();
    });
    expect(datapoints).toBe(r.acked.datapoints);
    expect(messages).toBe(r.delivered.messages);
    expect(r.platformReceived.datapoints).toBe(datapoints);
    expect(devices.size).toBe(50);
    // the counter ran in the platform-side process; the engine's heap was sized for 2 GB (default)
    expect(r.platformProcess).toMatchObject({ embedded: false });
    expect(r.platformProcess.peakRssMB).toBeGreaterThan(0);
    expect(r.heapRamMb).toBe(2048);
  } finally {
    if (proc && proc.exitCode === null) proc.kill("SIGKILL");
    await counter.endAsync(true).catch(() => {});
    await broker.dispose();
  }
}, 60000);

test("bench with the embedded platform endpoint (its own process) counts what it acknowledged", async () => {
  const proc = spawn(BUN, [CLI, "bench", "--duration", "2", "--devices", "20", "--keys", "3", "--heap-ram-mb", "0", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    let out = "";
    let err = "";
    proc.stdout!.on("data", (b) => (out += b));
    proc.stderr!.on("data", (b) => (err += b));
    const code = await new Promise<number | null>((r) => proc.on("exit", (c) => r(c)));
    expect(code, err).toBe(0);
    const r = JSON.parse(out);
    expect(r.platform).toBe("embedded");
    expect(r.heapRamMb).toBe(0);
    expect(r.acked.datapoints).toBeGreaterThan(0);
    expect(r.acked.datapoints).toBe(r.intake.datapoints);
    expect(r.platformReceived.datapoints).toBe(r.acked.datapoints);
    expect(r.platformReceived.messages).toBe(r.delivered.messages);
    expect(r.platformProcess.embedded).toBe(true);
    expect(r.platformProcess.peakRssMB).toBeGreaterThan(0);
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
}, 40000);
