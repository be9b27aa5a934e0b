// Schema of the MQTT connector file (upstream mqtt.json). It accepts the current format and the
// old one (spec/connectors/mqtt.md §6) and outputs the current format: the old keys are listed
// (and described) so `validate` knows them, and the transform moves them into place.

import { z } from "zod";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { toCurrentFormat } from "./compat.ts";

const Qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);
const Source = z.enum(["message", "topic", "constant"]);

const SecuritySchema = z
  .object({
    type: z.enum(["anonymous", "basic", "certificates"]).optional().describe("anonymous, basic (username/password) or certificates (TLS)"),
    username: z.string().optional().describe("MQTT username (used whenever present)"),
    password: z.string().optional(),
    pathToCACert: z.string().meta({ tbgw: "file" }).optional().describe("CA certificate (PEM), relative to the config folder; verifies the broker"),
    pathToPrivateKey: z.string().meta({ tbgw: "file" }).optional().describe("client private key (PEM)"),
    pathToClientCert: z.string().meta({ tbgw: "file" }).optional().describe("client certificate (PEM)"),
    insecure: z.boolean().optional().describe("skip broker hostname verification"),
  })
  .describe("How the connector authenticates to the device broker");

export const BrokerSchema = z
  .object({
    name: z.string().optional().describe("broker name (default connector name)"),
    host: z.string().min(1).describe("device broker host"),
    port: z.number().int().min(1).max(65535).default(1883),
    clientId: z.string().optional().describe("MQTT client id (default: 23 random lowercase letters)"),
    version: z.number().int().default(5).describe("3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5; anything else is read as 5 with an error log"),
    keepAlive: z.number().int().min(0).default(60).describe("keep-alive in seconds"),
    cleanSession: z.boolean().default(true).describe("MQTT 3.x clean session"),
    cleanStart: z.boolean().default(true).describe("MQTT 5 clean start"),
    sessionExpiryInterval: z.number().int().min(0).default(0).describe("MQTT 5 session expiry, seconds"),
    maxMessageNumberPerWorker: z.number().int().optional().describe("accepted for compatibility; conversion here is inline"),
    maxNumberOfWorkers: z.number().int().optional().describe("accepted for compatibility; conversion here is inline"),
    maxMessageQueue: z.number().int().optional().describe("accepted for compatibility"),
    maxProcessingMessageQueue: z.number().int().optional().describe("accepted for compatibility"),
    security: SecuritySchema.optional(),
  })
  .describe("The device broker the connector subscribes to");

const DeviceInfoSchema = z
  .object({
    deviceNameExpressionSource: Source.optional().describe("message: ${path} template; topic: regex on the topic; constant: literal"),
    deviceNameExpression: z.string().optional().describe("device name expression (bytes converter: a [from:to] slice)"),
    deviceProfileExpressionSource: Source.optional(),
    deviceProfileExpression: z.string().optional().describe("device profile (type) expression; default `default`"),
  })
  .describe("Where the device name and profile come from");

const KeySchema = z
  .object({
    type: z.string().default("string").describe("string, integer/int/long, double/float, boolean/bool, json, raw (bytes)"),
    key: z.string().describe("key name: literal, ${path} template, or a regex on the topic with keySource: topic"),
    value: z.string().describe("value: ${path} template (json) or [from:to] slice (bytes)"),
    keySource: z.enum(["message", "topic", "constant"]).optional(),
    hexMode: z.boolean().optional().describe("bytes converter: render the slice as lowercase hex"),
    reportStrategy: ReportStrategySchema.optional(),
    tsField: z.string().optional().describe("field or JSONPath holding this key's timestamp (number or date text)"),
    dayfirst: z.boolean().optional(),
    yearfirst: z.boolean().optional(),
  })
  .describe("One attribute or time series");

const KeysOrAll = z.union([z.literal("*"), z.array(z.union([z.literal("*"), KeySchema]))]).describe('key list, or "*" for the whole JSON object');

const ConverterSchema = z
  .looseObject({
    type: z.enum(["json", "bytes", "custom"]).optional(),
    extension: z.string().optional().describe("custom converter: class name or module file in <config>/extensions/mqtt/"),
    extensionConfig: z.record(z.string(), z.unknown()).optional().describe("passed to the custom converter"),
    "extension-config": z.record(z.string(), z.unknown()).optional().describe("old name of extensionConfig"),
    cached: z.boolean().optional().describe("share one custom converter instance between mappings"),
    sharedId: z.string().optional().describe("share one custom converter instance per id"),
    deviceInfo: DeviceInfoSchema.optional(),
    useEval: z.boolean().optional().describe("not supported (Python eval); ignored with a warning"),
    useReceivedTs: z.boolean().optional().describe("stamp all telemetry with the receive time"),
    sendDataOnlyOnChange: z.boolean().optional().describe("legacy; ON_CHANGE report strategy when true"),
    reportStrategy: ReportStrategySchema.optional(),
    timeout: z.number().optional().describe("legacy, unused"),
    attributes: KeysOrAll.optional(),
    timeseries: KeysOrAll.optional(),
    deviceNameJsonExpression: z.string().optional().describe("old format: device name from the message"),
    deviceTypeJsonExpression: z.string().optional().describe("old format"),
    deviceNameTopicExpression: z.string().optional().describe("old format: device name regex on the topic"),
    deviceTypeTopicExpression: z.string().optional().describe("old format"),
    deviceNameExpression: z.string().optional().describe("old format (bytes)"),
    deviceTypeExpression: z.string().optional().describe("old format (bytes)"),
  })
  .describe("How messages of this topic are converted");

