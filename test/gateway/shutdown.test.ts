// SIGTERM under load with memory storage: a prompt clean exit (code 0) and a log line saying how
// many records were still unsent (memory storage loses them by design; see README).

import { expect, test } from "bun:test";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { seqByDevice, sensorConnector, startWorld } from "./fixtures.ts";

test("SIGTERM with a backlog (memory storage, rate-limited platform): exit 0 within a few seconds, unsent count logged", async () => {
  // A slow platform (4 telemetry publishes/s, small payloads) keeps a backlog in storage.
  const world = await startWorld({ sessionLimits: { maxPayloadSize: 300, maxInflightMessages: 100, rateLimits: {}, gatewayRateLimits: { telemetryMessages: "5:1" } } });
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), {
      "sensors.json": sensorConnector(world.device.port),
    });
    gw = await startGateway(files.configPath);
    const total = 300;
    // the connector subscribes just after start: resend seq 1 until it shows up, then the load
    for (let i = 0; i < 50 && !world.harness.telemetry().some((r) => r.device === "load-0"); i++) {
      await world.deviceClient.publishAsync("sensors/load-0", JSON.stringify({ seq: 1 }), { qos: 1 });
      await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === "load-0"), 300, "first telemetry").catch(() => {});
    }
    for (let s = 2; s <= total; s++) await world.deviceClient.publishAsync("sensors/load-0", JSON.stringify({ seq: s, k1: s, k2: s, k3: s, k4: s }), { qos: 1 });
    // every message is in storage once the connector logged nothing new and the platform sees a few publishes
    await world.harness.waitFor((h) => h.received.filter((r) => r.topic === "v1/gateway/telemetry").length >= 6, 10000, "some telemetry under load");
    const exited = new Promise<number | null>((resolve) => gw!.proc.once("exit", (code) => resolve(code)));
    const t0 = Date.now();
    gw.proc.kill("SIGTERM");
    const code = await exited;
    const took = Date.now() - t0;
    const out = gw.output();
    expect(code, out.slice(-2000)).toBe(0);
    expect(took).toBeLessThan(5000);
    const m = out.match(/(\d+) records? (?:were )?still unsent/);
    expect(m, out.slice(-2000)).not.toBeNull();
    const unsent = Number(m![1]);
    const delivered = new Set(seqByDevice(world.harness).get("load-0") ?? []).size;
    expect(unsent).toBeGreaterThan(0);
    // every record is either delivered or counted as unsent (in-flight ones may be both)
    expect(delivered + unsent).toBeGreaterThanOrEqual(total);
    expect(out).toMatch(/memory storage/);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 40000);
