// End to end over real brokers: device → MQTT connector → storage → platform, and back.
// Pins the exact topics and payloads of the gateway API.

import { beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import { sendUntilSeen } from "../support/platform.ts";
import type { Started } from "../support/process.ts";
import { sensorConnector, worldForFile } from "./fixtures.ts";

const world = worldForFile();
let gw: Started;

beforeAll(async () => {
  const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), {
    "sensors.json": sensorConnector(world.device.port),
  });
  gw = await startGateway(files.configPath);
  // the connector subscribes asynchronously after start: wait until the device broker delivers
  await world.harness.waitFor((h) => h.received.some((r) => r.topic.startsWith("v1/devices/me/rpc/request/")), 10000, "session limits request");
}, 40000);

// the gateway goes before the brokers it talks to
world.beforeDispose(() => gw?.stop());

function publishUntilSeen(topic: string, payload: object, device: string): Promise<void> {
  const h = world.harness;
  return sendUntilSeen(h, () => world.deviceClient.publishAsync(topic, JSON.stringify(payload), { qos: 1 }), () => h.telemetry().some((r) => r.device === device), 15_000, `telemetry from ${device}`, 300);
}

describe("uplink", () => {
  test("connect, connector attributes, device attributes and telemetry: exact topics and payloads", async () => {
    await publishUntilSeen("sensors/th-1", { model: "T1000", temperature: 21.5, seq: 1 }, "th-1");
    const h = world.harness;
    const connect = h.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === "th-1");
    expect(connect?.body).toEqual({ device: "th-1", type: "thermometer" });
    const attrs = h.received.filter((r) => r.topic === "v1/gateway/attributes").map((r) => r.body);
    expect(attrs).toContainEqual({ "th-1": { connectorType: "mqtt", connectorName: "Sensors" } });
    expect(attrs).toContainEqual({ "th-1": { model: "T1000" } });
    const tel = h.received.find((r) => r.topic === "v1/gateway/telemetry")!;
    expect(Object.keys(tel.body)).toEqual(["th-1"]);
    const entry = tel.body["th-1"][0];
    expect(entry.values).toEqual({ temperature: 21.5, seq: 1 });
    expect(Number.isInteger(entry.ts)).toBe(true);
    expect(Math.abs(entry.ts - Date.now())).toBeLessThan(60000);
    // connect precedes the device's telemetry
    const iConnect = h.received.indexOf(connect!);
    expect(iConnect).toBeLessThan(h.received.indexOf(tel));
  }, 30000);

  test("a malformed device message is dropped and the gateway keeps working", async () => {
    await world.deviceClient.publishAsync("sensors/th-2", "{not json", { qos: 1 });
    await world.deviceClient.publishAsync("sensors/th-2", JSON.stringify({ temperature: 30.25, seq: 7 }), { qos: 1 });
    await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === "th-2" && r.key === "seq" && r.value === 7), 10000, "telemetry after malformed input");
    expect(gw.proc.exitCode).toBeNull();
    expect(gw.output()).toMatch(/sensors\/th-2/);
  }, 20000);
});

describe("downlink", () => {
  test("two-way RPC round trip through the device", async () => {
    const dev = await mqtt.connectAsync(world.device.url);
    try {
      await dev.subscribeAsync("sensors/th-1/rpc/+");
      dev.on("message", (topic, payload) => {
        const id = topic.split("/").pop();
        const params = JSON.parse(payload.toString());
        dev.publish(`sensors/th-1/rpc-reply/${id}`, JSON.stringify({ echoed: params.value }));
      });
      await world.harness.sendDeviceRpc("th-1", 42, "echo", { value: 17 });
      const reply = await world.harness.waitFor(
        (h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 42 && r.body.data !== undefined && r.body.device === "th-1" && !("method" in (r.body.data ?? {}))),
        10000,
        "RPC reply",
      );
      expect(reply.body).toEqual({ device: "th-1", id: 42, data: { echoed: 17 } });
    } finally {
      await dev.endAsync(true);
    }
  }, 20000);

  test("shared attribute update reaches the device topic", async () => {
    const dev = await mqtt.connectAsync(world.device.url);
    try {
      await dev.subscribeAsync("sensors/th-1/attrs");
      const got = new Promise<string>((resolve) => dev.on("message", (_t, p) => resolve(p.toString())));
      await world.harness.sendAttributeUpdate("th-1", { setpoint: 22 });
      expect(JSON.parse(await got)).toEqual({ setpoint: 22 });
    } finally {
      await dev.endAsync(true);
    }
  }, 20000);

  test("gateway RPC: ping, devices, unknown module", async () => {
    const h = world.harness;
    await h.sendGatewayRpc(901, "gateway_ping");
    await h.sendGatewayRpc(902, "gateway_devices");
    await h.sendGatewayRpc(903, "nosuch_method");
    const ping = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/devices/me/rpc/response/901"), 10000, "ping reply");
    expect(ping.body).toEqual({ code: 200, resp: "pong" });
    const devices = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/devices/me/rpc/response/902"), 10000, "devices reply");
    expect(devices.body.resp["th-1"]).toBe("Sensors");
    const unknown = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/devices/me/rpc/response/903"), 10000, "unknown reply");
    expect(unknown.body).toEqual({ error: "nosuch - connector not found in available connectors.", code: 404 });
  }, 20000);
});

describe("downlink echo", () => {
  test("the gateway's own RPC reply echoed by a plain broker is not taken for a request", async () => {
    const h = world.harness;
    const before = h.received.filter((r) => r.topic === "v1/gateway/rpc").length;
    await h.sendDeviceRpc("th-1", 77, "nosuchmethod", {});
    await h.waitFor((x) => x.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 77 && r.body.data?.error), 10000, "error reply");
    // a ping round trip later, no further replies for id 77 may have appeared (no reply loop)
    await h.sendGatewayRpc(904, "gateway_ping");
    await h.waitFor((x) => x.received.find((r) => r.topic === "v1/devices/me/rpc/response/904"), 10000, "ping");
    const for77 = h.received.filter((r) => r.topic === "v1/gateway/rpc" && (r.body.id === 77 || r.body.data?.id === 77));
    expect(for77.length).toBe(2); // our request + one reply
    expect(h.received.filter((r) => r.topic === "v1/gateway/rpc").length - before).toBe(2);
  }, 20000);
});
