// Schema of the upstream KNX connector file (spec/connectors/knx.md). Upstream names and defaults;
// group addresses and datapoint type names are checked here, so a typo is a `validate` error at its
// place instead of a key that silently never reports (upstream logs it at run time, if at all).

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { NO_TYPE, parseDpt } from "./dpt.ts";
import { parseGroupAddress } from "./address.ts";

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));

const checkedText = (check: (s: string) => string | undefined, description: string) =>
  z.string().check(
    z.superRefine((s, ctx) => {
      const problem = check(s);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: s });
    }),
    z.describe(description),
  );

const problemOf = (r: unknown) => (typeof r === "string" ? r : undefined);
const GroupAddress = checkedText((s) => problemOf(parseGroupAddress(s)), 'group address: "1/0/6" (3-level), "1/6" (2-level) or "1542" (free)');
const DataType = checkedText((s) => problemOf(parseDpt(s)), 'datapoint type: xknx value type name ("temperature", "humidity", "percentU8", "switch", "string", ...) or DPT number ("9.001")');
const OptionalType = checkedText((s) => (s === NO_TYPE ? undefined : problemOf(parseDpt(s))), `datapoint type of the group address in the expression, or "${NO_TYPE}"`);

const KeySchema = z.object({
  key: z.string().check(z.minLength(1), z.describe("attribute or telemetry key")),
  type: DataType,
  groupAddress: GroupAddress,
  reportStrategy: z.optional(ReportStrategySchema),
});

const Source = z.enum(["expression", "constant"]);

/** `${...}` parts of an expression-source name or profile must be group addresses. */
function placeholderProblem(template: string | undefined): string | undefined {
  for (const m of (template ?? "").matchAll(/\$\{([^}]*)\}/g)) {
    const r = parseGroupAddress(m[1]!);
    if (typeof r === "string") return `in "${template}": ${r} (a \${...} part names the group address whose value replaces it)`;
  }
  return undefined;
}

const DeviceInfoSchema = z.object({
  deviceNameExpressionSource: z._default(Source, "constant").check(z.describe("expression: ${<group address>} parts are read and replaced; constant: the text as is")),
  deviceNameExpression: z._default(z.string().check(z.minLength(1)), "KNX Device").check(z.describe('device name, e.g. "Device ${1/0/5}"')),
  deviceNameDataType: opt(OptionalType, "datapoint type of the group addresses in deviceNameExpression (default string)"),
  deviceProfileExpressionSource: z._default(Source, "constant"),
  deviceProfileExpression: opt(z.string(), "device profile; ${<group address>} parts are read and replaced (expression source)"),
  deviceProfileNameExpression: opt(z.string(), "device profile name (constant source; upstream's sample uses this key)"),
  deviceProfileDataType: opt(OptionalType, "datapoint type of the group addresses in the profile expression"),
}).check(
  z.superRefine((d, ctx) => {
    const name = d.deviceNameExpressionSource === "expression" ? placeholderProblem(d.deviceNameExpression) : undefined;
    if (name) ctx.addIssue({ code: "custom", path: ["deviceNameExpression"], message: name, input: d.deviceNameExpression });
    if (d.deviceProfileExpressionSource === "expression") {
      const field = d.deviceProfileExpression !== undefined ? "deviceProfileExpression" : "deviceProfileNameExpression";
      const problem = placeholderProblem(d[field]);
      if (problem) ctx.addIssue({ code: "custom", path: [field], message: problem, input: d[field] });
    }
  }),
);

const DeviceSchema = z.object({
  deviceInfo: DeviceInfoSchema,
  pollPeriod: z._default(z.number().check(z.int(), z.positive(), z.meta({ tbgw: "pollPeriod" })), 10000).check(z.describe("ms between polls of this device")),
  uplinkConverter: opt(
    z.string().check(z.minLength(1)),
    "custom uplink converter: a JS/TS class (or module file) in <config folder>/extensions/knx/ (KNXUplinkConverter = the built-in one), built with this device entry, convert(deviceEntry, {<group address>: {type, response, keys}}) per poll",
  ),
  reportStrategy: z.optional(ReportStrategySchema),
  attributes: z._default(z.array(KeySchema), []),
  timeseries: z._default(z.array(KeySchema), []),
});

const AttributeUpdateSchema = z.object({
  deviceNameFilter: z._default(z.string(), ".*").check(z.describe("regular expression the whole device name must match")),
  key: z.string().check(z.minLength(1), z.describe("shared attribute written to the group address")),
  groupAddress: GroupAddress,
  dataType: DataType,
});

