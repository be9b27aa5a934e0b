// Schema of the upstream REST connector file (spec/connectors/rest.md). Reads the current format
// and the old one (host/port/SSL/security at the top, deviceNameExpression in the converter,
// request sections at the top) and outputs the current one. zod/mini, like the other connectors.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { ClientSecuritySchema, EndpointSecuritySchema, HeadersSchema, opt } from "../../common/http/schema.ts";

const Port = z.pipe(
  z.union([z.number(), z.string().check(z.regex(/^\s*\d+\s*$/, "a port number"))]),
  z.transform((p: number | string) => Number(p)),
).check(z.refine((p) => Number.isInteger(p) && p >= 0 && p <= 65535, "a port is 0 to 65535 (0 = any free port)"));

const Methods = z.array(z.pipe(z.string(), z.transform((s: string) => s.toUpperCase()))).check(
  z.minLength(1),
  z.describe("HTTP methods this endpoint accepts (GET, POST, PUT, ...); case-insensitive"),
);

const Source = z.enum(["request", "constant", "message", "expression"]);

const DeviceInfoSchema = z
  .object({
    deviceNameExpressionSource: opt(Source, "request: ${field} template over the request data; constant: literal"),
    deviceNameExpression: z.string().check(z.minLength(1), z.describe("device name, e.g. ${sensorName}")),
    deviceProfileExpressionSource: z.optional(Source),
    deviceProfileExpression: opt(z.string(), "device profile (type); default `default`"),
  })
  .check(z.describe("Where the device name and profile come from"));

export const KeySchema = z
  .object({
    key: z.string().check(z.describe("key name: literal or ${field} template")),
    type: z._default(z.string(), "string").check(z.describe("string, int/integer/long, float/double, bool/boolean, json: the value is converted to it")),
    value: z.string().check(z.describe("value: ${field} or JSONPath template, or a literal")),
    reportStrategy: z.optional(ReportStrategySchema),
    tsField: opt(z.string(), "field or JSONPath with this key's timestamp (number or date text)"),
    dayfirst: z.optional(z.boolean()),
    yearfirst: z.optional(z.boolean()),
  })
  .check(z.describe("One attribute or time series"));

const ConverterSchema = z
  .object({
    type: opt(z.enum(["json", "custom"]), "json (built in) or custom (extension)"),
    extension: opt(z.string(), "custom converter: class name or module file in <config>/extensions/rest/"),
    extensionConfig: opt(z.unknown(), "passed to the custom converter"),
    "extension-config": opt(z.unknown(), "old name of extensionConfig"),
    deviceInfo: z.optional(DeviceInfoSchema),
    deviceNameExpression: opt(z.string(), "old format: device name template"),
    deviceTypeExpression: opt(z.string(), "old format: device type template"),
    attributes: z._default(z.array(KeySchema), []),
    timeseries: z._default(z.array(KeySchema), []),
  })
  .check(
    // the connector cannot build this converter at start: say so here, at its place
    z.superRefine((c, ctx) => {
      if (c.type === "custom" && !c.extension) ctx.addIssue({ code: "custom", message: 'converter type custom needs "extension" (a class name or module file in <config>/extensions/rest/)', input: c, path: ["type"] });
    }),
    z.describe("How a request's data becomes device data"),
  );

const ResponseSchema = z
  .object({
    responseExpected: z._default(z.boolean(), false).check(z.describe("hold the answer until the platform sets responseAttribute of the device")),
    timeout: z._default(z.number().check(z.positive()), 120).check(z.describe("seconds to hold the answer (then 408)")),
    responseAttribute: opt(z.string(), "shared attribute whose update is the answer body"),
    successResponse: opt(z.unknown(), "body of the 200 answer (text as is, anything else as JSON)"),
    unsuccessfulResponse: opt(z.unknown(), "body of 4xx/5xx answers"),
  })
  .check(z.describe("What the device gets back"));

