// Schema of the upstream modbus.json (current `master`/`slave` format and the older `server` format,
// which is adapted on the way in). Field names, defaults and clamps follow spec/connectors/modbus.md §2.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { adaptLegacyConfig } from "./legacy.ts";

/** A case-insensitive enum: the value is upper-cased, then checked. */
const upper = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.pipe(
    z.pipe(
      z.string(),
      z.transform((s: string) => s.toUpperCase()),
    ),
    z.enum(values),
  );
/** The same, lower-cased. */
const lower = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.pipe(
    z.pipe(
      z.string(),
      z.transform((s: string) => s.toLowerCase()),
    ),
    z.enum(values),
  );

export const DATA_TYPES = [
  "string", "bytes", "bit", "bits", "8int", "8uint", "16int", "16uint", "16float",
  "32int", "32uint", "32float", "64int", "64uint", "64float",
  // legacy aliases (sized by objectsCount) and downlink-only names
  "int", "long", "integer", "float", "double", "uint", "word", "dword", "dword/integer",
  "unsigned", "unsigned int", "unsigned integer", "coil", "coils",
] as const;

/** An integer in [min, max] (max optional). */
const intIn = (min: number, max?: number) => z.number().check(z.int(), z.minimum(min), ...(max === undefined ? [] : [z.maximum(max)]));
const port = () => z.union([intIn(0, 65535), z.string().check(z.minLength(1))]);

// Without its description: z.partial refuses an object that carries checks (z.describe is one).
const KeyShape = z.object({
  tag: z.string().check(z.minLength(1), z.describe("platform key / RPC method / shared attribute name; wide ranges may use ${address}")),
  type: lower(DATA_TYPES).check(z.describe("data type (spec §3.1)")),
  functionCode: z.optional(intIn(1, 16)).check(z.describe("1-4 read, 5/6/15/16 write; slave values derive it")),
  address: z
    .union([intIn(0, 65535), z.string().check(z.regex(/^\s*\d+\s*(-\s*\d+\s*)?$/))])
    .check(z.describe('start address (0-based), or "start-end" for a wide range')),
  objectsCount: z.optional(intIn(1, 2000)).check(z.describe("registers or bits (default 1)")),
  registersCount: z.optional(intIn(1)).check(z.describe("legacy alias of objectsCount")),
  registerCount: z.optional(intIn(1)).check(z.describe("legacy alias of objectsCount")),
  maxRegistersPerRequest: z.optional(intIn(1, 125)),
  divider: z.optional(z.number()),
  multiplier: z.optional(z.number()),
  round: z.optional(intIn(0, 15)),
  bit: z.optional(intIn(0)),
  bitTargetType: z.optional(z.enum(["bool", "int"])),
  variants: z.optional(z.record(z.string(), z.unknown())),
  reportStrategy: z.optional(ReportStrategySchema),
  value: z.optional(z.unknown()).check(z.describe("slave mode: initial value")),
});
export const KeySchema = KeyShape.check(z.describe("one register/coil mapping"));
export type KeyConfig = z.infer<typeof KeySchema>;

const retries = z.pipe(
  z.union([z.boolean(), z.number().check(z.int(), z.minimum(0, "retries must not be negative"))]),
  z.transform((r: boolean | number) => (r === true ? 3 : r === false ? 0 : r)),
);

const serialFields = {
  baudrate: z._default(z.number().check(z.int(), z.positive()), 19200),
  stopbits: z._default(intIn(1, 2), 1),
  bytesize: z._default(intIn(5, 8), 8),
  parity: z._default(upper(["N", "E", "O"]), "N"),
  handleLocalEcho: z._default(z.boolean(), false),
};

const rpcSection = z
  ._default(z.union([z.array(KeySchema), z.record(z.string(), z.partial(KeyShape, { tag: true }))]), [])
  .check(z.describe("list of RPC mappings, or {method: mapping}"));

const method = () => z._default(lower(["socket", "rtu", "ascii", "tls"]), "socket");
/** An integer with a default, raised to at least the default (upstream clamps these). */
const atLeastDefault = (dflt: number) => z.pipe(z._default(z.number().check(z.int()), dflt), z.transform((v: number) => Math.max(v, dflt)));
const tlsFiles = () => z.looseObject({ certfile: z.optional(z.string().check(z.meta({ tbgw: "file" }))), keyfile: z.optional(z.string().check(z.meta({ tbgw: "file" }))) });

