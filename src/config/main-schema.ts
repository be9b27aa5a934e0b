// Schema of tb_gateway.json / tb_gateway.yaml. Field names, defaults and meanings are upstream's
// (see spec/main-config.md); this one schema gives the TypeScript type, the loader's defaults,
// `tb-gw validate` errors and the editor JSON Schema.

import { z } from "zod";
import { StorageSchema } from "../storage/schema.ts";

export const ReportStrategySchema = z
  .object({
    type: z
      .string()
      // Case-insensitive upstream, so the JSON Schema lists the values as suggestions, not an enum.
      .meta({ examples: ["ON_RECEIVED", "ON_CHANGE", "ON_REPORT_PERIOD", "ON_CHANGE_OR_REPORT_PERIOD", "DISABLED"] })
      .transform((s) => s.toUpperCase())
      .pipe(z.enum(["ON_RECEIVED", "ON_CHANGE", "ON_REPORT_PERIOD", "ON_CHANGE_OR_REPORT_PERIOD", "DISABLED"]))
      .default("ON_RECEIVED")
      .describe("ON_RECEIVED sends everything; ON_CHANGE only changed values; the periodic types resend the latest value every reportPeriod ms"),
    reportPeriod: z.number().int().positive().optional().describe("ms between periodic reports (default 10000)"),
    aggregationFunction: z.enum(["NONE", "SUM", "COUNT", "MIN", "MAX", "AVERAGE"]).optional(),
    ttl: z.number().int().positive().optional().describe("seconds a key stays in the report-strategy cache (default 86400)"),
  })
  .describe("When data points are reported to the platform");

const SecuritySchema = z
  .object({
    type: z.enum(["accessToken", "tlsAccessToken", "usernamePassword", "tlsPrivateKey", "x509Certificate"]).optional(),
    accessToken: z.string().optional().describe("device access token of the gateway (MQTT username)"),
    clientId: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    caCert: z.string().optional().describe("CA certificate file (relative to the config folder); enables TLS"),
    privateKey: z.string().optional().describe("client private key file (tlsPrivateKey)"),
    cert: z.string().optional().describe("client certificate file (tlsPrivateKey)"),
    tls: z.boolean().optional().describe("force TLS"),
    insecure: z.boolean().optional().describe("skip server hostname verification"),
    checkCertPeriod: z.number().int().positive().optional(),
    certificateDaysLeft: z.number().int().positive().optional(),
  })
  .describe("Credentials of the gateway device");

const ProvisioningSchema = z.object({
  type: z.enum(["ACCESS_TOKEN", "MQTT_BASIC", "X509_CERTIFICATE"]).default("ACCESS_TOKEN"),
  provisionDeviceKey: z.string(),
  provisionDeviceSecret: z.string(),
  deviceName: z.string().optional(),
  access_token: z.string().optional(),
  client_id: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  caCert: z.string().optional(),
});

const StatisticsSchema = z.object({
  enable: z.boolean().default(true),
  enableCustom: z.boolean().optional(),
  statsSendPeriodInSeconds: z.number().int().min(10).default(60),
  customStatsSendPeriodInSeconds: z.number().int().positive().default(3600),
  configuration: z.string().optional().describe("file with custom statistics commands, relative to the config folder"),
});

const RateLimit = z.string().describe('"count:seconds,..." pairs, "0:0," for none, or a DEFAULT_* placeholder');

