// Schema of the MQTT connector file (upstream mqtt.json). It accepts the current format and the
// old one (spec/connectors/mqtt.md §6) and outputs the current format: the old keys are listed
// (and described) so `validate` knows them, and the transform moves them into place.
// Written with zod/mini (see src/config/zod.ts).

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { deviceInfoFromOld, toCurrentFormat } from "./compat.ts";
import { pythonRegex } from "./topic.ts";

const Qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);
const Source = z.enum(["message", "topic", "constant"]);

/** An optional field with a description: the most common field shape in this file. */
const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));
const optString = (description: string) => opt(z.string(), description);
/** `source: "topic"` makes `field` a regex on the topic: refused here, at the field, when it does not compile. */
const topicRegexes = (pairs: Array<[source: string, field: string]>) =>
  z.superRefine((o: Record<string, unknown>, ctx) => {
    for (const [source, field] of pairs) {
      const expr = o[field];
      if (o[source] !== "topic" || typeof expr !== "string" || expr === "") continue;
      try {
        pythonRegex(expr);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `${source} is "topic", so this is a regular expression on the topic, and it does not compile: ${(e as Error).message}`, input: expr, path: [field] });
      }
    }
  });
/**
 * A converter or request handler needs a device name (deviceInfo, or the old keys compat.ts reads
 * as one), a custom converter its class; without them `run` skips the entry with an error. Custom
 * converters name their devices.
 */
const needsDeviceName = z.superRefine((o: Record<string, unknown>, ctx) => {
  if (o.type === "custom" && !o.extension) ctx.addIssue({ code: "custom", message: 'converter type custom needs "extension" (a class name or module file in <config>/extensions/mqtt/)', input: o.type, path: ["type"] });
  if (o.extension || o.type === "custom") return;
  const info = (o.deviceInfo ?? deviceInfoFromOld(o)) as { deviceNameExpression?: unknown } | undefined;
  if (typeof info?.deviceNameExpression === "string" && info.deviceNameExpression !== "") return;
  ctx.addIssue({
    code: "custom",
    message: 'a device name is required: "deviceInfo": {"deviceNameExpressionSource": "message", "deviceNameExpression": "${serialNumber}"} (or source "topic" with a regex on the topic, or "constant" with the name)',
    input: o.deviceInfo,
    path: o.deviceInfo ? ["deviceInfo", "deviceNameExpression"] : ["deviceInfo"],
  });
});

/** A Python regular expression the connector compiles (pythonRegex): refused here, with its place, when it does not compile. */
const PyRegex = (description: string) =>
  z.string().check(
    z.superRefine((s, ctx) => {
      try {
        pythonRegex(s);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `not a regular expression: ${(e as Error).message}`, input: s });
      }
    }),
    z.describe(description),
  );
const optFile = (description: string) => opt(z.string().check(z.meta({ tbgw: "file" })), description);

const SecuritySchema = z
  .object({
    type: opt(z.enum(["anonymous", "basic", "certificates"]), "anonymous, basic (username/password) or certificates (TLS)"),
    username: optString("MQTT username (used whenever present)"),
    password: z.optional(z.string()),
    pathToCACert: optFile("CA certificate (PEM), relative to the config folder; verifies the broker"),
    pathToPrivateKey: optFile("client private key (PEM)"),
    pathToClientCert: optFile("client certificate (PEM)"),
    insecure: opt(z.boolean(), "skip broker hostname verification"),
  })
  .check(z.describe("How the connector authenticates to the device broker"));

const optInt = (description: string) => opt(z.number().check(z.int()), description);

export const BrokerSchema = z
  .object({
    name: optString("broker name (default connector name)"),
    host: z.string().check(z.minLength(1), z.describe("device broker host")),
    port: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(65535)), 1883),
    clientId: optString("MQTT client id (default: 23 random lowercase letters); run as instance N it gets -N, or N in place of ${instance}"),
    version: z._default(z.number().check(z.int()), 5).check(z.describe("3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5; anything else is read as 5 with an error log")),
    keepAlive: z._default(z.number().check(z.int(), z.minimum(0)), 60).check(z.describe("keep-alive in seconds")),
    cleanSession: z._default(z.boolean(), true).check(z.describe("MQTT 3.x clean session; keep true with a shared subscription (validate warns otherwise)")),
    cleanStart: z._default(z.boolean(), true).check(z.describe("MQTT 5 clean start")),
    sessionExpiryInterval: z._default(z.number().check(z.int(), z.minimum(0)), 0).check(z.describe("MQTT 5 session expiry, seconds")),
    maxMessageNumberPerWorker: optInt("accepted for compatibility; conversion here is inline"),
    maxNumberOfWorkers: optInt("accepted for compatibility; conversion here is inline"),
    maxMessageQueue: optInt("accepted for compatibility"),
    maxProcessingMessageQueue: optInt("accepted for compatibility"),
    security: z.optional(SecuritySchema),
  })
  .check(z.describe("The device broker the connector subscribes to"));