export const SlaveSchema = z.object({
  deviceName: z.string().check(z.minLength(1), z.meta({ tbgw: "deviceName" })),
  deviceType: z._default(z.string(), "default"),
  type: z._default(upper(["TCP", "UDP", "SERIAL"]), "TCP"),
  host: z.optional(z.string()),
  port: port(),
  method: method(),
  tls: z.optional(tlsFiles()).check(z.describe("TLS client settings (certfile, keyfile, password, server_hostname, ...)")),
  unitId: intIn(0, 255),
  timeout: z._default(z.number().check(z.positive()), 30).check(z.describe("seconds, for connect and each request")),
  retries: z._default(retries, 3),
  retryOnEmpty: z.optional(z.boolean()),
  retryOnInvalid: z.optional(z.boolean()),
  ...serialFields,
  repack: z._default(z.boolean(), false),
  byteOrder: z._default(upper(["BIG", "LITTLE"]), "LITTLE"),
  wordOrder: z._default(upper(["BIG", "LITTLE"]), "LITTLE"),
  pollPeriod: z._default(z.number().check(z.int(), z.positive(), z.meta({ tbgw: "pollPeriod" })), 5000),
  connectAttemptTimeMs: atLeastDefault(500),
  connectAttemptCount: atLeastDefault(2),
  waitAfterFailedAttemptsMs: atLeastDefault(30000),
  delayBetweenRequestsMs: z._default(intIn(0), 0),
  reportStrategy: z.optional(ReportStrategySchema),
  sendDataOnlyOnChange: z.optional(z.boolean()).check(z.describe("legacy; ON_CHANGE report strategy when true and no reportStrategy is set")),
  uplinkConverter: z.optional(z.string()).check(
    z.describe("custom uplink converter: a JS/TS class (or module file) in <config folder>/extensions/modbus/ (BytesModbusUplinkConverter = the built-in one); convert(slaveConfig, {attributes|timeseries: {tag: {data_sent: keyConfig, input_data: {registers} or {bits}}}}) per poll"),
  ),
  downlinkConverter: z.optional(z.string()).check(
    z.describe("custom downlink converter: a JS/TS class (or module file) in <config folder>/extensions/modbus/ (BytesModbusDownlinkConverter = the built-in one), built with the slave entry; convert({...keyConfig, byteOrder, wordOrder, unitId}, {device, data: {method, params}}) returns the coil value(s) (FC 5/15) or register values 0..65535 / bytes (FC 6/16) to write"),
  ),
  attributes: z._default(z.array(KeySchema), []),
  timeseries: z._default(z.array(KeySchema), []),
  attributeUpdates: z._default(z.array(KeySchema), []),
  rpc: rpcSection,
  unitIds: z
    .optional(z.array(intIn(0, 255)))
    .check(z.describe("tb-gw extension: one device per unit id sharing this register map; ${unitId} in deviceName")),
});
export type SlaveConfig = z.infer<typeof SlaveSchema>;

const SlaveBlockSchema = z.object({
  attributes: z._default(z.array(KeySchema), []),
  timeseries: z._default(z.array(KeySchema), []),
  attributeUpdates: z._default(z.array(KeySchema), []),
  rpc: z._default(z.array(KeySchema), []),
});
// Older files wrap each block in a one-element list.
const slaveBlock = z.optional(z.pipe(z.transform((v: unknown) => (Array.isArray(v) ? (v[0] ?? {}) : v)), SlaveBlockSchema));

export const ServerSchema = z.object({
  type: z._default(upper(["TCP", "TLS", "UDP", "SERIAL"]), "TCP"),
  host: z._default(z.string(), "0.0.0.0"),
  port: port().check(z.meta({ tbgw: "listenPort" })),
  method: method(),
  unitId: z._default(intIn(0, 255), 0),
  deviceName: z._default(z.string().check(z.meta({ tbgw: "deviceName" })), "Modbus Slave"),
  deviceType: z._default(z.string(), "default"),
  pollPeriod: z._default(z.number().check(z.int(), z.positive()), 5000),
  sendDataToThingsBoard: z._default(z.boolean(), false),
  byteOrder: upper(["BIG", "LITTLE"]),
  wordOrder: z._default(upper(["BIG", "LITTLE"]), "LITTLE"),
  repack: z._default(z.boolean(), false),
  ...serialFields,
  security: z.optional(tlsFiles()).check(z.describe("TLS server settings (certfile, keyfile, password)")),
  identity: z.optional(z.record(z.string(), z.unknown())),
  values: z._default(
    z.object({
      holding_registers: slaveBlock,
      coils_initializer: slaveBlock,
      input_registers: slaveBlock,
      discrete_inputs: slaveBlock,
    }),
    {},
  ),
});
export type ServerConfig = z.infer<typeof ServerSchema>;

export const ModbusConfigSchema = z.pipe(
  z.transform(adaptLegacyConfig),
  z.object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    master: z._default(z.object({ slaves: z._default(z.array(SlaveSchema), []) }), { slaves: [] }),
    slave: z.optional(ServerSchema),
  }),
);
export type ModbusConfig = z.infer<typeof ModbusConfigSchema>;
