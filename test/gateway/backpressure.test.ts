// Storage full is refused to the source, never acknowledged and dropped: with a tiny memory
// storage and the platform away, the MQTT connector holds its PUBACKs (the broker's deliveries stay
// unacknowledged, the broker stops sending), and once the platform returns every message arrives.
// Overload: the platform takes less than the devices offer (its rate limit), memory storage stays at
// its bound and the connector holds acknowledgements instead of dropping (issue #17 item 7).

import { expect, test } from "bun:test";
import mqtt from "mqtt";
import { startMosquitto } from "../support/mosquitto.ts";
import { sampleRss, startSeqCounter, startSeqLoad, warmUpThrough } from "../support/seq-load.ts";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { seqByDevice, sensorConnector, startWorld, warmUp } from "./fixtures.ts";

test("storage full: device messages are not acknowledged until stored, and every one is delivered", async () => {
  const world = await startWorld({ persistent: true });
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory", max_records_count: 20 }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), {
      "sensors.json": sensorConnector(world.device.port),
    });
    gw = await startGateway(files.configPath);
    await warmUp(world);
    await world.platform.stop();
    const total = 200;
    // (the device's own publishes are acknowledged by its broker; what is held is the broker's
    // delivery to the gateway, which the broker then stops sending more of)
    await Promise.all(Array.from({ length: total }, (_, i) => world.deviceClient.publishAsync("sensors/held", JSON.stringify({ seq: i + 1 }), { qos: 1 })));
    // storage holds 20 records: the gateway holds the acknowledgements of the rest
    while (!/storage full: 20 records stored/.test(gw.output())) await new Promise<void>((r) => gw!.proc.stderr!.once("data", () => r()));
    await world.platform.start();
    await world.harness.waitFor((h) => new Set(seqByDevice(h).get("held") ?? []).size === total, 30000, "every held message delivered").catch((e) => {
      throw new Error(`${gw!.output().slice(-4000)}\n${String(e).slice(0, 300)}`);
    });
    const seqs = [...new Set(seqByDevice(world.harness).get("held"))].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // the gateway's log line and the platform's last message race each other to this process
    const recovered = /storage takes data again after [\d.]+ s; held device data stored/;
    const until = Date.now() + 10000;
    while (!recovered.test(gw.output()) && Date.now() < until) await new Promise<void>((r) => gw!.proc.stderr!.once("data", () => r()));
    expect(gw.output()).toMatch(recovered);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 60000);

test("overload with memory storage: 2,500 datapoints/s offered, the platform takes 1,600/s: storage stays at its bound, acknowledgements are held, nothing is dropped", async () => {
  const device = await startMosquitto();
  const platform = await startMosquitto();
  // the platform's rate limit for this gateway: 2,000 datapoints/s, of which the gateway uses 80 %
  const counter = await startSeqCounter(platform.url, 10, "dev-", { gatewayRateLimits: { telemetryDataPoints: "2000:1" } });
  const devices = await mqtt.connectAsync(device.url, { clientId: "overload-devices" });
  let gw: Started | undefined;
  try {
    const maxRecords = 500;
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory", max_records_count: maxRecords }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), {
      "sensors.json": sensorConnector(device.port),
    });
    gw = await startGateway(files.configPath);
    const rss = sampleRss(gw.proc.pid!, 250);
    await warmUpThrough(devices, counter);
    const load = startSeqLoad(devices, 10, 500);
    // offered faster than taken: storage reaches its bound and the connector holds its PUBACKs
    const full = new RegExp(`storage full: ${maxRecords} records stored`);
    while (!full.test(gw.output())) await new Promise<void>((r) => gw!.proc.stderr!.once("data", () => r()));
    await new Promise((r) => setTimeout(r, 8000)); // keep offering more than is taken for a while
    await load.stop();
    const final = load.lastSeq();
    await counter.until(() => counter.complete(final), 60_000, "every message after the overload").catch((e) => {
      throw new Error(`${counter.missing(final)}\n${gw!.output().slice(-3000)}\n${e.message}`);
    });
    rss.stop();
    expect(counter.outOfOrder).toBe(0);
    const out = gw.output();
    expect(out).toMatch(/storage takes data again after [\d.]+ s; held device data stored/);
    expect(out).not.toMatch(/dropped/);
    console.log(`overload: ${final.reduce((a, b) => a + b, 0)} messages, all delivered, ${counter.duplicates} duplicates, gateway RSS peak ${rss.peak().toFixed(0)} MB`);
    expect(rss.peak()).toBeLessThan(300);
  } finally {
    await gw?.stop();
    await devices.endAsync(true).catch(() => {});
    await counter.close();
    await device.dispose();
    await platform.dispose();
  }
}, 120_000);
