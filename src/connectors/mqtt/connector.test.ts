// Integration tests: the connector against a real Mosquitto broker, with recordingContext() as
// the gateway side and an mqtt.js test client as the devices.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { startMosquitto, type Broker } from "../../../test/support/mosquitto.ts";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { MqttConfigSchema } from "./schema.ts";
import type { MqttConnector } from "./connector.ts";
import { descriptor } from "./index.ts";
import { SAMPLES } from "../../../test/support/paths.ts";

const SAMPLE = join(SAMPLES, "mqtt.json");
const sampleText = readFileSync(SAMPLE, "utf8");

/** The sample file copied to a temp config folder, with only host/port pointed at the test broker. */
function sampleConfigDir(port: number, edit?: (c: any) => void): { dir: string; config: unknown } {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-mqtt-cfg-"));
  const raw = JSON.parse(sampleText);
  raw.broker.host = "127.0.0.1";
  raw.broker.port = port;
  raw.broker.clientId = `tbgw-test-${Math.random().toString(36).slice(2)}`;
  edit?.(raw);
  writeFileSync(join(dir, "mqtt.json"), JSON.stringify(raw));
  mkdirSync(join(dir, "extensions", "mqtt"), { recursive: true });
  writeFileSync(
    join(dir, "extensions", "mqtt", "custom_mqtt_uplink_converter.ts"),
    `export class CustomMqttUplinkConverter {
      constructor(config) { this.sizes = config.extensionConfig; }
      convert(topic, payload) {
        const values = {}; let at = 0;
        for (const [k, n] of Object.entries(this.sizes)) { values[k] = payload.readUIntBE(at, n); at += n; }
        return { deviceName: topic.split("/").pop(), deviceType: "custom", telemetry: [{ values }] };
      }
    }`,
  );
  return { dir, config: JSON.parse(readFileSync(join(dir, "mqtt.json"), "utf8")) };
}

async function startConnector(broker: Broker, edit?: (c: any) => void, ctxOverride?: Partial<RecordingContext>) {
  const { dir, config } = sampleConfigDir(broker.port, edit);
  const ctx = Object.assign(recordingContext({ configDir: dir, type: "mqtt", name: "MQTT" }), ctxOverride ?? {});
  const conn = (await descriptor.create(MqttConfigSchema.parse(config), ctx)) as MqttConnector;
  await conn.start();
  await conn.whenSubscribed();
  return { ctx, conn };
}

