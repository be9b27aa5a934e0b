// Schema of the upstream modbus.json (current `master`/`slave` format and the older `server` format,
// which is adapted on the way in). Field names, defaults and clamps follow spec/connectors/modbus.md §2.

import { z } from "zod";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { adaptLegacyConfig } from "./legacy.ts";

const upper = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(values));

export const DATA_TYPES = [
  "string", "bytes", "bit", "bits", "8int", "8uint", "16int", "16uint", "16float",
  "32int", "32uint", "32float", "64int", "64uint", "64float",
  // legacy aliases (sized by objectsCount) and downlink-only names
  "int", "long", "integer", "float", "double", "uint", "word", "dword", "dword/integer",
  "unsigned", "unsigned int", "unsigned integer", "coil", "coils",
] as const;

export const KeySchema = z
  .object({
    tag: z.string().min(1).describe("platform key / RPC method / shared attribute name; wide ranges may use ${address}"),
    type: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(DATA_TYPES))
      .describe("data type (spec §3.1)"),
    functionCode: z.number().int().min(1).max(16).optional().describe("1-4 read, 5/6/15/16 write; slave values derive it"),
    address: z
      .union([z.number().int().min(0).max(65535), z.string().regex(/^\s*\d+\s*(-\s*\d+\s*)?$/)])
      .describe('start address (0-based), or "start-end" for a wide range'),
    objectsCount: z.number().int().min(1).max(2000).optional().describe("registers or bits (default 1)"),
    registersCount: z.number().int().min(1).optional().describe("legacy alias of objectsCount"),
    registerCount: z.number().int().min(1).optional().describe("legacy alias of objectsCount"),
    maxRegistersPerRequest: z.number().int().min(1).max(125).optional(),
    divider: z.number().optional(),
    multiplier: z.number().optional(),
    round: z.number().int().min(0).max(15).optional(),
    bit: z.number().int().min(0).optional(),
    bitTargetType: z.enum(["bool", "int"]).optional(),
    variants: z.record(z.string(), z.unknown()).optional(),
    reportStrategy: ReportStrategySchema.optional(),
    value: z.unknown().optional().describe("slave mode: initial value"),
  })
  .describe("one register/coil mapping");
export type KeyConfig = z.infer<typeof KeySchema>;

const retries = z
  .union([z.boolean(), z.number().int().min(0, "retries must not be negative")])
  .transform((r) => (r === true ? 3 : r === false ? 0 : r));

const serialFields = {
  baudrate: z.number().int().positive().default(19200),
  stopbits: z.number().int().min(1).max(2).default(1),
  bytesize: z.number().int().min(5).max(8).default(8),
  parity: upper(["N", "E", "O"]).default("N"),
  handleLocalEcho: z.boolean().default(false),
};

const rpcSection = z
  .union([z.array(KeySchema), z.record(z.string(), KeySchema.partial({ tag: true }))])
  .default([])
  .describe("list of RPC mappings, or {method: mapping}");