export const MappingSchema = z.object({
  endpoint: z.string().check(z.regex(/^\//, "an endpoint is a path starting with /"), z.describe("path; {name} segments are path parameters, e.g. /dev/{deviceName}/data")),
  HTTPMethods: Methods,
  security: z._default(EndpointSecuritySchema, { type: "anonymous" }),
  response: z._default(ResponseSchema, { responseExpected: false, timeout: 120 }),
  reportStrategy: z.optional(ReportStrategySchema),
  converter: ConverterSchema,
});

const AttributeRequestSchema = z.object({
  endpoint: z.string().check(z.regex(/^\//, "an endpoint is a path starting with /")),
  type: z.enum(["shared", "client"]).check(z.describe("attribute scope asked of the platform")),
  HTTPMethods: Methods,
  security: z._default(EndpointSecuritySchema, { type: "anonymous" }),
  timeout: z._default(z.number().check(z.positive()), 10).check(z.describe("seconds to wait for the platform (then 408)")),
  deviceNameExpression: z.string().check(z.describe("device name template over the request data")),
  attributeNameExpression: z.string().check(z.describe("${a}${b}: each placeholder's value is one attribute name")),
});

const OutgoingFields = {
  deviceNameFilter: z.string().check(z.describe("regex, full match on the device name")),
  requestUrlExpression: z.string().check(z.describe("URL template; http:// is prepended when it has no scheme")),
  valueExpression: z._default(z.string(), "").check(z.describe("body template")),
  HTTPMethod: z._default(z.pipe(z.string(), z.transform((s: string) => s.toUpperCase())), "GET"),
  httpHeaders: z._default(HeadersSchema, {}),
  SSLVerify: z._default(z.boolean(), true).check(z.describe("verify the server certificate (false: encrypted, unverified; logged as a warning)")),
  security: z._default(ClientSecuritySchema, { type: "anonymous" }),
  timeout: z._default(z.number().check(z.positive()), 10).check(z.describe("seconds")),
  allowRedirects: z._default(z.boolean(), false),
  tries: opt(z.number(), "accepted, unused (as upstream)"),
  extension: opt(z.string(), "custom downlink converter: a class in <config>/extensions/rest/ (built with this rule; convert(config, {device, data}) returns {url, data})"),
};

const AttributeUpdateSchema = z.object({
  ...OutgoingFields,
  attributeFilter: z.string().check(z.describe("regex, full match on the attribute key")),
});

const RpcSchema = z.object({
  ...OutgoingFields,
  methodFilter: z.string().check(z.describe("regex, full match on the RPC method")),
  responseTimeout: opt(z.number().check(z.positive()), "seconds; accepted, the request's own timeout applies (as upstream)"),
});

const RequestsSchema = z.object({
  attributeRequests: z._default(z.array(AttributeRequestSchema), []),
  attributeUpdates: z._default(z.array(AttributeUpdateSchema), []),
  serverSideRpc: z._default(z.array(RpcSchema), []),
});

const ServerSchema = z.object({
  host: z._default(z.string(), "0.0.0.0").check(z.describe("bind address")),
  port: z._default(Port, 5000).check(z.meta({ tbgw: "listenPort" })),
  SSL: z._default(z.boolean(), false).check(z.describe("serve HTTPS with security.cert and security.key")),
  security: z.optional(
    z.object({
      cert: opt(z.string(), "server certificate (PEM)"),
      key: opt(z.string(), "its private key (PEM)"),
    }),
  ),
  maxBodySize: z._default(z.number().check(z.int(), z.positive()), 1048576).check(z.describe("bytes; a larger body is refused with 413 before it is read (tb-gw addition)")),
});

export const RestInputSchema = z
  .object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    debugMode: opt(z.boolean(), "accepted, unused"),
    configVersion: z.optional(z.string()),
    server: z.optional(ServerSchema),
    // old format: the server fields at the top
    host: opt(z.string(), "old format: server.host"),
    port: z.optional(Port),
    SSL: opt(z.boolean(), "old format: server.SSL"),
    security: z.optional(z.object({ cert: z.optional(z.string()), key: z.optional(z.string()) })),
    mapping: z.array(MappingSchema).check(z.describe("endpoints devices send data to")),
    requestsMapping: z.optional(RequestsSchema),
    attributeRequests: opt(z.array(AttributeRequestSchema), "old format: requestsMapping.attributeRequests"),
    attributeUpdates: opt(z.array(AttributeUpdateSchema), "old format"),
    serverSideRpc: opt(z.array(RpcSchema), "old format"),
  })
  .check(z.describe("REST connector: an HTTP server devices push data to"));

export type RestInput = z.output<typeof RestInputSchema>;
export type RestMapping = z.output<typeof MappingSchema>;
export type RestConverterConfig = RestMapping["converter"];
export type AttributeRequestRule = z.output<typeof AttributeRequestSchema>;
export type AttributeUpdateRule = z.output<typeof AttributeUpdateSchema>;
export type RpcRule = z.output<typeof RpcSchema>;
export type ServerConfig = z.output<typeof ServerSchema>;

export interface RestConfig {
  name?: string;
  server: ServerConfig;
  mapping: RestMapping[];
  requestsMapping: { attributeRequests: AttributeRequestRule[]; attributeUpdates: AttributeUpdateRule[]; serverSideRpc: RpcRule[] };
}

/** Old converter keys → deviceInfo (source `request` when the text has a placeholder). */
function converterToCurrent(c: RestConverterConfig): RestConverterConfig {
  if (c.deviceInfo || c.deviceNameExpression === undefined) return c;
  const source = (e: string) => (/\$\{[^}]+\}/.test(e) ? "request" : "constant");
  const type = c.deviceTypeExpression ?? "default";
  const { deviceNameExpression, deviceTypeExpression: _, ...rest } = c;
  return {
    ...rest,
    deviceInfo: {
      deviceNameExpressionSource: source(deviceNameExpression),
      deviceNameExpression,
      deviceProfileExpressionSource: source(type),
      deviceProfileExpression: type,
    },
  };
}

function toCurrent(i: RestInput): RestConfig {
  const server: ServerConfig = i.server ?? {
    host: i.host ?? "0.0.0.0",
    port: i.port ?? 5000,
    SSL: i.SSL ?? false,
    security: i.security,
    maxBodySize: 1048576,
  };
  const r = i.requestsMapping;
  return {
    name: i.name,
    server,
    mapping: i.mapping.map((m) => ({ ...m, converter: converterToCurrent(m.converter) })),
    requestsMapping: {
      attributeRequests: i.attributeRequests ?? r?.attributeRequests ?? [],
      attributeUpdates: i.attributeUpdates ?? r?.attributeUpdates ?? [],
      serverSideRpc: i.serverSideRpc ?? r?.serverSideRpc ?? [],
    },
  };
}

export const RestConfigSchema: z.ZodMiniType<RestConfig, unknown> = z.pipe(
  RestInputSchema.check(
    z.refine((i) => i.server !== undefined || i.host !== undefined, { message: 'the server needs "server": {"host", "port"} (or host/port at the top, old format)', path: ["server"] }),
    z.refine((i) => i.mapping.every((m) => m.converter.deviceInfo?.deviceNameExpression !== undefined || m.converter.deviceNameExpression !== undefined || !!m.converter.extension), {
      message: "every mapping's converter needs deviceInfo.deviceNameExpression",
      path: ["mapping"],
    }),
  ),
  z.transform(toCurrent),
);