const DeviceInfoSchema = z
  .object({
    deviceNameExpressionSource: opt(Source, "message: ${path} template; topic: regex on the topic; constant: literal"),
    deviceNameExpression: optString("device name expression (bytes converter: a [from:to] slice)"),
    deviceProfileExpressionSource: z.optional(Source),
    deviceProfileExpression: optString("device profile (type) expression; default `default`"),
  })
  .check(
    topicRegexes([
      ["deviceNameExpressionSource", "deviceNameExpression"],
      ["deviceProfileExpressionSource", "deviceProfileExpression"],
    ]),
    z.describe("Where the device name and profile come from"),
  );

const KeySchema = z
  .object({
    type: z._default(z.string(), "string").check(z.describe("string, integer/int/long, double/float, boolean/bool, json, raw (bytes)")),
    key: z.string().check(z.describe("key name: literal, ${path} template, or a regex on the topic with keySource: topic")),
    value: z
      .string()
      .check(
        z.meta({ tbgw: "expression", tbgwExpression: { template: true, enabledBy: "useEval", enablerNotTypes: ["bytes", "custom"], notForTypes: ["string", "str", "raw", "json"] } }),
        z.describe("value: ${path} template (json) or [from:to] slice (bytes); with useEval the rendered text is a Python expression"),
      ),
    keySource: z.optional(z.enum(["message", "topic", "constant"])),
    hexMode: opt(z.boolean(), "bytes converter: render the slice as lowercase hex"),
    reportStrategy: z.optional(ReportStrategySchema),
    tsField: optString("field or JSONPath holding this key's timestamp (number or date text)"),
    dayfirst: z.optional(z.boolean()),
    yearfirst: z.optional(z.boolean()),
  })
  .check(topicRegexes([["keySource", "key"]]), z.describe("One attribute or time series"));

const KeysOrAll = z.union([z.literal("*"), z.array(z.union([z.literal("*"), KeySchema]))]).check(z.describe('key list, or "*" for the whole JSON object'));

const ConverterSchema = z
  .looseObject({
    type: z.optional(z.enum(["json", "bytes", "custom"])),
    extension: optString("custom converter: class name or module file in <config>/extensions/mqtt/"),
    extensionConfig: opt(z.record(z.string(), z.unknown()), "passed to the custom converter"),
    "extension-config": opt(z.record(z.string(), z.unknown()), "old name of extensionConfig"),
    cached: opt(z.boolean(), "share one custom converter instance between mappings"),
    sharedId: optString("share one custom converter instance per id"),
    deviceInfo: z.optional(DeviceInfoSchema),
    useEval: opt(
      z.boolean(),
      "json converter: evaluate each rendered value text as a Python expression (safe subset, no eval) before converting it to a non-string type",
    ),
    useReceivedTs: opt(z.boolean(), "stamp all telemetry with the receive time"),
    sendDataOnlyOnChange: opt(z.boolean(), "legacy; ON_CHANGE report strategy when true"),
    reportStrategy: z.optional(ReportStrategySchema),
    timeout: opt(z.number(), "legacy, unused"),
    attributes: z.optional(KeysOrAll),
    timeseries: z.optional(KeysOrAll),
    deviceNameJsonExpression: optString("old format: device name from the message"),
    deviceTypeJsonExpression: optString("old format"),
    deviceNameTopicExpression: optString("old format: device name regex on the topic"),
    deviceTypeTopicExpression: optString("old format"),
    deviceNameExpression: optString("old format (bytes)"),
    deviceTypeExpression: optString("old format (bytes)"),
  })
  .check(needsDeviceName, z.describe("How messages of this topic are converted"));

export const MappingSchema = z.object({
  topicFilter: z.string().check(z.minLength(1), z.describe("MQTT topic filter; wildcards and shared subscriptions ($share/<group>/<filter>, $queue/<filter>, $share:<group>:<filter>) allowed; converters see the published topic")),
  subscriptionQos: z._default(Qos, 1),
  converter: ConverterSchema,
});

const OldDeviceKeys = {
  deviceNameJsonExpression: optString("old format"),
  deviceTypeJsonExpression: optString("old format"),
  deviceNameTopicExpression: optString("old format"),
  deviceTypeTopicExpression: optString("old format"),
};

const ConnectSchema = z
  .object({
    topicFilter: z.string().check(z.minLength(1)),
    subscriptionQos: z._default(Qos, 1),
    deviceInfo: z.optional(DeviceInfoSchema),
    ...OldDeviceKeys,
  })
  .check(needsDeviceName);