export const MappingSchema = z.object({
  topicFilter: z.string().min(1).describe("MQTT topic filter; wildcards and $share/<group>/... allowed"),
  subscriptionQos: Qos.default(1),
  converter: ConverterSchema,
});

const OldDeviceKeys = {
  deviceNameJsonExpression: z.string().optional().describe("old format"),
  deviceTypeJsonExpression: z.string().optional().describe("old format"),
  deviceNameTopicExpression: z.string().optional().describe("old format"),
  deviceTypeTopicExpression: z.string().optional().describe("old format"),
};

const ConnectSchema = z.object({
  topicFilter: z.string().min(1),
  subscriptionQos: Qos.default(1),
  deviceInfo: DeviceInfoSchema.optional(),
  ...OldDeviceKeys,
});

const AttributeRequestSchema = z.object({
  topicFilter: z.string().min(1).describe("topic on which devices ask for attributes"),
  subscriptionQos: Qos.default(1),
  deviceInfo: DeviceInfoSchema.optional(),
  attributeNameExpressionSource: Source.optional().describe("message/constant: ${...} list of names; topic: regex"),
  attributeNameExpression: z.string().optional(),
  scope: z.enum(["shared", "client"]).default("shared").describe("a `scope` field in the message overrides it"),
  topicExpression: z.string().describe("reply topic; ${deviceName}, ${attributeKey}"),
  valueExpression: z.string().describe("reply payload; ${attributeKey}, ${attributeValue} (JSON)"),
  retain: z.boolean().default(false),
  qos: Qos.default(0),
  ...OldDeviceKeys,
  attributeNameJsonExpression: z.string().optional().describe("old format"),
  attributeNameTopicExpression: z.string().optional().describe("old format"),
});

const AttributeUpdateSchema = z.object({
  deviceNameFilter: z.string().describe("regex matched at the start of the device name"),
  attributeFilter: z.string().describe("regex matched at the start of the attribute key"),
  topicExpression: z.string().describe("${deviceName}, ${attributeKey}, ${attributeValue}"),
  valueExpression: z.string().describe("${deviceName}, ${attributeKey}, ${attributeValue}"),
  retain: z.boolean().default(false),
  qos: Qos.default(0),
});

export const RpcHandlerSchema = z.object({
  type: z.enum(["oneWay", "twoWay"]).optional().describe("informative; a response topic and timeout make it two-way"),
  deviceNameFilter: z.string().describe("regex searched in the device name"),
  methodFilter: z.string().describe("regex searched in the method name"),
  requestTopicExpression: z.string().describe("${deviceName}, ${methodName}, ${requestId}, ${params.x}"),
  valueExpression: z.string().describe("payload; ${params} / ${params.x} as JSON"),
  responseTopicExpression: z.string().optional().describe("two-way: topic the device answers on"),
  responseTimeout: z.number().int().positive().optional().describe("two-way: ms to wait for the answer"),
  responseTopicQoS: Qos.default(1),
  retain: z.boolean().default(false),
  qos: Qos.default(0),
});

const RequestsSchema = {
  connectRequests: z.array(ConnectSchema).optional().describe("devices announcing themselves"),
  disconnectRequests: z.array(ConnectSchema).optional().describe("devices leaving"),
  attributeRequests: z.array(AttributeRequestSchema).optional().describe("devices asking for attribute values"),
  attributeUpdates: z.array(AttributeUpdateSchema).optional().describe("platform attribute updates published to devices"),
  serverSideRpc: z.array(RpcHandlerSchema).optional().describe("platform RPC published to devices"),
};

export const MqttInputSchema = z
  .object({
    name: z.string().optional(),
    id: z.string().optional(),
    logLevel: z.string().optional(),
    enableRemoteLogging: z.boolean().optional(),
    configVersion: z.string().optional(),
    broker: BrokerSchema,
    mapping: z.array(MappingSchema).optional().describe("data mappings: topic filter → converter"),
    dataMapping: z.array(MappingSchema).optional().describe("old name of mapping"),
    requestsMapping: z.object(RequestsSchema).optional().describe("request handlers (each may also be top level; top level wins)"),
    ...RequestsSchema,
  })
  .describe("MQTT connector: subscribes to a device broker and converts its messages");

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
export const MqttConfigSchema: z.ZodType<MqttConfig, unknown> = MqttInputSchema.transform(toCurrentFormat);
