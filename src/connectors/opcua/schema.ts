// Schema of the upstream opcua.json (spec/connectors/opcua.md §2). The old format (mapping under
// `server`, deviceNamePattern, {key, path} keys) is converted first, as upstream's
// backward_compatibility_adapter does, so the rest of the connector sees only the current shape.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const SourceSchema = z.enum(["path", "identifier", "constant"]);

const KeySchema = z.object({
  key: z.string().check(z.minLength(1), z.describe("ThingsBoard key")),
  type: z._default(SourceSchema, "path").check(z.describe("path: ${Relative\\.Path} or ${Root\\.…}; identifier: ${ns=2;i=12}; constant: the value itself")),
  value: z.unknown().check(z.describe("node reference (path or node id, usually inside ${...}) or the constant value")),
  timestampLocation: z
    .optional(
      z.pipe(
        z.pipe(
          z.string(),
          z.transform((s: string) => s.toLowerCase()),
        ),
        z.enum(["gateway", "sourcetimestamp", "servertimestamp"]),
      ),
    )
    .check(z.describe("which timestamp telemetry gets: gateway (default), SourceTimestamp or ServerTimestamp")),
  reportStrategy: z.optional(ReportStrategySchema),
});

const AttributeUpdateSchema = z.object({
  key: z.string().check(z.minLength(1), z.describe("shared attribute on ThingsBoard")),
  type: z._default(SourceSchema, "path"),
  value: z.string().check(z.minLength(1), z.describe("target node: path (absolute or relative to the device node) or node id")),
});

const RpcArgumentSchema = z.object({
  type: z._default(z.string(), "string").check(z.describe("integer, double, float, string, boolean, or an OPC-UA data type name")),
  value: z.unknown(),
});

const RpcMethodSchema = z.object({
  method: z.string().check(z.minLength(1), z.describe("browse name of a method of the device node")),
  arguments: z._default(z.array(RpcArgumentSchema), []),
});

const DeviceInfoSchema = z.object({
  deviceNameExpressionSource: z._default(SourceSchema, "constant"),
  deviceNameExpression: z
    .string()
    .check(z.minLength(1), z.meta({ tbgw: "deviceName" }), z.describe("constant name, or ${RelativeNode} / ${Root\\.…} / ${ns=2;s=Name} whose value is read")),
  deviceProfileExpressionSource: z._default(SourceSchema, "constant"),
  deviceProfileExpression: z._default(z.string(), "default"),
});

export const OpcuaMappingSchema = z.object({
  deviceNodeSource: z.optional(z.enum(["path", "identifier"])).check(z.describe("how deviceNodePattern is read (detected when absent)")),
  deviceNodePattern: z.string().check(z.minLength(1), z.describe("browse path with escaped dots (Root\\.Objects\\.MyObject) or a node id (ns=2;i=5)")),
  deviceInfo: DeviceInfoSchema,
  reportStrategy: z.optional(ReportStrategySchema),
  converter: z.optional(z.string()).check(z.describe("custom uplink converter: a class exported by a .ts/.js module in <config folder>/extensions/opcua/ (OpcUaUplinkConverter = the built-in conversion)")),
  attributes: z._default(z.array(KeySchema), []),
  timeseries: z._default(z.array(KeySchema), []),
  attributes_updates: z._default(z.array(AttributeUpdateSchema), []),
  rpc_methods: z._default(z.array(RpcMethodSchema), []),
});

const file = () => z.optional(z.string().check(z.meta({ tbgw: "file" })));

const IdentitySchema = z.object({
  type: z._default(z.enum(["anonymous", "username", "certificates", "cert.PEM"]), "anonymous"),
  username: z.optional(z.string()),
  password: z.optional(z.string()),
  caCert: file(),
  pathToCACert: file(),
  privateKey: file(),
  pathToPrivateKey: file(),
  cert: file(),
  pathToClientCert: file(),
  mode: z.optional(z.enum(["None", "Sign", "SignAndEncrypt"])).check(z.describe("message security mode (default SignAndEncrypt when certificates are used)")),
});

const posInt = (dflt: number) => z._default(z.number().check(z.int(), z.positive()), dflt);
const nonNegInt = (dflt: number) => z._default(z.number().check(z.int(), z.nonnegative()), dflt);
const pos = (dflt: number) => z._default(z.number().check(z.positive()), dflt);

