// Storage full is refused to the source, never acknowledged and dropped: with a tiny memory
// storage and the platform away, the MQTT connector holds its PUBACKs (the broker's deliveries stay
// unacknowledged, the broker stops sending), and once the platform returns every message arrives.

import { expect, test } from "bun:test";
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