export const ThingsboardSchema = z
  .object({
    host: z.string().min(1).describe("platform MQTT host"),
    port: z.number().int().min(1).max(65535).default(1883),
    remoteShell: z.boolean().default(false),
    remoteConfiguration: z.boolean().default(false),
    latencyDebugMode: z.boolean().default(false),
    statistics: StatisticsSchema.default({ enable: true, statsSendPeriodInSeconds: 60, customStatsSendPeriodInSeconds: 3600 }),
    deviceFiltering: z
      .object({ enable: z.boolean().default(false), filterFile: z.string().optional() })
      .default({ enable: false }),
    maxPayloadSizeBytes: z.number().int().min(100).default(8196),
    minPackSendDelayMS: z.number().int().min(0).default(50),
    minPackSizeToSend: z.number().int().min(0).default(500).describe("accepted for compatibility; unused"),
    checkConnectorsConfigurationInSeconds: z.number().int().min(0).default(60),
    handleDeviceRenaming: z.boolean().default(true),
    security: SecuritySchema.optional(),
    provisioning: ProvisioningSchema.optional(),
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    reportStrategy: ReportStrategySchema.default({ type: "ON_RECEIVED" }),
    checkingDeviceActivity: z
      .object({
        checkDeviceInactivity: z.boolean().default(false),
        inactivityTimeoutSeconds: z.number().positive().default(50),
        inactivityCheckPeriodSeconds: z.number().positive().default(1),
      })
      .default({ checkDeviceInactivity: false, inactivityTimeoutSeconds: 50, inactivityCheckPeriodSeconds: 1 }),
    rateLimits: RateLimit.default("DEFAULT_TELEMETRY_RATE_LIMIT"),
    dpRateLimits: RateLimit.default("DEFAULT_TELEMETRY_DP_RATE_LIMIT"),
    messagesRateLimits: RateLimit.default("DEFAULT_MESSAGES_RATE_LIMIT"),
    deviceMessagesRateLimits: RateLimit.default("DEFAULT_MESSAGES_RATE_LIMIT"),
    deviceRateLimits: RateLimit.default("DEFAULT_TELEMETRY_RATE_LIMIT"),
    deviceDpRateLimits: RateLimit.default("DEFAULT_TELEMETRY_DP_RATE_LIMIT"),
    keep_alive: z.number().int().min(0).default(120),
    proxy_host: z.string().optional(),
    proxy_port: z.number().int().optional(),
    syncDevicesSharedAttributesOnConnect: z.boolean().default(true),
    managerEnabled: z.boolean().optional(),
    reportStrategyDataCacheCleanupInterval: z.number().int().positive().default(3600),
    // tb-gw additions (absent from upstream configs; defaults keep upstream behaviour)
    maxInflightPublishes: z.number().int().positive().default(64).describe("tb-gw: publishes awaiting PUBACK at once"),
    sessionLimitsTimeoutMs: z.number().int().positive().default(5000).describe("tb-gw: wait for getSessionLimits before using defaults"),
  })
  .describe("Connection to the platform and general behaviour");

export const ConnectorEntrySchema = z.object({
  name: z.string().min(1).describe("unique connector name"),
  type: z.string().min(1).describe("connector type, e.g. mqtt, modbus, opcua"),
  configuration: z.string().optional().describe("connector config file, relative to the config folder"),
  configurationJson: z.record(z.string(), z.unknown()).optional().describe("inline connector config (used when no file is named)"),
  class: z.string().optional().describe("custom connector implementation"),
  key: z.string().optional(),
  useGRPCForce: z.boolean().optional(),
  useGRPC: z.boolean().optional(),
  logLevel: z.string().optional(),
  enableRemoteLogging: z.boolean().optional(),
  configVersion: z.string().optional(),
  reportStrategy: ReportStrategySchema.optional(),
  id: z.string().optional(),
});

// tb-gw only: the local status endpoint (`tb-gw tail`, monitoring). Absent from upstream configs.
export const StatusSchema = z
  .object({
    enabled: z.boolean().default(true).describe("tb-gw: serve status and live events on a Unix socket (owner/group only)"),
    socket: z.string().optional().describe("tb-gw: socket path; default $XDG_RUNTIME_DIR/tb-gw.sock or /tmp/tb-gw-<uid>.sock"),
    http: z
      .object({
        enabled: z.boolean().default(false),
        host: z.string().default("127.0.0.1").describe("listen address; keep it loopback unless a proxy guards it"),
        port: z.number().int().min(0).max(65535).default(9180),
      })
      .default({ enabled: false, host: "127.0.0.1", port: 9180 })
      .describe("tb-gw: HTTP status (GET /status, GET /events as NDJSON), off by default"),
    metrics: z
      .object({
        enabled: z.boolean().default(false),
        host: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(9181),
      })
      .default({ enabled: false, host: "127.0.0.1", port: 9181 })
      .describe("tb-gw: Prometheus GET /metrics, off by default"),
  })
  .describe("tb-gw: local status endpoint");

export const MainConfigSchema = z
  .object({
    $schema: z.string().optional(),
    thingsboard: ThingsboardSchema,
    storage: StorageSchema,
    grpc: z.record(z.string(), z.unknown()).optional(),
    connectors: z.array(ConnectorEntrySchema).default([]),
    status: StatusSchema.optional(),
  })
  .describe("tb-gw main configuration (compatible with the Python gateway's tb_gateway.json)");

export type MainConfig = z.infer<typeof MainConfigSchema>;
export type ThingsboardConfig = z.infer<typeof ThingsboardSchema>;
export type ConnectorEntry = z.infer<typeof ConnectorEntrySchema>;
export type StatusConfig = z.infer<typeof StatusSchema>;
export type ReportStrategy = z.infer<typeof ReportStrategySchema>;