export const SlaveSchema = z.object({
  deviceName: z.string().min(1).meta({ tbgw: "deviceName" }),
  deviceType: z.string().default("default"),
  type: upper(["TCP", "UDP", "SERIAL"]).default("TCP"),
  host: z.string().optional(),
  port: z.union([z.number().int().min(0).max(65535), z.string().min(1)]),
  method: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(["socket", "rtu", "ascii", "tls"]))
    .default("socket"),
  tls: z
    .looseObject({ certfile: z.string().meta({ tbgw: "file" }).optional(), keyfile: z.string().meta({ tbgw: "file" }).optional() })
    .optional()
    .describe("TLS client settings (certfile, keyfile, password, server_hostname, ...)"),
  unitId: z.number().int().min(0).max(255),
  timeout: z.number().positive().default(30).describe("seconds, for connect and each request"),
  retries: retries.default(3),
  retryOnEmpty: z.boolean().optional(),
  retryOnInvalid: z.boolean().optional(),
  ...serialFields,
  repack: z.boolean().default(false),
  byteOrder: upper(["BIG", "LITTLE"]).default("LITTLE"),
  wordOrder: upper(["BIG", "LITTLE"]).default("LITTLE"),
  pollPeriod: z.number().int().positive().meta({ tbgw: "pollPeriod" }).default(5000),
  connectAttemptTimeMs: z.number().int().default(500).transform((v) => Math.max(v, 500)),
  connectAttemptCount: z.number().int().default(2).transform((v) => Math.max(v, 2)),
  waitAfterFailedAttemptsMs: z.number().int().default(30000).transform((v) => Math.max(v, 30000)),
  delayBetweenRequestsMs: z.number().int().min(0).default(0),
  reportStrategy: ReportStrategySchema.optional(),
  sendDataOnlyOnChange: z.boolean().optional().describe("legacy; ON_CHANGE report strategy when true and no reportStrategy is set"),
  uplinkConverter: z.string().optional(),
  downlinkConverter: z.string().optional(),
  attributes: z.array(KeySchema).default([]),
  timeseries: z.array(KeySchema).default([]),
  attributeUpdates: z.array(KeySchema).default([]),
  rpc: rpcSection,
  unitIds: z
    .array(z.number().int().min(0).max(255))
    .optional()
    .describe("tb-gw extension: one device per unit id sharing this register map; ${unitId} in deviceName"),
});
export type SlaveConfig = z.infer<typeof SlaveSchema>;

const SlaveBlockSchema = z.object({
  attributes: z.array(KeySchema).default([]),
  timeseries: z.array(KeySchema).default([]),
  attributeUpdates: z.array(KeySchema).default([]),
  rpc: z.array(KeySchema).default([]),
});
// Older files wrap each block in a one-element list.
const slaveBlock = z.preprocess((v) => (Array.isArray(v) ? (v[0] ?? {}) : v), SlaveBlockSchema).optional();

export const ServerSchema = z.object({
  type: upper(["TCP", "TLS", "UDP", "SERIAL"]).default("TCP"),
  host: z.string().default("0.0.0.0"),
  port: z.union([z.number().int().min(0).max(65535), z.string().min(1)]).meta({ tbgw: "listenPort" }),
  method: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(["socket", "rtu", "ascii", "tls"]))
    .default("socket"),
  unitId: z.number().int().min(0).max(255).default(0),
  deviceName: z.string().meta({ tbgw: "deviceName" }).default("Modbus Slave"),
  deviceType: z.string().default("default"),
  pollPeriod: z.number().int().positive().default(5000),
  sendDataToThingsBoard: z.boolean().default(false),
  byteOrder: upper(["BIG", "LITTLE"]),
  wordOrder: upper(["BIG", "LITTLE"]).default("LITTLE"),
  repack: z.boolean().default(false),
  ...serialFields,
  security: z
    .looseObject({ certfile: z.string().meta({ tbgw: "file" }).optional(), keyfile: z.string().meta({ tbgw: "file" }).optional() })
    .optional()
    .describe("TLS server settings (certfile, keyfile, password)"),
  identity: z.record(z.string(), z.unknown()).optional(),
  values: z
    .object({
      holding_registers: slaveBlock,
      coils_initializer: slaveBlock,
      input_registers: slaveBlock,
      discrete_inputs: slaveBlock,
    })
    .default({}),
});
export type ServerConfig = z.infer<typeof ServerSchema>;

export const ModbusConfigSchema = z.preprocess(
  adaptLegacyConfig,
  z.object({
    name: z.string().optional(),
    id: z.string().optional(),
    logLevel: z.string().optional(),
    enableRemoteLogging: z.boolean().optional(),
    master: z.object({ slaves: z.array(SlaveSchema).default([]) }).default({ slaves: [] }),
    slave: ServerSchema.optional(),
  }),
);
export type ModbusConfig = z.infer<typeof ModbusConfigSchema>;
