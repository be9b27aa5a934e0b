// Schema of the upstream BACnet connector file (spec/connectors/bacnet.md §2), current format plus
// the old `general` format, which is rewritten to the current one before validation (§2.5).
// Single source of truth: the TypeScript type, defaults, `tb-gw validate` errors and the JSON Schema.

import { z } from "zod";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const IntLike = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);

const ObjectIdSpec = z
  .union([z.number().int().nonnegative(), z.string(), z.array(z.union([z.number().int().nonnegative(), z.string()]))])
  .describe('object instance: a number, "*" (all objects of the type), "a-b" range, or a list of numbers/ranges');

export const ItemSchema = z.object({
  key: z.string().describe("ThingsBoard key; several properties give keys <key>.<propertyName>"),
  objectType: z.string().describe("camelCase BACnet object type, e.g. analogInput, binaryValue, device"),
  objectId: ObjectIdSpec,
  propertyId: z
    .union([z.string(), z.array(z.string())])
    .default("presentValue")
    .describe('camelCase property name(s), e.g. presentValue, statusFlags; "*" = all'),
  priority: z.number().int().min(1).max(16).optional().describe("write priority 1 (highest) – 16"),
});

export const RpcItemSchema = ItemSchema.omit({ key: true }).extend({
  method: z.string().describe("RPC method name as sent by the platform"),
  requestType: z.string().describe("readProperty | writeProperty"),
  requestTimeout: z.number().int().positive().default(10000).describe("ms to wait for the device"),
});

const DeviceInfoSchema = z.object({
  deviceNameExpressionSource: z.enum(["expression", "constant"]).default("expression"),
  deviceNameExpression: z
    .string()
    .meta({ tbgw: "deviceName" })
    .describe("name template: ${objectName}, ${objectId}, ${address}, ${vendorId}, ${routerName}, ..."),
  deviceProfileExpressionSource: z.enum(["expression", "constant"]).default("expression"),
  deviceProfileExpression: z.string().default("default"),
});

export const DeviceSchema = z.object({
  deviceInfo: DeviceInfoSchema,
  host: z.string().optional().describe("device IP (patterns: *, X placeholders in octets)"),
  port: z.union([IntLike, z.literal("*")]).optional().describe("device UDP port (default 47808)"),
  mask: z.union([z.string(), z.number()]).optional(),
  address: z.string().optional().describe('"host[/mask][:port]"; alternative to host/port/mask'),
  deviceId: z.union([z.number().int().nonnegative(), z.literal("*")]).optional().describe("match by device instance"),
  altResponsesAddresses: z.array(z.string()).default([]).describe("other source addresses accepted for I-Am"),
  pollPeriod: z.number().int().positive().meta({ tbgw: "pollPeriod" }).default(10000).describe("ms between polls"),
  reportStrategy: ReportStrategySchema.optional(),
  uplinkConverter: z.string().optional().describe("custom converter class (upstream only; ignored with a warning)"),
  attributes: z.union([z.array(ItemSchema), z.literal("*")]).default([]),
  timeseries: z.union([z.array(ItemSchema), z.literal("*")]).default([]),
  attributeUpdates: z.array(ItemSchema).default([]),
  serverSideRpc: z.array(RpcItemSchema).default([]),
  /** tb-gw addition: subscribe to COV for every polled object that supports it. */
  subscribeCov: z.boolean().optional().describe("tb-gw extension: SubscribeCOV for polled objects (values arrive between polls)"),
});

