// Schema of the upstream opcua.json (spec/connectors/opcua.md §2). The old format (mapping under
// `server`, deviceNamePattern, {key, path} keys) is converted first, as upstream's
// backward_compatibility_adapter does, so the rest of the connector sees only the current shape.

import { z } from "zod";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const SourceSchema = z.enum(["path", "identifier", "constant"]);

const KeySchema = z.object({
  key: z.string().min(1).describe("ThingsBoard key"),
  type: SourceSchema.default("path").describe("path: ${Relative\\.Path} or ${Root\\.…}; identifier: ${ns=2;i=12}; constant: the value itself"),
  value: z.unknown().describe("node reference (path or node id, usually inside ${...}) or the constant value"),
  timestampLocation: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(["gateway", "sourcetimestamp", "servertimestamp"]))
    .optional()
    .describe("which timestamp telemetry gets: gateway (default), SourceTimestamp or ServerTimestamp"),
  reportStrategy: ReportStrategySchema.optional(),
});

const AttributeUpdateSchema = z.object({
  key: z.string().min(1).describe("shared attribute on ThingsBoard"),
  type: SourceSchema.default("path"),
  value: z.string().min(1).describe("target node: path (absolute or relative to the device node) or node id"),
});

const RpcArgumentSchema = z.object({
  type: z.string().default("string").describe("integer, double, float, string, boolean, or an OPC-UA data type name"),
  value: z.unknown(),
});

const RpcMethodSchema = z.object({
  method: z.string().min(1).describe("browse name of a method of the device node"),
  arguments: z.array(RpcArgumentSchema).default([]),
});

const DeviceInfoSchema = z.object({
  deviceNameExpressionSource: SourceSchema.default("constant"),
  deviceNameExpression: z.string().min(1).meta({ tbgw: "deviceName" }).describe("constant name, or ${RelativeNode} / ${Root\\.…} / ${ns=2;s=Name} whose value is read"),
  deviceProfileExpressionSource: SourceSchema.default("constant"),
  deviceProfileExpression: z.string().default("default"),
});

export const OpcuaMappingSchema = z.object({
  deviceNodeSource: z.enum(["path", "identifier"]).optional().describe("how deviceNodePattern is read (detected when absent)"),
  deviceNodePattern: z.string().min(1).describe("browse path with escaped dots (Root\\.Objects\\.MyObject) or a node id (ns=2;i=5)"),
  deviceInfo: DeviceInfoSchema,
  reportStrategy: ReportStrategySchema.optional(),
  converter: z.string().optional().describe("custom converter class (upstream Python only; ignored with a warning)"),
  attributes: z.array(KeySchema).default([]),
  timeseries: z.array(KeySchema).default([]),
  attributes_updates: z.array(AttributeUpdateSchema).default([]),
  rpc_methods: z.array(RpcMethodSchema).default([]),
});

const IdentitySchema = z.object({
  type: z.enum(["anonymous", "username", "certificates", "cert.PEM"]).default("anonymous"),
  username: z.string().optional(),
  password: z.string().optional(),
  caCert: z.string().meta({ tbgw: "file" }).optional(),
  pathToCACert: z.string().meta({ tbgw: "file" }).optional(),
  privateKey: z.string().meta({ tbgw: "file" }).optional(),
  pathToPrivateKey: z.string().meta({ tbgw: "file" }).optional(),
  cert: z.string().meta({ tbgw: "file" }).optional(),
  pathToClientCert: z.string().meta({ tbgw: "file" }).optional(),
  mode: z.enum(["None", "Sign", "SignAndEncrypt"]).optional().describe("message security mode (default SignAndEncrypt when certificates are used)"),
});

export const OpcuaServerSchema = z.object({
  url: z
    .string()
    .min(1)
    .transform((u) => (u.includes("://") ? u : `opc.tcp://${u}`))
    .describe("endpoint, e.g. opc.tcp://host:4840/path (opc.tcp:// is added when missing)"),
  timeoutInMillis: z.number().int().positive().default(4000),
  sessionTimeoutInMillis: z.number().int().positive().default(120000),
  scanPeriodInMillis: z.number().int().positive().default(3600000).describe("re-browse period for new devices"),
  pollPeriodInMillis: z.number().int().positive().default(5000),
  enableSubscriptions: z.boolean().default(true),
  subCheckPeriodInMillis: z.number().int().default(100).transform((n) => Math.max(100, n)).describe("publishing interval (min 100)"),
  subDataMaxBatchSize: z.number().int().positive().default(1000),
  subDataMinBatchCreationTimeMs: z.number().int().nonnegative().default(200),
  subscriptionProcessBatchSize: z.number().int().positive().default(2000),
  subKeepAlivePeriodInSeconds: z.number().int().nonnegative().default(0),
  reconnectRetriesCount: z.number().int().nonnegative().default(8),
  reconnectBackoffInitialDelay: z.number().positive().default(1),
  reconnectBackoffFactor: z.number().positive().default(2),
  showMap: z.boolean().default(false),
  uri: z.string().optional().describe("client application URI"),
  security: z
    .enum(["None", "Basic128Rsa15", "Basic256", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
    .optional()
    .describe("security policy; applies when identity uses certificates or mode is Sign/SignAndEncrypt"),
  identity: IdentitySchema.default({ type: "anonymous" }),
});

const CurrentSchema = z.object({
  name: z.string().optional(),
  id: z.string().optional(),
  logLevel: z.string().optional(),
  enableRemoteLogging: z.boolean().optional(),
  reportStrategy: ReportStrategySchema.optional(),
  server: OpcuaServerSchema,
  mapping: z.array(OpcuaMappingSchema).default([]),
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

export const OpcuaConfigSchema = z.preprocess(adaptOldFormat, CurrentSchema).describe("OPC-UA connector (opcua.json)");

export type OpcuaConfig = z.output<typeof CurrentSchema>;
export type OpcuaMapping = z.output<typeof OpcuaMappingSchema>;
export type OpcuaKey = OpcuaMapping["timeseries"][number];
export type OpcuaServer = z.output<typeof OpcuaServerSchema>;
