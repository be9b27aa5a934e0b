import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { isOldFormat } from "./compat.ts";
import { MqttConfigSchema } from "./schema.ts";
import { compileFilter, pythonRegex, sharedSubscription, valueFromTopic } from "./topic.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { join } from "node:path";

const sample = JSON.parse(readFileSync(join(SAMPLES, "mqtt.json"), "utf8"));

describe("schema", () => {
  test("the upstream sample loads unchanged", () => {
    const c = MqttConfigSchema.parse(sample);
    expect(c.mapping).toHaveLength(4);
    expect(c.requestsMapping.serverSideRpc).toHaveLength(2);
    expect(c.broker.keepAlive).toBe(60);
    expect(isOldFormat(sample)).toBe(false);
  });
  test("the template config loads", () => {
    const t = JSON.parse(readFileSync(new URL("../../../config-templates/mqtt.json", import.meta.url), "utf8"));
    expect(MqttConfigSchema.safeParse(t).success).toBe(true);
  });
  test("missing mandatory keys are errors with their path", () => {
    const r = MqttConfigSchema.safeParse({ broker: { host: "h" }, mapping: [{ converter: {} }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join("."))).toContain("mapping.0.topicFilter");
    expect(MqttConfigSchema.safeParse({ mapping: [] }).success).toBe(false);
  });
});

describe("old format (backward compatibility adapter)", () => {
  const old = {
    broker: { host: "127.0.0.1" },
    dataMapping: [
      { topicFilter: "a/+", converter: { type: "json", deviceNameJsonExpression: "${sn}", deviceTypeTopicExpression: "a/(.*)", timeseries: [] } },
      { topicFilter: "b", converter: { type: "bytes", deviceNameExpression: "[0:2]", deviceTypeExpression: "t", timeseries: [] } },
      { topicFilter: "c", converter: { type: "custom", extension: "X", "extension-config": { k: 1 } } },
    ],
    connectRequests: [{ topicFilter: "c", deviceNameTopicExpression: "c/(.*)" }],
    disconnectRequests: [{ topicFilter: "d", deviceNameJsonExpression: "${n}" }],
    attributeRequests: [
      { topicFilter: "r", deviceNameJsonExpression: "${n}", attributeNameJsonExpression: "${k}", topicExpression: "x", valueExpression: "${attributeValue}" },
    ],
    attributeUpdates: [{ deviceNameFilter: ".*", attributeFilter: ".*", topicExpression: "u", valueExpression: "v" }],
    serverSideRpc: [{ deviceNameFilter: ".*", methodFilter: "m", requestTopicExpression: "q", valueExpression: "${params}" }],
    requestsMapping: { serverSideRpc: [{ deviceNameFilter: "ignored", methodFilter: "m", requestTopicExpression: "q", valueExpression: "" }] },
  };
  const c = MqttConfigSchema.parse(old);
  test("detected", () => expect(isOldFormat(old)).toBe(true));
  test("mapping converters get deviceInfo", () => {
    expect(c.mapping[0]!.converter.deviceInfo).toEqual({
      deviceNameExpressionSource: "message",
      deviceNameExpression: "${sn}",
      deviceProfileExpressionSource: "topic",
      deviceProfileExpression: "a/(.*)",
    });
    expect(c.mapping[1]!.converter.deviceInfo).toEqual({
      deviceNameExpressionSource: "message",
      deviceNameExpression: "[0:2]",
      deviceProfileExpressionSource: "message",
      deviceProfileExpression: "t",
    });
    expect(c.mapping[0]!.converter).not.toHaveProperty("deviceNameJsonExpression");
    expect(c.mapping[2]!.converter.extensionConfig).toEqual({ k: 1 });
  });
  test("requests move into requestsMapping; top level wins", () => {
    expect(c.requestsMapping.connectRequests[0]!.deviceInfo).toEqual({ deviceNameExpressionSource: "topic", deviceNameExpression: "c/(.*)" });
    expect(c.requestsMapping.disconnectRequests[0]!.deviceInfo).toEqual({ deviceNameExpressionSource: "message", deviceNameExpression: "${n}" });
    const ar = c.requestsMapping.attributeRequests[0]!;
    expect([ar.attributeNameExpressionSource, ar.attributeNameExpression]).toEqual(["message", "${k}"]);
    expect(c.requestsMapping.attributeUpdates).toHaveLength(1);
    expect(c.requestsMapping.serverSideRpc[0]!.deviceNameFilter).toBe(".*");
  });
  test("empty config parts", () => {
    const e = MqttConfigSchema.parse({ broker: { host: "h" } });
    expect(e.mapping).toEqual([]);
    expect(e.requestsMapping.connectRequests).toEqual([]);
  });
});

describe("topics", () => {
  test("filters with wildcards and $share", () => {
    expect(compileFilter("sensor/+/data")("sensor/a/data")).toBe(true);
    expect(compileFilter("sensor/+/data")("sensor/a/b/data")).toBe(false);
    expect(compileFilter("sensor/#")("sensor/a/b")).toBe(true);
    expect(compileFilter("sensor/#")("sensor")).toBe(true);
    expect(compileFilter("$share/g1/sensor/+")("sensor/x")).toBe(true);
    // the shared-subscription forms brokers take from MQTT 3.1.1 clients
    expect(compileFilter("$share/tbgw/sensor/+/data")("sensor/a/data")).toBe(true);
    expect(compileFilter("$share/tbgw/sensor/+/data")("tbgw/sensor/a/data")).toBe(false);
    expect(compileFilter("$queue/sensor/#")("sensor/a/b")).toBe(true);
    expect(compileFilter("$share:tbgw:sensor/+")("sensor/x")).toBe(true);
    expect(sharedSubscription("$share/tbgw/sensor/+")).toEqual({ group: "tbgw", filter: "sensor/+" });
    expect(sharedSubscription("$queue/sensor/+")).toEqual({ group: "$queue", filter: "sensor/+" });
    expect(sharedSubscription("$share:g:a/#")).toEqual({ group: "g", filter: "a/#" });
    expect(sharedSubscription("sensor/+")).toBeUndefined();
    expect(sharedSubscription("$share/nogroup")).toBeUndefined();
    expect(compileFilter("#")("$SYS/x")).toBe(false);
    expect(compileFilter("data/")("data/")).toBe(true);
  });
  test("value from topic: last group, whole match, optional groups, no match", () => {
    expect(valueFromTopic(pythonRegex("sensor/(.*)/data"), "sensor/A/data")).toBe("A");
    expect(valueFromTopic(pythonRegex("(s\\w+)/(.*)/data"), "sensor/A/data")).toBe("A");
    expect(valueFromTopic(pythonRegex("sensor/\\w"), "sensor/A/data")).toBe("sensor/A");
    expect(valueFromTopic(pythonRegex("sensor/(\\w)(/x)?"), "sensor/A/data")).toBe("A");
    expect(valueFromTopic(pythonRegex("nothing"), "sensor/A/data")).toBeUndefined();
  });
});

describe("convertSample (tb-gw validate --sample)", () => {
  test("runs the mapping matching the topic", async () => {
    const { descriptor } = await import("./index.ts");
    const c = MqttConfigSchema.parse(sample);
    const out = await descriptor.convertSample!(c, new TextEncoder().encode('{"temp": "20.5", "hum": 3, "sensorModel": "X"}'), {
      topic: "sensor/S1/data",
      configDir: "/nonexistent",
    });
    expect(out).toEqual([{ deviceName: "S1", deviceType: "Thermometer", attributes: { model: "X" }, telemetry: [{ values: { temperature: 20.5, humidity: "3" } }] }]);
    await expect(descriptor.convertSample!(c, new Uint8Array(), { topic: "no/such", configDir: "/x" })).rejects.toThrow(/no mapping matches topic no\/such/);
  });
});

test("a request rule's filter that is not a regular expression is refused by the schema, not skipped at run time (found by the config fuzz)", () => {
  const rule = { deviceNameFilter: "[", attributeFilter: ".*", topicExpression: "t", valueExpression: "v" };
  const r = MqttConfigSchema.safeParse({ broker: { host: "127.0.0.1" }, mapping: [], requestsMapping: { attributeUpdates: [rule] } });
  expect(r.success).toBe(false);
  expect(JSON.stringify(r.error?.issues)).toContain("not a regular expression");
});

test("a device name or key taken from the topic by a regex that does not compile is refused by the schema at that field (found by the config fuzz)", () => {
  const mapping = (deviceInfo: object, key: object) => ({ topicFilter: "s/+", converter: { type: "json", deviceInfo, timeseries: [{ type: "string", value: "${v}", ...key }] } });
  const parse = (m: object) => MqttConfigSchema.safeParse({ broker: { host: "127.0.0.1" }, mapping: [m] });
  const bad = parse(mapping({ deviceNameExpressionSource: "topic", deviceNameExpression: "(" }, { key: "k" }));
  expect(bad.success).toBe(false);
  expect(bad.error?.issues[0]?.path.join(".")).toBe("mapping.0.converter.deviceInfo.deviceNameExpression");
  expect(bad.error?.issues[0]?.message).toContain("does not compile");
  expect(parse(mapping({ deviceNameExpressionSource: "topic", deviceNameExpression: "s/(.*)" }, { key: "[", keySource: "topic" })).success).toBe(false);
  // the same text from a message template or a constant is no regex
  expect(parse(mapping({ deviceNameExpressionSource: "constant", deviceNameExpression: "(" }, { key: "[" })).success).toBe(true);
});

test("a converter or request without a device name is refused by validate at its deviceInfo; run skipped it with an error (found by the config fuzz through run --check)", () => {
  const parse = (c: object) => MqttConfigSchema.safeParse({ broker: { host: "127.0.0.1" }, ...c });
  const json = (deviceInfo?: object) => ({ mapping: [{ topicFilter: "s/+", converter: { type: "json", ...(deviceInfo ? { deviceInfo } : {}), timeseries: [] } }] });
  const noName = parse(json({ deviceProfileExpression: "t" }));
  expect(noName.success).toBe(false);
  expect(noName.error?.issues.map((i) => i.path.join("."))).toEqual(["mapping.0.converter.deviceInfo.deviceNameExpression"]);
  expect(parse(json({ deviceNameExpressionSource: "constant", deviceNameExpression: "" })).success).toBe(false);
  expect(parse(json()).success).toBe(false);
  // the old format's keys and custom converters name devices their own way
  expect(parse({ mapping: [{ topicFilter: "s/+", converter: { type: "json", deviceNameJsonExpression: "${sn}", timeseries: [] } }] }).success).toBe(true);
  expect(parse({ mapping: [{ topicFilter: "s/+", converter: { type: "custom", extension: "Mine" } }] }).success).toBe(true);
  expect(parse({ mapping: [{ topicFilter: "s/+", converter: { type: "custom" } }] }).error?.issues.map((i) => i.path.join("."))).toEqual(["mapping.0.converter.type"]);
  const connect = parse({ mapping: [], requestsMapping: { connectRequests: [{ topicFilter: "c" }] } });
  expect(connect.error?.issues.map((i) => i.path.join("."))).toEqual(["requestsMapping.connectRequests.0.deviceInfo"]);
});