const AttributeRequestSchema = z.object({
  topicFilter: z.string().check(z.minLength(1), z.describe("topic on which devices ask for attributes")),
  subscriptionQos: z._default(Qos, 1),
  deviceInfo: z.optional(DeviceInfoSchema),
  attributeNameExpressionSource: opt(Source, "message/constant: ${...} list of names; topic: regex"),
  attributeNameExpression: z.optional(z.string()),
  scope: z._default(z.enum(["shared", "client"]), "shared").check(z.describe("a `scope` field in the message overrides it")),
  topicExpression: z.string().check(z.describe("reply topic; ${deviceName}, ${attributeKey}")),
  valueExpression: z.string().check(z.describe("reply payload; ${attributeKey}, ${attributeValue} (JSON)")),
  retain: z._default(z.boolean(), false),
  qos: z._default(Qos, 0),
  ...OldDeviceKeys,
  attributeNameJsonExpression: optString("old format"),
  attributeNameTopicExpression: optString("old format"),
}).check(needsDeviceName);

const AttributeUpdateSchema = z.object({
  deviceNameFilter: PyRegex("regex matched at the start of the device name"),
  attributeFilter: PyRegex("regex matched at the start of the attribute key"),
  topicExpression: z.string().check(z.describe("${deviceName}, ${attributeKey}, ${attributeValue}")),
  valueExpression: z.string().check(z.describe("${deviceName}, ${attributeKey}, ${attributeValue}")),
  retain: z._default(z.boolean(), false),
  qos: z._default(Qos, 0),
});

export const RpcHandlerSchema = z.object({
  type: opt(z.enum(["oneWay", "twoWay"]), "informative; a response topic and timeout make it two-way"),
  deviceNameFilter: PyRegex("regex searched in the device name"),
  methodFilter: PyRegex("regex searched in the method name"),
  requestTopicExpression: z.string().check(z.describe("${deviceName}, ${methodName}, ${requestId}, ${params.x}")),
  valueExpression: z.string().check(z.describe("payload; ${params} / ${params.x} as JSON")),
  responseTopicExpression: optString("two-way: topic the device answers on"),
  responseTimeout: opt(z.number().check(z.int(), z.positive()), "two-way: ms to wait for the answer"),
  responseTopicQoS: z._default(Qos, 1),
  retain: z._default(z.boolean(), false),
  qos: z._default(Qos, 0),
});

const RequestsSchema = {
  connectRequests: opt(z.array(ConnectSchema), "devices announcing themselves"),
  disconnectRequests: opt(z.array(ConnectSchema), "devices leaving"),
  attributeRequests: opt(z.array(AttributeRequestSchema), "devices asking for attribute values"),
  attributeUpdates: opt(z.array(AttributeUpdateSchema), "platform attribute updates published to devices"),
  serverSideRpc: opt(z.array(RpcHandlerSchema), "platform RPC published to devices"),
};

export const MqttInputSchema = z
  .object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    configVersion: z.optional(z.string()),
    broker: BrokerSchema,
    mapping: opt(z.array(MappingSchema), "data mappings: topic filter → converter"),
    dataMapping: opt(z.array(MappingSchema), "old name of mapping"),
    requestsMapping: opt(z.object(RequestsSchema), "request handlers (each may also be top level; top level wins)"),
    ...RequestsSchema,
  })
  .check(z.describe("MQTT connector: subscribes to a device broker and converts its messages"));

export type MqttInput = z.output<typeof MqttInputSchema>;
export type Mapping = z.output<typeof MappingSchema>;
export type ConverterConfig = Mapping["converter"];
export type KeyConfig = z.output<typeof KeySchema>;
export type DeviceInfo = z.output<typeof DeviceInfoSchema>;
export type ConnectRequest = z.output<typeof ConnectSchema>;
export type AttributeRequest = z.output<typeof AttributeRequestSchema>;
export type AttributeUpdateRule = z.output<typeof AttributeUpdateSchema>;
export type RpcHandler = z.output<typeof RpcHandlerSchema>;

export interface MqttConfig {
  name?: string;
  id?: string;
  logLevel?: string;
  broker: MqttInput["broker"];
  mapping: Mapping[];
  requestsMapping: {
    connectRequests: ConnectRequest[];
    disconnectRequests: ConnectRequest[];
    attributeRequests: AttributeRequest[];
    attributeUpdates: AttributeUpdateRule[];
    serverSideRpc: RpcHandler[];
  };
}

/** The connector file schema: input = current or old format, output = current format. */
export const MqttConfigSchema: z.ZodMiniType<MqttConfig, unknown> = z.pipe(MqttInputSchema, z.transform(toCurrentFormat));
