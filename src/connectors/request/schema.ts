// Schema of the upstream Request connector file (spec/connectors/request.md): endpoints polled on
// their own period, converted with the JSON key mapping shared with MQTT and REST, and downlink
// rules sending HTTP requests. zod/mini, like the other connectors.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { HeadersSchema, opt } from "../../common/http/schema.ts";
import { KeySchema } from "../rest/schema.ts";

const Method = z._default(z.pipe(z.string(), z.transform((s: string) => s.toUpperCase())), "GET");

const ConverterSchema = z
  .object({
    type: opt(z.enum(["json", "custom"]), "json (built in) or custom (extension)"),
    deviceNameJsonExpression: z.string().check(z.minLength(1), z.describe("device name: literal or ${path} template over the response")),
    deviceTypeJsonExpression: opt(z.string(), "device type: literal or template; default `default`"),
    attributes: z._default(z.array(KeySchema), []),
    telemetry: z._default(z.array(KeySchema), []),
    extension: opt(z.string(), "custom converter: class name or module file in <config>/extensions/request/"),
    "extension-config": opt(z.unknown(), "passed to the custom converter"),
    extensionConfig: opt(z.unknown(), "same as extension-config"),
  })
  .check(
    // the connector cannot build this converter at start: say so here, at its place
    z.superRefine((c, ctx) => {
      if (c.type === "custom" && !c.extension) ctx.addIssue({ code: "custom", message: 'converter type custom needs "extension" (a class name or module file in <config>/extensions/request/)', input: c, path: ["type"] });
    }),
    z.describe("How a response becomes device data"),
  );

const SubRequestSchema = z.object({
  url: z.string().check(z.describe("URL template over the response item; relative URLs extend the parent URL")),
  processingFunction: opt(
    z.string().check(z.meta({ tbgw: "expression", tbgwExpression: { function: { name: "process_data", params: ["data", "key"] } } })),
    "Python `def process_data(data, key): ... return {...}`: data = the sub-request's answer, key = this key; the dict returned is merged into the item. Safe subset (assignments, if/elif/else, return; expressions of src/common/expressions/README.md), no exec",
  ),
});

export const PollSchema = z.object({
  url: z.string().check(z.minLength(1), z.describe("path under host, or a full URL")),
  httpMethod: Method,
  httpHeaders: z._default(HeadersSchema, {}),
  content: opt(z.unknown(), "accepted, unused (as upstream; the body is `data`)"),
  data: opt(z.union([z.string(), z.record(z.string(), z.unknown())]), "body: an object is sent form-encoded (a=1&b=2), a string as it is"),
  allowRedirects: z._default(z.boolean(), false),
  timeout: z._default(z.number().check(z.positive()), 1).check(z.describe("seconds")),
  scanPeriod: z._default(z.number().check(z.positive()), 10).check(z.describe("seconds between polls")),
  dataUnpackExpression: z._default(z.string(), "").check(z.describe("${path}: the part of the response to convert")),
  subRequests: opt(z.record(z.string(), SubRequestSchema), "key → a request per item whose JSON object answer (or its processingFunction's dict) is merged into the item"),
  reportStrategy: z.optional(ReportStrategySchema),
  converter: ConverterSchema,
});

const OutgoingFields = {
  deviceNameFilter: z.string().check(z.describe("regex, full match on the device name")),
  requestUrlExpression: z.string().check(z.describe("URL template; relative to host unless it has a scheme")),
  requestValueExpression: z._default(z.string(), "").check(z.describe("body template")),
  httpMethod: Method,
  httpHeaders: z._default(HeadersSchema, {}),
  timeout: z._default(z.number().check(z.positive()), 1).check(z.describe("seconds")),
  allowRedirects: z._default(z.boolean(), false),
  tries: opt(z.number(), "accepted, unused (as upstream)"),
  converter: opt(z.string(), "custom downlink converter: a class in <config>/extensions/request/ (built with this rule; convert(config, {device, data}) returns {url, data}); JsonRequestDownlinkConverter = the built-in templates"),
};

const AttributeUpdateSchema = z.object({ ...OutgoingFields, attributeFilter: z.string().check(z.describe("regex, full match on the attribute key")) });

const RpcSchema = z.object({
  ...OutgoingFields,
  methodFilter: z.string().check(z.describe("regex, full match on the RPC method")),
  responseValueExpression: opt(z.string(), "${path} template over the JSON answer: the reply is {value: <text>}"),
  responseTimeout: z._default(z.number().check(z.positive()), 5).check(z.describe("seconds to wait for the answer")),
});

export const RequestConfigSchema = z
  .object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    configVersion: z.optional(z.string()),
    host: z.string().check(z.minLength(1), z.describe("base URL; http:// is prepended when it has no scheme")),
    SSLVerify: z._default(z.boolean(), true).check(z.describe("verify HTTPS server certificates (false: encrypted, unverified; logged as a warning)")),
    caCert: opt(z.string(), "CA certificate file (PEM) that signs the servers' certificates, relative to the config folder (tb-gw addition; default: the system's CAs)"),
    security: z._default(
      z.object({
        type: z._default(z.string(), "anonymous").check(z.describe("basic: HTTP Basic with username/password (or REQUEST_BASIC_USERNAME/PASSWORD); anything else: anonymous")),
        username: z.optional(z.string()),
        password: z.optional(z.string()),
      }),
      { type: "anonymous" },
    ),
    maxConcurrentRequests: z._default(z.number().check(z.int(), z.positive()), 16).check(z.describe("polls in flight at once across all mappings (tb-gw addition)")),
    mapping: z.array(PollSchema).check(z.describe("endpoints to poll")),
    attributeUpdates: z._default(z.array(AttributeUpdateSchema), []),
    serverSideRpc: z._default(z.array(RpcSchema), []),
  })
  .check(z.describe("Request connector: polls HTTP endpoints and converts their JSON answers"));

export type RequestConfig = z.infer<typeof RequestConfigSchema>;
export type PollMapping = RequestConfig["mapping"][number];
export type RequestConverterConfig = PollMapping["converter"];
export type RequestRpcRule = RequestConfig["serverSideRpc"][number];
