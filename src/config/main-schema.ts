// Schema of tb_gateway.json / tb_gateway.yaml. Field names, defaults and meanings are upstream's
// (see spec/main-config.md); this one schema gives the TypeScript type, the loader's defaults,
// `tb-gw validate` errors and the editor JSON Schema. Written with zod/mini (see ./zod.ts).

import { z } from "./zod.ts";
import { StorageSchema } from "../storage/schema.ts";

const REPORT_TYPES = ["ON_RECEIVED", "ON_CHANGE", "ON_REPORT_PERIOD", "ON_CHANGE_OR_REPORT_PERIOD", "DISABLED"] as const;

export const ReportStrategySchema = z
  .object({
    type: z
      ._default(
        z.pipe(
          z.pipe(
            // Case-insensitive upstream, so the JSON Schema lists the values as suggestions, not an enum.
            z.string().check(z.meta({ examples: [...REPORT_TYPES] })),
            z.transform((s: string) => s.toUpperCase()),
          ),
          z.enum(REPORT_TYPES),
        ),
        "ON_RECEIVED",
      )
      .check(z.describe("ON_RECEIVED sends everything; ON_CHANGE only changed values; the periodic types resend the latest value every reportPeriod ms")),
    reportPeriod: z.optional(z.number().check(z.int(), z.positive())).check(z.describe("ms between periodic reports (default 10000)")),
    aggregationFunction: z.optional(z.enum(["NONE", "SUM", "COUNT", "MIN", "MAX", "AVERAGE"])),
    ttl: z.optional(z.number().check(z.int(), z.positive())).check(z.describe("seconds a key stays in the report-strategy cache (default 86400)")),
  })
  .check(z.describe("When data points are reported to the platform"));

const SecuritySchema = z
  .object({
    type: z.optional(z.enum(["accessToken", "tlsAccessToken", "usernamePassword", "tlsPrivateKey", "x509Certificate"])),
    accessToken: z.optional(z.string()).check(z.describe("device access token of the gateway (MQTT username)")),
    clientId: z.optional(z.string()),
    username: z.optional(z.string()),
    password: z.optional(z.string()),
    caCert: z.optional(z.string()).check(z.describe("CA certificate file (relative to the config folder); enables TLS")),
    privateKey: z.optional(z.string()).check(z.describe("client private key file (tlsPrivateKey)")),
    cert: z.optional(z.string()).check(z.describe("client certificate file (tlsPrivateKey)")),
    tls: z.optional(z.boolean()).check(z.describe("force TLS")),
    insecure: z.optional(z.boolean()).check(z.describe("skip server hostname verification")),
    checkCertPeriod: z.optional(z.number().check(z.int(), z.positive())),
    certificateDaysLeft: z.optional(z.number().check(z.int(), z.positive())),
  })
  .check(z.describe("Credentials of the gateway device"));

const ProvisioningSchema = z.object({
  type: z._default(z.enum(["ACCESS_TOKEN", "MQTT_BASIC", "X509_CERTIFICATE"]), "ACCESS_TOKEN"),
  provisionDeviceKey: z.string(),
  provisionDeviceSecret: z.string(),
  deviceName: z.optional(z.string()),
  access_token: z.optional(z.string()),
  client_id: z.optional(z.string()),
  username: z.optional(z.string()),
  password: z.optional(z.string()),
  caCert: z.optional(z.string()),
});

const StatisticsSchema = z.object({
  enable: z._default(z.boolean(), true),
  enableCustom: z.optional(z.boolean()),
  statsSendPeriodInSeconds: z._default(z.number().check(z.int(), z.minimum(10)), 60),
  customStatsSendPeriodInSeconds: z._default(z.number().check(z.int(), z.positive()), 3600),
  configuration: z.optional(z.string()).check(z.describe("file with custom statistics commands, relative to the config folder")),
});

const RateLimit = z.string().check(z.describe('"count:seconds,..." pairs, "0:0," for none, or a DEFAULT_* placeholder'));

/** Integer with an inclusive lower bound and a default (the most common field shape here). */
const intMin = (min: number, dflt: number) => z._default(z.number().check(z.int(), z.minimum(min)), dflt);
const posInt = (dflt: number) => z._default(z.number().check(z.int(), z.positive()), dflt);

