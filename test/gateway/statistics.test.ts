// Periodic statistics as the gateway's own telemetry and attributes (spec platform-api.md §8), with
// custom command statistics from a statistics file.

import { expect, test } from "bun:test";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { sensorConnector, startWorld } from "./fixtures.ts";

test("statistics: machine attributes at start, machine/service/connector stats every 10 s, custom command values", async () => {
  const world = await startWorld();
  let gw: Started | undefined;
  try {
    const statistics = { enable: true, statsSendPeriodInSeconds: 10, customStatsSendPeriodInSeconds: 1, configuration: "stats.json" };
    const commands = [
      { timeout: 5, command: ["/bin/sh", "-c", "echo 42"], attributeOnGateway: "answer" },
      { timeout: 5, command: "echo tb-gw-host", attributeOnGateway: "hostLabel" },
      { timeout: 5, command: ["/bin/sh", "-c", "true"], attributeOnGateway: "emptyIsSkipped" },
    ];
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }], { statistics }), {
      "stats.json": commands,
      "sensors.json": sensorConnector(world.device.port),
    });
    const started = Date.now();
    gw = await startGateway(files.configPath);
    const h = world.harness;
    const attrs = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/devices/me/attributes" && "totalMemory" in r.body), 5000, "machine attributes");
    expect(attrs.body.totalMemory).toBeGreaterThan(0);
    expect(attrs.body.totalDisk).toBeGreaterThan(0);
    expect(Number.isInteger(attrs.body.cpuCount) && attrs.body.cpuCount > 0).toBe(true);

    const custom = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/devices/me/telemetry" && JSON.stringify(r.body).includes('"answer"')), 5000, "custom stats");
    const customValues = (Array.isArray(custom.body) ? custom.body : [custom.body]).map((e: any) => e.values ?? e);
    expect(customValues).toContainEqual({ answer: 42, hostLabel: "tb-gw-host" });

    // one device message (repeated until the connector is subscribed) for the connector counters
    for (let i = 0; i < 30 && !h.telemetry().some((r) => r.device === "stat-dev"); i++) {
      await world.deviceClient.publishAsync("sensors/stat-dev", JSON.stringify({ seq: 1 }), { qos: 1 });
      await h.waitFor((x) => x.telemetry().some((r) => r.device === "stat-dev"), 200, "device telemetry").catch(() => {});
    }
    const stats = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/devices/me/telemetry" && JSON.stringify(r.body).includes("machineStats")), 13000, "periodic stats");
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(9000);
    const entry = (Array.isArray(stats.body) ? stats.body[0] : stats.body) as any;
    const values = entry.values ?? entry;
    expect(Number.isInteger(entry.ts)).toBe(true);
    expect(Object.keys(values).sort()).toEqual(["connectorsStats", "machineStats", "serviceStats"]);
    expect(values.machineStats.gwMemory).toBeGreaterThan(0);
    expect(values.machineStats.freeMemory).toBeGreaterThan(0);
    // the custom stats published meanwhile (about ten) count as messages sent to the platform
    expect(values.machineStats.msgsSentToPlatform).toBeGreaterThan(0);
    expect(values.serviceStats).toHaveProperty("storageMsgCount");
    expect(values.serviceStats).toHaveProperty("platformMsgPushed");
    expect(values.serviceStats).toHaveProperty("platformTsProduced");
    expect(values.connectorsStats.Sensors.connectorMsgsReceived).toBeGreaterThanOrEqual(1);
    expect(values.connectorsStats.Sensors.storageMsgPushed).toBeGreaterThanOrEqual(1);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 20000);
