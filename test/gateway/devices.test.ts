// Device handling end to end: the deny list of device filtering, disconnection of inactive
// devices, connected_devices.json (upstream format) re-announced after a restart, and renaming.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { sensorConnector, startWorld, type World } from "./fixtures.ts";

const CONNECTORS = [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }];

/** Publish until the platform shows telemetry of `device` with this seq (the connector subscribes after start). */
async function publishUntilSeen(world: World, device: string, seq: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await world.deviceClient.publishAsync(`sensors/${device}`, JSON.stringify({ seq }), { qos: 1 });
    try {
      await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === device && r.key === "seq" && r.value === seq), 300, `${device} seq ${seq}`);
      return;
    } catch {
      // not subscribed yet
    }
  }
  throw new Error(`no telemetry of ${device} reached the platform`);
}

const mentions = (world: World, device: string) => world.harness.received.filter((r) => r.raw.includes(device));

test("device filtering: a denied device never reaches the platform, the others do", async () => {
  const world = await startWorld();
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, CONNECTORS, { deviceFiltering: { enable: true, filterFile: "list.json" } }), {
      "sensors.json": sensorConnector(world.device.port),
      "list.json": { deny: { Sensors: ["secret-.*"], Other: ["open-.*"] }, allow: { Sensors: ["nothing-listed"] } },
    });
    gw = await startGateway(files.configPath);
    await publishUntilSeen(world, "open-0", 0);
    // Interleaved: each denied message goes before an allowed one, which is then waited for.
    for (let s = 1; s <= 5; s++) {
      await world.deviceClient.publishAsync("sensors/secret-1", JSON.stringify({ seq: s, model: "X" }), { qos: 1 });
      await world.deviceClient.publishAsync("sensors/open-1", JSON.stringify({ seq: s, model: "Y" }), { qos: 1 });
    }
    await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === "open-1" && r.key === "seq" && r.value === 5), 10000, "open-1 seq 5");
    expect(world.harness.received.some((r) => r.topic === "v1/gateway/connect" && r.body.device === "open-1")).toBe(true);
    expect(mentions(world, "secret-1")).toEqual([]);
    expect(gw.output()).toMatch(/dropped 1 message\(s\) of secret-1: device denied by the device filter/);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 30000);

test("checkingDeviceActivity: an inactive device is disconnected after the timeout and connected again when it sends", async () => {
  const world = await startWorld();
  let gw: Started | undefined;
  let busy: ReturnType<typeof setInterval> | undefined;
  try {
    const activity = { checkDeviceInactivity: true, inactivityTimeoutSeconds: 2, inactivityCheckPeriodSeconds: 1 };
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, CONNECTORS, { checkingDeviceActivity: activity }), { "sensors.json": sensorConnector(world.device.port) });
    gw = await startGateway(files.configPath);
    await publishUntilSeen(world, "idle-1", 1);
    const lastData = Date.now();
    // a device that keeps sending must stay connected meanwhile
    let seq = 0;
    busy = setInterval(() => world.deviceClient.publish("sensors/busy-1", JSON.stringify({ seq: ++seq }), { qos: 1 }), 300);
    const disconnect = await world.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/disconnect" && r.body.device === "idle-1"), 10000, "disconnect of idle-1");
    const after = Date.now() - lastData;
    expect(disconnect.body).toEqual({ device: "idle-1" });
    expect(after).toBeGreaterThanOrEqual(2000);
    expect(after).toBeLessThan(6000);
    await publishUntilSeen(world, "idle-1", 2);
    const iDisconnect = world.harness.received.indexOf(disconnect);
    const reconnect = world.harness.received.findIndex((r, i) => i > iDisconnect && r.topic === "v1/gateway/connect" && r.body.device === "idle-1");
    const telemetry2 = world.harness.received.findIndex((r) => r.topic === "v1/gateway/telemetry" && r.body["idle-1"]?.some((e: any) => e.values.seq === 2));
    expect(reconnect).toBeGreaterThan(iDisconnect);
    expect(reconnect).toBeLessThan(telemetry2);
    expect(world.harness.received.some((r) => r.topic === "v1/gateway/disconnect" && r.body.device === "busy-1")).toBe(false);
  } finally {
    clearInterval(busy);
    await gw?.stop();
    await world.dispose();
  }
}, 30000);

test("connected_devices.json in upstream format, devices re-announced after restart; renaming maps both ways", async () => {
  const world = await startWorld();
  let gw: Started | undefined;
  const device = await mqtt.connectAsync(world.device.url);
  try {
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, CONNECTORS), { "sensors.json": sensorConnector(world.device.port) });
    gw = await startGateway(files.configPath);
    await publishUntilSeen(world, "dev-a", 1);
    await gw.stop();
    const saved = JSON.parse(readFileSync(join(files.dir, "connected_devices.json"), "utf8"));
    const connectorId = JSON.parse(readFileSync(join(files.dir, "sensors.json"), "utf8")).id; // written back like upstream
    expect(saved).toEqual({ "dev-a": { connectorName: "Sensors", connectorId, device_type: "thermometer", renaming: null, disconnected: false } });
    expect(typeof connectorId).toBe("string");

    // Restart: the saved device is announced before any new data.
    world.harness.received.length = 0;
    gw = await startGateway(files.configPath);
    const connect = await world.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/connect"), 10000, "re-announcement after restart");
    expect(connect.body).toEqual({ device: "dev-a", type: "thermometer" });
    expect(world.harness.received.some((r) => r.topic === "v1/gateway/telemetry")).toBe(false);

    // Rename on the platform: later telemetry goes under the new name ...
    await world.harness.sendGatewayRpc(501, "gateway_device_renamed", { "dev-a": "dev-a-new" });
    const renamed = await world.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/devices/me/rpc/response/501"), 10000, "rename reply");
    expect(renamed.body).toEqual({ success: true });
    await publishUntilSeen(world, "dev-a-new", 2).catch(async () => {
      throw new Error(`telemetry not under the new name; got ${JSON.stringify(world.harness.telemetry().slice(-3))}`);
    });
    expect(world.harness.telemetry().some((r) => r.device === "dev-a" && r.value === 2)).toBe(false);

    // ... and an RPC to the new name reaches the connector's device under its original name.
    await device.subscribeAsync("sensors/dev-a/rpc/+");
    device.on("message", (topic, payload) => {
      const id = topic.split("/").pop();
      device.publish(`sensors/dev-a/rpc-reply/${id}`, JSON.stringify({ echoed: JSON.parse(payload.toString()).v }));
    });
    await world.harness.sendDeviceRpc("dev-a-new", 61, "echo", { v: 9 });
    const reply = await world.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 61 && r.body.data && !("method" in r.body.data)), 10000, "RPC reply");
    expect(reply.body).toEqual({ device: "dev-a-new", id: 61, data: { echoed: 9 } });

    await gw.stop();
    const after = JSON.parse(readFileSync(join(files.dir, "connected_devices.json"), "utf8"));
    expect(after["dev-a"]).toMatchObject({ connectorName: "Sensors", renaming: "dev-a-new", disconnected: false });
  } finally {
    await device.endAsync(true);
    await gw?.stop();
    await world.dispose();
  }
}, 40000);
