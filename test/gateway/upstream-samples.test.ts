// The upstream sample tb_gateway.json and mqtt.json, changed only where they must point at the
// test brokers (host, port, token), load and run, from source and from the compiled binary: the
// sample's first mapping delivers its device, and its attribute update and two-way RPC reach the
// device and come back.

import { beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import mqtt from "mqtt";
import { FROM_BOTH, gatewayBinary, startGateway, startGatewayFrom, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { deviceRpcReply } from "../support/platform.ts";
import { startWorld } from "./fixtures.ts";

const SAMPLES = resolve(import.meta.dir, "../../../shared/reference/python-gateway-configs");

beforeAll(() => void gatewayBinary(), 240000);

for (const from of FROM_BOTH) {
  test(`upstream tb_gateway.json + mqtt.json (${from}): the sample device's uplink, attribute update and two-way RPC`, async () => {
    const world = await startWorld();
    const device = await mqtt.connectAsync(world.device.url);
    let gw: Started | undefined;
    try {
      const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
      main.thingsboard.host = "127.0.0.1";
      main.thingsboard.port = world.platform.port;
      main.connectors = [{ type: "mqtt", name: "MQTT Broker Connector", configuration: "mqtt.json" }];
      const mqttCfg = JSON.parse(readFileSync(join(SAMPLES, "mqtt.json"), "utf8"));
      mqttCfg.broker.port = world.device.port;
      const files = writeGatewayConfig(main, { "mqtt.json": mqttCfg, "list.json": readFileSync(join(SAMPLES, "list.json"), "utf8") });
      gw = await startGatewayFrom(from, files.configPath);
      const payload = JSON.stringify({ power: 123.4, frequency: 50, temperature: 21.5, humidity: 40, relay: true });
      for (let i = 0; i < 100 && !world.harness.telemetry().some((r) => r.device === "Demo Device"); i++) {
        await world.deviceClient.publishAsync("data/", payload, { qos: 1 });
        await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === "Demo Device"), 300, "sample device").catch(() => {});
      }
      const tel = world.harness.telemetry().filter((r) => r.device === "Demo Device");
      expect(Object.fromEntries(tel.map((r) => [r.key, r.value]))).toEqual({ temperature: 21.5, humidity: 40, relay: true });
      const attrs = world.harness.received.filter((r) => r.topic === "v1/gateway/attributes").map((r) => r.body["Demo Device"]);
      expect(attrs).toContainEqual({ power: 123.4, frequency: 50 });
      expect(attrs).toContainEqual({ connectorType: "mqtt", connectorName: "MQTT Broker Connector" });
      expect(world.harness.received.find((r) => r.topic === "v1/gateway/connect")?.body).toEqual({ device: "Demo Device", type: "default" });

      // Downlink through the sample's requestsMapping: attributeUpdates "relay" → sensor/request/setRelay,
      // serverSideRpc getRelay (two-way) → sensor/<device>/request/getRelay/<id>, answered by the device.
      await device.subscribeAsync(["sensor/request/setRelay", "sensor/+/request/getRelay/+"], { qos: 1 });
      const setRelay = new Promise<string>((r) => device.on("message", (t, p) => t === "sensor/request/setRelay" && r(p.toString())));
      device.on("message", (t, p) => {
        const m = /^sensor\/(.+)\/request\/getRelay\/(\d+)$/.exec(t);
        if (m) device.publish(`sensor/${m[1]}/response/getRelay/${m[2]}`, JSON.stringify({ relay: JSON.parse(p.toString()).channel === 2 }), { qos: 1 });
      });
      await world.harness.sendAttributeUpdate("Demo Device", { relay: false });
      expect(await setRelay).toBe("false");
      await world.harness.sendDeviceRpc("Demo Device", 7, "getRelay", { channel: 2 });
      const reply = await world.harness.waitFor((h) => deviceRpcReply(h, 7), 10000, "getRelay reply");
      expect(reply.body).toEqual({ device: "Demo Device", id: 7, data: { relay: true } });
      // gateway_version names the executable that answers: the binary's target, or "source"
      await world.harness.sendGatewayRpc(908, "gateway_version");
      const version = await world.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/devices/me/rpc/response/908"), 10000, "version reply");
      expect(version.body.resp.build_target).toBe(from === "binary" ? `linux-${process.arch === "arm64" ? "arm64" : "x64"}` : "source");
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await gw?.stop();
      await device.endAsync(true);
      await world.dispose();
    }
  }, 60000);
}

test("a changed connector file restarts only that connector; the gateway keeps running", async () => {
  const world = await startWorld();
  let gw: Started | undefined;
  try {
    const { sensorConnector } = await import("./fixtures.ts");
    const { mainConfig } = await import("../support/gateway.ts");
    const cfg = sensorConnector(world.device.port) as any;
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }], { checkConnectorsConfigurationInSeconds: 1 }), { "sensors.json": cfg });
    gw = await startGateway(files.configPath);
    cfg.mapping[0].converter.deviceInfo.deviceProfileExpression = "hygrometer";
    // the file gets an id written back at start; keep it so only the mapping differs
    const onDisk = JSON.parse(readFileSync(join(files.dir, "sensors.json"), "utf8"));
    await Bun.write(join(files.dir, "sensors.json"), JSON.stringify({ ...cfg, id: onDisk.id }, null, 2));
    while (!/changed: restarting connector Sensors/.test(gw.output())) await new Promise<void>((r) => gw!.proc.stderr!.once("data", () => r()));
    for (let i = 0; i < 100 && !world.harness.received.some((r) => r.topic === "v1/gateway/connect" && r.body.type === "hygrometer"); i++) {
      await world.deviceClient.publishAsync("sensors/h-1", JSON.stringify({ seq: 1 }), { qos: 1 });
      await world.harness.waitFor((h) => h.received.some((r) => r.topic === "v1/gateway/connect" && r.body.type === "hygrometer"), 300, "new type").catch(() => {});
    }
    expect(world.harness.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === "h-1")?.body).toEqual({ device: "h-1", type: "hygrometer" });
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 60000);
