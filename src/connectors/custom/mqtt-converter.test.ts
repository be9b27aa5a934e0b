// A custom MQTT converter in upstream's shape through the compiled binary: upstream's mqtt.json
// (only the broker pointed at the test's Mosquitto) with the shipped port of upstream's
// CustomMqttUplinkConverter in extensions/mqtt/, which is built with the mapping entry and handed
// the hex text payload decoded, exactly as the Python gateway does.

import { beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { gatewayBinary, ROOT, startGatewayFrom } from "../../../test/support/gateway.ts";
import { platformForFile, sendUntilSeen } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";
import { mqttSample } from "../../../test/support/upstream.ts";
import { customWorld } from "./test/config.ts";

const platform = platformForFile({ deviceBroker: true });
let gw: Started | undefined;

beforeAll(() => {
  gatewayBinary();
}, 240_000);
// the gateway goes before the brokers it talks to
platform.beforeDispose(() => gw?.stop());

test("upstream mqtt.json: custom/sensors/+ converted by the ported CustomMqttUplinkConverter in the binary", async () => {
  const files = customWorld(platform.port, [{ name: "MQTT Broker Connector", type: "mqtt", configuration: "mqtt.json" }], { "mqtt.json": mqttSample(platform.device.port) }, (dir) => {
    mkdirSync(join(dir, "extensions", "mqtt"), { recursive: true });
    const from = join(ROOT, "config-templates", "extensions", "mqtt", "custom_mqtt_uplink_converter.ts");
    copyFileSync(from, join(dir, "extensions", "mqtt", "custom_mqtt_uplink_converter.ts"));
  });
  gw = await startGatewayFrom("binary", files.configPath, { timeoutMs: 60_000 });
  const client = await mqtt.connectAsync(platform.device.url);
  try {
    const seen = () => platform.harness.telemetry().filter((t) => t.device === "Thermo-7");
    await sendUntilSeen(platform.harness, () => client.publishAsync("custom/sensors/Thermo-7", "0x00fa012c63", { qos: 1 }), () => seen().length >= 3, 30_000, "custom converter output", 1000);
    const values = Object.fromEntries(seen().map((t) => [t.key, t.value]));
    expect(values).toEqual({ temperature: 250, humidity: 300, batteryLevel: 99 });
    const connect = platform.harness.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === "Thermo-7");
    expect(connect?.body.type).toBe("Thermostat");
  } finally {
    await client.endAsync(true);
  }
}, 90_000);