function waitMessage(client: MqttClient, topic: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no message on ${topic}`)), timeoutMs);
    const on = (tp: string, p: Buffer) => {
      if (tp !== topic) return;
      clearTimeout(t);
      client.off("message", on);
      resolve(p.toString());
    };
    client.on("message", on);
  });
}

let broker: Broker;
let dev: MqttClient;
beforeAll(async () => {
  broker = await startMosquitto();
  dev = await mqtt.connectAsync(broker.url);
});
afterAll(async () => {
  await dev?.endAsync(true);
  await broker?.dispose();
});

describe("sample mqtt.json against a real broker", () => {
  test("each mapping of the sample converts its example payload", async () => {
    const { ctx, conn } = await startConnector(broker);
    try {
      await dev.publishAsync("data/", JSON.stringify({ power: "123.4", frequency: "50.7", temperature: 21.5, humidity: "40", relay: "on" }), { qos: 1 });
      await dev.publishAsync("sensor/SN-001/data", JSON.stringify({ sensorModel: "T1000", temp: "22.25", hum: 55 }), { qos: 1 });
      await dev.publishAsync("sensor/raw_data", Buffer.from("AB1224.5"), { qos: 1 });
      await dev.publishAsync("custom/sensors/S9", Buffer.from([0x00, 0xfa, 0x01, 0x2c, 0x63]), { qos: 1 });
      await ctx.waitFor((s) => s.length >= 4, 10000, "four devices");
      const by = Object.fromEntries(ctx.sent.map((d) => [d.deviceName, d]));
      expect(by["Demo Device"]).toEqual({
        deviceName: "Demo Device",
        deviceType: "default",
        attributes: { power: 123.4, frequency: 50 },
        telemetry: [{ values: { temperature: 21.5, humidity: 40, relay: true } }],
      });
      expect(by["SN-001"]).toEqual({
        deviceName: "SN-001",
        deviceType: "Thermometer",
        attributes: { model: "T1000" },
        telemetry: [{ values: { temperature: 22.25, humidity: "55" } }],
      });
      expect(by["AB12"]!.attributes).toEqual({ rawData: "AB1224.5" });
      expect(by["AB12"]!.telemetry![0]!.values).toEqual({ temp: "24.5" });
      expect(by["S9"]).toEqual({ deviceName: "S9", deviceType: "custom", telemetry: [{ values: { temperature: 250, humidity: 300, batteryLevel: 99 } }] });
    } finally {
      await conn.stop();
    }
  }, 20000);

  test("connect and disconnect requests", async () => {
    const { ctx, conn } = await startConnector(broker);
    try {
      await dev.publishAsync("sensor/connect", "", { qos: 1 });
      await dev.publishAsync("sensor/Boiler-7/connect", "{}", { qos: 1 });
      await dev.publishAsync("sensor/disconnect", "", { qos: 1 });
      await ctx.waitFor(() => ctx.added.length >= 2 && ctx.deleted.length >= 1, 10000, "connect and disconnect");
      expect(ctx.added).toContainEqual({ name: "Demo Device", deviceType: "default" });
      expect(ctx.added).toContainEqual({ name: "Boiler-7", deviceType: "default" });
      expect(ctx.deleted).toContain("Demo Device");
    } finally {
      await conn.stop();
    }
  }, 20000);

  test("attribute request → reply on topicExpression with valueExpression", async () => {
    const { ctx, conn } = await startConnector(broker);
    try {
      ctx.attributes["Demo Device"] = { relayState: true, other: 1 };
      await dev.subscribeAsync("devices/+/attrs", { qos: 1 });
      const reply = waitMessage(dev, "devices/Demo Device/attrs");
      await dev.publishAsync("v1/devices/me/attributes/request", JSON.stringify({ relay: "relayState" }), { qos: 1 });
      expect(await reply).toBe("true");
      expect(ctx.attributeRequests).toEqual([{ device: "Demo Device", keys: ["relayState"], scope: "shared" }]);
      // a scope field in the message overrides the handler's scope
      const reply2 = waitMessage(dev, "devices/Demo Device/attrs");
      await dev.publishAsync("v1/devices/me/attributes/request", JSON.stringify({ relay: "other", scope: "client" }), { qos: 1 });
      expect(await reply2).toBe("1");
      expect(ctx.attributeRequests[1]!.scope).toBe("client");
    } finally {
      await conn.stop();
      await dev.unsubscribeAsync("devices/+/attrs");
    }
  }, 20000);

  test("attribute update → publish", async () => {
    const { conn } = await startConnector(broker);
    try {
      await dev.subscribeAsync("sensor/request/setRelay", { qos: 1 });
      const got = waitMessage(dev, "sensor/request/setRelay");
      await conn.onAttributeUpdate({ device: "Demo Device", data: { relay: false, ignored: 1 } });
      expect(await got).toBe("false");
    } finally {
      await conn.stop();
      await dev.unsubscribeAsync("sensor/request/setRelay");
    }
  }, 20000);

  test("RPC: two-way with a device answering, one-way, timeout, unmatched", async () => {
    const { conn } = await startConnector(broker);
    const device = await mqtt.connectAsync(broker.url);
    try {
      await device.subscribeAsync(["sensor/+/request/#", "sensor/request/#"], { qos: 1 });
      device.on("message", (topic, payload) => {
        const m = /^sensor\/(.+)\/request\/getRelay\/(\d+)$/.exec(topic);
        if (m) device.publish(`sensor/${m[1]}/response/getRelay/${m[2]}`, `{'relay': ${payload.toString()}}`, { qos: 1 });
      });
      const two = await conn.onRpc({ device: "Dev A", id: 17, method: "getRelay", params: { ch: 2 } });
      expect(two).toBe('{"relay": {"ch":2}}');

      const oneWayMsg = waitMessage(device, "sensor/request/setRelay");
      const one = await conn.onRpc({ device: "Dev A", id: 18, method: "setRelay", params: true });
      expect(one).toEqual({ success: true });
      expect(await oneWayMsg).toBe("true");

      // reserved get with a response topic nobody answers → timeout error
      const t0 = Date.now();
      const timedOut = (await conn.onRpc({
        device: "Dev A",
        id: 19,
        method: "get",
        params: "requestTopicExpression=nobody/listens;responseTopicExpression=nobody/answers;value=1;responseTimeout=300;",
      })) as { error: string };
      expect(timedOut.error).toMatch(/no response on nobody\/answers within 300 ms/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

      // connector-level RPC: params are the handler; the mqtt_ prefix is stripped
      const setMsg = waitMessage(device, "sensor/x/request/publish");
      const conRpc = await conn.onRpc({ id: 20, method: "mqtt_publish", params: { requestTopicExpression: "sensor/x/request/${methodName}", valueExpression: "hello" } });
      expect(conRpc).toEqual({ success: true });
      expect(await setMsg).toBe("hello");

      expect(await conn.onRpc({ device: "Dev A", id: 21, method: "noSuchMethod", params: {} })).toBeUndefined();
    } finally {
      await conn.stop();
      await device.endAsync(true);
    }
  }, 20000);
});
