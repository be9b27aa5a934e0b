// Platform limits end to end: the gateway rate limits from the session-limits answer (80 % of
// them is used) and the payload size limit (90 % of maxPayloadSizeBytes); nothing may be dropped.

import { expect, test } from "bun:test";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { firstOccurrences, sensorConnector, seqByDevice, startWorld, type World } from "./fixtures.ts";

/** Publish on `topic` until the platform shows `device` (the connector subscribes after start). */
async function warmUp(world: World, device: string, topic: string, payload: object): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await world.deviceClient.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
    try {
      await world.harness.waitFor((h) => h.received.some((r) => r.topic === "v1/gateway/telemetry" && device in r.body), 300, `${device} telemetry`);
      return;
    } catch {
      // not subscribed yet
    }
  }
  throw new Error(`no telemetry of ${device} reached the platform`);
}

function expectAllSeqs(world: World, devices: string[], perDevice: number): void {
  const seqs = seqByDevice(world.harness);
  for (const d of devices) expect(firstOccurrences(seqs.get(d) ?? []), d).toEqual(Array.from({ length: perDevice }, (_, i) => i + 1));
}

test("gatewayRateLimits telemetryMessages 10:1 → at most 8 telemetry publishes per second, all delivered", async () => {
  // Small payloads force one publish per message or two, so the limit (not packing) sets the pace.
  const world = await startWorld({
    sessionLimits: { maxPayloadSize: 300, maxInflightMessages: 100, rateLimits: {}, gatewayRateLimits: { telemetryMessages: "10:1" } },
  });
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), {
      "sensors.json": sensorConnector(world.device.port),
    });
    gw = await startGateway(files.configPath);
    await warmUp(world, "warm-up", "sensors/warm-up", { seq: 0 });
    const times: number[] = [];
    world.harness.client.on("message", (topic) => {
      if (topic === "v1/gateway/telemetry") times.push(performance.now());
    });
    const devices = ["rl-0", "rl-1", "rl-2"];
    const perDevice = 20;
    for (let s = 1; s <= perDevice; s++) for (const d of devices) world.deviceClient.publish(`sensors/${d}`, JSON.stringify({ seq: s, k1: s, k2: 2, k3: s * 2, k4: 1 }), { qos: 1 });
    await world.harness.waitFor((h) => devices.every((d) => new Set(seqByDevice(h).get(d) ?? []).size === perDevice), 30000, "all rate-limited telemetry");
    expectAllSeqs(world, devices, perDevice);
    // 60 messages in ≥ 16 publishes: without the limit they all land within a few ms.
    expect(times.length).toBeGreaterThanOrEqual(16);
    // No 9 publishes within one second (a little slack for broker delivery jitter).
    for (let i = 8; i < times.length; i++) expect(times[i]! - times[i - 8]!, `publishes ${i - 8}..${i}`).toBeGreaterThan(900);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 45000);

test("maxPayloadSizeBytes 1000: every publish ≤ 900 bytes, nothing lost (big attributes and many keys)", async () => {
  const world = await startWorld();
  let gw: Started | undefined;
  try {
    const keys = Array.from({ length: 12 }, (_, i) => `key${i}`);
    const connector = sensorConnector(world.device.port);
    const mapping = (connector.mapping as Array<Record<string, any>>)[0]!;
    mapping.converter.attributes = keys.map((k) => ({ type: "string", key: `attr_${k}`, value: `\${${k}}` }));
    mapping.converter.timeseries = [{ type: "integer", key: "seq", value: "${seq}" }, ...keys.map((k) => ({ type: "string", key: `ts_${k}`, value: `\${${k}}` }))];
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }], { maxPayloadSizeBytes: 1000 }), {
      "sensors.json": connector,
    });
    gw = await startGateway(files.configPath);
    await warmUp(world, "warm-up", "sensors/warm-up", { seq: 0 });
    const devices = ["big-0", "big-1"];
    const perDevice = 15;
    const value = (d: string, s: number, k: string) => `${d}/${s}/${k}/`.padEnd(90, "x");
    for (let s = 1; s <= perDevice; s++)
      for (const d of devices) world.deviceClient.publish(`sensors/${d}`, JSON.stringify({ seq: s, ...Object.fromEntries(keys.map((k) => [k, value(d, s, k)])) }), { qos: 1 });
    // One record split over several publishes arrives in parts: wait for every part (every key of
    // every seq, and the last attribute values), not only for every seq.
    const missingTelemetry = (h: typeof world.harness) => {
      const got = new Set(h.telemetry().map((r) => `${r.device}|${r.key}|${String(r.value)}`));
      const missing: string[] = [];
      for (const d of devices) for (let s = 1; s <= perDevice; s++) for (const k of keys) if (!got.has(`${d}|ts_${k}|${value(d, s, k)}`)) missing.push(`${d} ${s} ${k}`);
      return missing;
    };
    const lastAttrs = (h: typeof world.harness) => {
      const attrs = new Map<string, unknown>();
      for (const r of h.received) if (r.topic === "v1/gateway/attributes") for (const [dev, kv] of Object.entries(r.body as Record<string, Record<string, unknown>>)) for (const [k, v] of Object.entries(kv)) attrs.set(`${dev}/${k}`, v);
      return attrs;
    };
    const attrsFinal = (h: typeof world.harness) => devices.every((d) => keys.every((k) => lastAttrs(h).get(`${d}/attr_${k}`) === value(d, perDevice, k)));
    await world.harness.waitFor((h) => missingTelemetry(h).length === 0 && attrsFinal(h), 30000, "every key of every record under the payload limit").catch(() => {});
    expectAllSeqs(world, devices, perDevice);
    // every value of every key arrived, as telemetry and as attribute
    expect(missingTelemetry(world.harness)).toEqual([]);
    const attrs = lastAttrs(world.harness);
    for (const d of devices) for (const k of keys) expect(attrs.get(`${d}/attr_${k}`), `${d} attr_${k}`).toBe(value(d, perDevice, k));
    const sizes = world.harness.received.filter((r) => r.topic.startsWith("v1/")).map((r) => ({ topic: r.topic, bytes: Buffer.byteLength(r.raw) }));
    const over = sizes.filter((s) => s.bytes > 900);
    expect(over).toEqual([]);
    expect(sizes.filter((s) => s.topic === "v1/gateway/telemetry").length).toBeGreaterThan(20);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 45000);