const ApplicationSchema = z.object({
  objectName: z.string().default("Gateway"),
  host: z.string().optional().describe("local IPv4 to bind (required unless address is given)"),
  port: IntLike.meta({ tbgw: "udpListenPort" }).default(47808),
  mask: z.union([z.string(), z.number()]).default("24"),
  address: z.string().optional().describe('"host/mask:port"'),
  objectIdentifier: z.number().int().nonnegative().describe("local device instance"),
  maxApduLengthAccepted: z.number().int().default(1476),
  segmentationSupported: z.string().default("segmentedBoth"),
  vendorIdentifier: z.number().int().default(15),
  networkNumber: z.number().int().optional(),
  networkNumberQuality: z.string().default("configured"),
  deviceDiscoveryTimeoutInSec: z.number().positive().default(5),
  devicesDiscoverPeriodSeconds: z.number().positive().optional(),
  devicesRescanObjectsPeriodSeconds: z.number().positive().default(60),
  loadProprietaryDevices: z.boolean().optional(),
  /** tb-gw addition: where Who-Is broadcasts go (default: the subnet broadcast of host/mask). */
  broadcastAddress: z.string().optional().describe("tb-gw extension: Who-Is broadcast target (default: subnet broadcast)"),
});

export const BacnetConfigSchema = z.preprocess(
  (raw) => fromOldFormat(raw),
  z.object({
    name: z.string().optional(),
    id: z.string().optional(),
    logLevel: z.string().default("INFO"),
    enableRemoteLogging: z.boolean().optional(),
    application: ApplicationSchema,
    foreignDevice: z
      .object({
        address: z.string().describe('BBMD "host[:port]" (default port 47808); "0.0.0.0" = none'),
        ttl: z.number().int().min(1).max(65535).default(900).describe("registration time-to-live in seconds; re-registered at half of it"),
      })
      .optional()
      .describe("register as a foreign device with a BBMD; Who-Is then goes through it"),
    devices: z.array(DeviceSchema).default([]),
    devicesDiscoverPeriodSeconds: z.number().positive().default(30),
    loadProprietaryDevices: z.boolean().default(false),
    edeFilePath: z.string().optional().describe("EDE file (not supported by tb-gw yet: logged and ignored)"),
    edeConfig: z.unknown().optional(),
  }),
);

export type BacnetConfig = z.output<typeof BacnetConfigSchema>;
export type BacnetDevice = z.output<typeof DeviceSchema>;
export type BacnetItem = z.output<typeof ItemSchema>;
export type BacnetRpcItem = z.output<typeof RpcItemSchema>;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** "analogInput:1" → {objectType, objectId}; other items unchanged (old format, §2.5). */
function splitObjectId(item: unknown): unknown {
  if (!isObj(item) || typeof item.objectId !== "string" || !item.objectId.includes(":") || item.objectType) return item;
  const [type, id] = item.objectId.split(":") as [string, string];
  return { ...item, objectType: type, objectId: id };
}

/** Old format (top-level `general`) → current format; anything else passes through untouched. */
export function fromOldFormat(raw: unknown): unknown {
  if (!isObj(raw) || !isObj(raw.general)) return raw;
  const { general, devices, ...rest } = raw;
  const g = general as Json;
  const app: Json = { ...g };
  if (!app.address && app.host) app.address = `${app.host}/${app.mask ?? "24"}:${app.port ?? 47808}`;
  return {
    ...rest,
    application: app,
    devices: Array.isArray(devices)
      ? devices.map((d) => {
          if (!isObj(d)) return d;
          const { deviceName, deviceType, rpc, serverSideRpc, ...dr } = d;
          const out: Json = { ...dr };
          if (!out.deviceInfo)
            out.deviceInfo = {
              deviceNameExpressionSource: "expression",
              deviceNameExpression: deviceName ?? "BACnet device ${objectName}",
              deviceProfileExpressionSource: "expression",
              deviceProfileExpression: deviceType ?? "default",
            };
          if (!out.address && out.host) {
            out.address = `${out.host}${out.mask !== undefined ? `/${out.mask}` : ""}:${out.port ?? 47808}`;
            delete out.host;
            delete out.port;
            delete out.mask;
          }
          for (const k of ["attributes", "timeseries", "attributeUpdates"])
            if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map(splitObjectId);
          const rpcs = serverSideRpc ?? rpc;
          if (Array.isArray(rpcs)) out.serverSideRpc = rpcs.map(splitObjectId);
          return out;
        })
      : devices,
  };
}