export const ThingsboardSchema = z
  .object({
    host: z.string().check(z.minLength(1), z.describe("platform MQTT host")),
    port: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(65535)), 1883),
    remoteShell: z._default(z.boolean(), false),
    remoteConfiguration: z._default(z.boolean(), false),
    latencyDebugMode: z._default(z.boolean(), false),
    statistics: z._default(StatisticsSchema, { enable: true, statsSendPeriodInSeconds: 60, customStatsSendPeriodInSeconds: 3600 }),
    deviceFiltering: z._default(z.object({ enable: z._default(z.boolean(), false), filterFile: z.optional(z.string()) }), { enable: false }),
    maxPayloadSizeBytes: intMin(100, 8196),
    minPackSendDelayMS: intMin(0, 50),
    minPackSizeToSend: intMin(0, 500).check(z.describe("accepted for compatibility; unused")),
    checkConnectorsConfigurationInSeconds: intMin(0, 60),
    handleDeviceRenaming: z._default(z.boolean(), true),
    security: z.optional(SecuritySchema),
    provisioning: z.optional(ProvisioningSchema),
    qos: z._default(z.union([z.literal(0), z.literal(1)]), 1),
    reportStrategy: z._default(ReportStrategySchema, { type: "ON_RECEIVED" }),
    checkingDeviceActivity: z._default(
      z.object({
        checkDeviceInactivity: z._default(z.boolean(), false),
        inactivityTimeoutSeconds: z._default(z.number().check(z.positive()), 50),
        inactivityCheckPeriodSeconds: z._default(z.number().check(z.positive()), 1),
      }),
      { checkDeviceInactivity: false, inactivityTimeoutSeconds: 50, inactivityCheckPeriodSeconds: 1 },
    ),
    rateLimits: z._default(RateLimit, "DEFAULT_TELEMETRY_RATE_LIMIT"),
    dpRateLimits: z._default(RateLimit, "DEFAULT_TELEMETRY_DP_RATE_LIMIT"),
    messagesRateLimits: z._default(RateLimit, "DEFAULT_MESSAGES_RATE_LIMIT"),
    deviceMessagesRateLimits: z._default(RateLimit, "DEFAULT_MESSAGES_RATE_LIMIT"),
    deviceRateLimits: z._default(RateLimit, "DEFAULT_TELEMETRY_RATE_LIMIT"),
    deviceDpRateLimits: z._default(RateLimit, "DEFAULT_TELEMETRY_DP_RATE_LIMIT"),
    keep_alive: intMin(0, 120),
    proxy_host: z.optional(z.string()),
    proxy_port: z.optional(z.number().check(z.int())),
    syncDevicesSharedAttributesOnConnect: z._default(z.boolean(), true),
    managerEnabled: z.optional(z.boolean()),
    reportStrategyDataCacheCleanupInterval: posInt(3600),
    // tb-gw additions (absent from upstream configs; defaults keep upstream behaviour)
    maxInflightPublishes: posInt(64).check(z.describe("tb-gw: publishes awaiting PUBACK at once")),
    sessionLimitsTimeoutMs: posInt(5000).check(z.describe("tb-gw: wait for getSessionLimits before using defaults")),
  })
  .check(z.describe("Connection to the platform and general behaviour"));

export const ConnectorEntrySchema = z.object({
  name: z.string().check(z.minLength(1), z.describe("unique connector name")),
  type: z.string().check(z.minLength(1), z.describe("connector type, e.g. mqtt, modbus, opcua; any other type is a custom connector (with class) from extensions/<type>/")),
  configuration: z.optional(z.string()).check(z.describe("connector config file, relative to the config folder")),
  configurationJson: z.optional(z.record(z.string(), z.unknown())).check(z.describe("inline connector config (used when no file is named)")),
  class: z.optional(z.string()).check(z.describe("custom connector: the class exported by a JS/TS module in <config folder>/extensions/<type>/ (tb-gw new connector NAME writes one)")),
  key: z.optional(z.string()),
  useGRPCForce: z.optional(z.boolean()),
  useGRPC: z.optional(z.boolean()),
  logLevel: z.optional(z.string()),
  enableRemoteLogging: z.optional(z.boolean()),
  configVersion: z.optional(z.string()),
  reportStrategy: z.optional(ReportStrategySchema),
  id: z.optional(z.string()),
});

/** An off-by-default local HTTP listener (status, metrics). */
const listener = (port: number) =>
  z._default(
    z.object({
      enabled: z._default(z.boolean(), false),
      host: z._default(z.string(), "127.0.0.1"),
      port: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(65535)), port),
    }),
    { enabled: false, host: "127.0.0.1", port },
  );