export const OpcuaServerSchema = z.object({
  url: z
    .pipe(
      z.string().check(z.minLength(1)),
      z.transform((u: string) => (u.includes("://") ? u : `opc.tcp://${u}`)),
    )
    .check(z.describe("endpoint, e.g. opc.tcp://host:4840/path (opc.tcp:// is added when missing)")),
  timeoutInMillis: posInt(4000),
  sessionTimeoutInMillis: posInt(120000),
  scanPeriodInMillis: posInt(3600000).check(z.describe("re-browse period for new devices")),
  pollPeriodInMillis: posInt(5000),
  enableSubscriptions: z._default(z.boolean(), true),
  subCheckPeriodInMillis: z
    .pipe(
      z._default(z.number().check(z.int()), 100),
      z.transform((n: number) => Math.max(100, n)),
    )
    .check(z.describe("publishing interval (min 100)")),
  subDataMaxBatchSize: posInt(1000),
  subDataMinBatchCreationTimeMs: nonNegInt(200),
  subscriptionProcessBatchSize: posInt(2000),
  subKeepAlivePeriodInSeconds: nonNegInt(0),
  reconnectRetriesCount: nonNegInt(8),
  reconnectBackoffInitialDelay: pos(1),
  reconnectBackoffFactor: pos(2),
  showMap: z._default(z.boolean(), false),
  uri: z.optional(z.string()).check(z.describe("client application URI")),
  security: z
    .optional(z.enum(["None", "Basic128Rsa15", "Basic256", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]))
    .check(z.describe("security policy; applies when identity uses certificates or mode is Sign/SignAndEncrypt")),
  identity: z._default(IdentitySchema, { type: "anonymous" }),
});

const CurrentSchema = z.object({
  name: z.optional(z.string()),
  id: z.optional(z.string()),
  logLevel: z.optional(z.string()),
  enableRemoteLogging: z.optional(z.boolean()),
  reportStrategy: z.optional(ReportStrategySchema),
  server: OpcuaServerSchema,
  mapping: z._default(z.array(OpcuaMappingSchema), []),
});

/** Detect the source kind of an old-format expression, as upstream's adapter does. */
export function detectSource(expr: unknown): "identifier" | "path" | "constant" {
  const s = String(expr ?? "");
  if (/ns=\d+;[isgb]=/.test(s)) return "identifier";
  if (/\$\{.*\}/.test(s)) return "path";
  return "constant";
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Old format → current format; anything already current passes through unchanged. */
export function adaptOldFormat(input: unknown): unknown {
  if (!isObj(input) || !isObj(input.server)) return input;
  const server = input.server as Obj;
  const oldMapping = Array.isArray(server.mapping) ? (server.mapping as unknown[]) : undefined;
  const isOld = oldMapping?.some((m) => isObj(m) && !("deviceInfo" in m));
  if (!isOld || !oldMapping) return input;
  const { mapping: _m, disableSubscriptions, ...restServer } = server;
  const newServer: Obj = { ...restServer };
  if (typeof disableSubscriptions === "boolean") newServer.enableSubscriptions = !disableSubscriptions;
  const keys = (list: unknown) =>
    Array.isArray(list) ? list.filter(isObj).map(({ path, ...k }) => ({ ...k, type: detectSource(path), value: path })) : [];
  const mapping = oldMapping.filter(isObj).map((m) => {
    const nameSrc = detectSource(m.deviceNamePattern);
    const profile = m.deviceTypePattern ?? "default";
    const nodeSrc = detectSource(m.deviceNodePattern);
    return {
      deviceNodeSource: nodeSrc === "constant" ? "path" : nodeSrc,
      deviceNodePattern: m.deviceNodePattern,
      deviceInfo: {
        deviceNameExpressionSource: nameSrc,
        deviceNameExpression: m.deviceNamePattern,
        deviceProfileExpressionSource: detectSource(profile),
        deviceProfileExpression: profile,
      },
      ...(m.reportStrategy ? { reportStrategy: m.reportStrategy } : {}),
      ...(m.converter ? { converter: m.converter } : {}),
      attributes: keys(m.attributes),
      timeseries: keys(m.timeseries),
      attributes_updates: Array.isArray(m.attributes_updates)
        ? m.attributes_updates.filter(isObj).map((u) =>
            "attributeOnThingsBoard" in u
              ? { key: u.attributeOnThingsBoard, type: detectSource(u.attributeOnDevice), value: u.attributeOnDevice }
              : u,
          )
        : [],
      rpc_methods: Array.isArray(m.rpc_methods)
        ? m.rpc_methods.filter(isObj).map((r) => ({
            method: r.method,
            arguments: Array.isArray(r.arguments) ? r.arguments.map(oldArgument) : [],
          }))
        : [],
    };
  });
  return { ...input, server: newServer, mapping };
}

function oldArgument(a: unknown): unknown {
  if (isObj(a) && "type" in a && "value" in a) return a;
  const type = typeof a === "boolean" ? "boolean" : typeof a === "number" ? (Number.isInteger(a) ? "integer" : "double") : "string";
  return { type, value: a };
}

export const OpcuaConfigSchema = z.pipe(z.transform(adaptOldFormat), CurrentSchema).check(z.describe("OPC-UA connector (opcua.json)"));

export type OpcuaConfig = z.output<typeof CurrentSchema>;
export type OpcuaMapping = z.output<typeof OpcuaMappingSchema>;
export type OpcuaKey = OpcuaMapping["timeseries"][number];
export type OpcuaServer = z.output<typeof OpcuaServerSchema>;