const RpcSchema = z.object({
  method: z.string().check(z.minLength(1), z.describe("RPC method name")),
  deviceNameFilter: z._default(z.string(), ".*").check(z.describe("regular expression the whole device name must match")),
  requestType: z._default(z.enum(["read", "write"]), "read").check(z.describe("read: GroupValueRead, the answer is the reply; write: GroupValueWrite of the params")),
  groupAddress: GroupAddress,
  dataType: DataType,
});

const SecuritySchema = z.looseObject({});

const ScannerSchema = z.object({
  enabled: z._default(z.boolean(), false).check(z.describe("look for KNX/IP interfaces at start and log them")),
  scanPeriod: z._default(z.number().check(z.positive()), 3).check(z.describe("seconds to look")),
  stopOnFound: z._default(z.boolean(), false),
});

export const CONNECTION_TYPES = ["AUTOMATIC", "ROUTING", "ROUTING_SECURE", "TUNNELING", "TUNNELING_TCP", "TUNNELING_TCP_SECURE"] as const;

const ClientSchema = z.object({
  type: z._default(z.enum(CONNECTION_TYPES), "AUTOMATIC").check(z.describe("AUTOMATIC: tunnelling to gatewayIp when given, routing otherwise")),
  connectionType: opt(z.enum(CONNECTION_TYPES), "read by upstream's security code; `type` decides the connection"),
  addressFormat: z._default(z.enum(["SHORT", "LONG", "FREE"]), "LONG").check(z.describe("group address notation in logs; every notation is accepted in the file")),
  localIp: opt(z.string(), "local address: where the interface sends the tunnel back to, or (routing) the interface whose address joins the multicast group and sends to it; 0.0.0.0 or absent: the address the system routes from toward gatewayIp or the group"),
  localPort: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(65535)), 0).check(z.describe("accepted; the local port is chosen by the system")),
  gatewayIp: opt(z.string(), "KNX/IP interface address (tunnelling)"),
  gatewayIP: opt(z.string(), "same as gatewayIp (upstream's sample spells it this way)"),
  gatewayPort: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(65535)), 3671),
  individualAddress: opt(z.string().check(z.regex(/^\d{1,2}\.\d{1,2}\.\d{1,3}$/, 'an individual address is "area.line.device", e.g. "1.0.10"')), "our individual address when routing (default 15.15.250, as xknx); tunnelling gets one from the interface"),
  multicastGroup: z._default(z.string(), "224.0.23.12").check(z.describe("routing multicast group")),
  multicastPort: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(65535)), 3671),
  rateLimit: z._default(z.number().check(z.int(), z.minimum(0)), 0).check(z.describe("KNXnet/IP frames/s we send at most (0: unlimited, as fast as the interface acknowledges them)")),
  stateUpdater: z._default(z.boolean(), false).check(z.describe("accepted; polling reads the values")),
  autoReconnect: z._default(z.boolean(), true),
  autoReconnectWait: z._default(z.number().check(z.positive()), 3).check(z.describe("seconds before connecting again")),
  readTimeout: z._default(z.number().check(z.positive()), 2).check(z.describe("tb-gw: seconds a GroupValueRead waits for its answer (upstream: 2)")),
  security: opt(SecuritySchema, "KNX Secure keys (not supported yet)"),
  gatewaysScanner: z._default(ScannerSchema, { enabled: false, scanPeriod: 3, stopOnFound: false }),
}).check(
  z.refine((c) => !c.type.endsWith("_SECURE"), { message: "KNX Secure (ROUTING_SECURE, TUNNELING_TCP_SECURE) is not supported yet; use TUNNELING, TUNNELING_TCP or ROUTING", path: ["type"] }),
);

export const KnxConfigSchema = z.object({
  name: z.optional(z.string()),
  id: z.optional(z.string()),
  logLevel: z.optional(z.string()),
  enableRemoteLogging: z.optional(z.boolean()),
  client: ClientSchema,
  devices: z._default(z.array(DeviceSchema), []),
  attributeUpdates: z._default(z.array(AttributeUpdateSchema), []),
  serverSideRpc: z._default(z.array(RpcSchema), []),
});

export type KnxConfig = z.infer<typeof KnxConfigSchema>;
export type KnxClientConfig = KnxConfig["client"];
export type KnxDevice = KnxConfig["devices"][number];
export type KnxKey = KnxDevice["timeseries"][number];
export type KnxAttributeUpdate = KnxConfig["attributeUpdates"][number];
export type KnxRpc = KnxConfig["serverSideRpc"][number];