// tb-gw only: the local status endpoint (`tb-gw tail`, monitoring). Absent from upstream configs.
export const StatusSchema = z
  .object({
    enabled: z._default(z.boolean(), true).check(z.describe("tb-gw: serve status and live events on a Unix socket (owner/group only)")),
    socket: z.optional(z.string()).check(z.describe("tb-gw: socket path; default $XDG_RUNTIME_DIR/tb-gw.sock or /tmp/tb-gw-<uid>.sock")),
    http: z
      ._default(
        z.object({
          enabled: z._default(z.boolean(), false),
          host: z._default(z.string(), "127.0.0.1").check(z.describe("listen address; keep it loopback unless a proxy guards it")),
          port: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(65535)), 9180),
        }),
        { enabled: false, host: "127.0.0.1", port: 9180 },
      )
      .check(z.describe("tb-gw: HTTP status (GET /status, GET /events as NDJSON), off by default")),
    metrics: listener(9181).check(z.describe("tb-gw: Prometheus GET /metrics, off by default")),
  })
  .check(z.describe("tb-gw: local status endpoint"));

const ms = (d: string) => z.optional(z.number().check(z.int(), z.minimum(0))).check(z.describe(d));

/** `grpc`: the server out-of-process connectors (type "grpc") talk to (spec grpc.md §4.6 for the keepalive keys). */
export const GrpcSchema = z
  .looseObject({
    enabled: z._default(z.boolean(), false).check(z.describe("start the gRPC connector server")),
    serverPort: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(65535)), 9595).check(z.describe("port the gRPC connector server listens on")),
    serverHost: z._default(z.string(), "0.0.0.0").check(z.describe("tb-gw: listen address (upstream listens on every interface; 127.0.0.1 keeps it local)")),
    keepAliveTimeMs: ms("ms between keepalive pings on an idle connection (default 10000)"),
    keepAliveTimeoutMs: ms("ms a ping may stay unanswered before the connection is closed (default 5000)"),
    keepaliveTimeoutMs: ms("alias of keepAliveTimeoutMs"),
    keepAlivePermitWithoutCalls: z.optional(z.boolean()).check(z.describe("ping connections that have no call in flight (default true)")),
    keepalivePermitWithoutCalls: z.optional(z.boolean()).check(z.describe("alias of keepAlivePermitWithoutCalls")),
    maxPingsWithoutData: ms("grpc.http2.max_pings_without_data (read; @grpc/grpc-js does not police pings)"),
    minTimeBetweenPingsMs: ms("grpc.http2.min_time_between_pings_ms (read; not policed)"),
    minPingIntervalWithoutDataMs: ms("grpc.http2.min_ping_interval_without_data_ms (read; not policed)"),
    reconnectGraceMs: ms("tb-gw: ms a registered connector process may stay without a connection after keepalive closed it, before its devices are disconnected (default 30000; idle Python clients do not answer pings and reconnect at their next poll)"),
    connectorsDir: z.optional(z.string()).check(z.describe("tb-gw: folder holding <type>/<type>_connector.py for connectors[] entries with useGRPCForce (e.g. upstream's thingsboard_gateway/grpc_connectors), relative to the config folder; default: <config folder>/grpc_connectors, then <config folder>/../grpc_connectors")),
    python: z.optional(z.string()).check(z.describe("tb-gw: Python interpreter that runs useGRPCForce connectors: a name looked up on PATH or a path (default python3)")),
  })
  .check(z.describe("gRPC server for out-of-process connectors (connectors[] entries of type grpc)"));

export const MainConfigSchema = z
  .object({
    $schema: z.optional(z.string()),
    thingsboard: ThingsboardSchema,
    storage: StorageSchema,
    grpc: z.optional(GrpcSchema),
    connectors: z._default(z.array(ConnectorEntrySchema), []),
    status: z.optional(StatusSchema),
  })
  .check(z.describe("tb-gw main configuration (compatible with the Python gateway's tb_gateway.json)"));

export type MainConfig = z.infer<typeof MainConfigSchema>;
export type ThingsboardConfig = z.infer<typeof ThingsboardSchema>;
export type ConnectorEntry = z.infer<typeof ConnectorEntrySchema>;
export type GrpcConfig = z.infer<typeof GrpcSchema>;
export type StatusConfig = z.infer<typeof StatusSchema>;
export type ReportStrategy = z.infer<typeof ReportStrategySchema>;
