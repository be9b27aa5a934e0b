// Schema of the upstream BACnet connector file (spec/connectors/bacnet.md §2), current format plus
// the old `general` format, which is rewritten to the current one before validation (§2.5).
// Single source of truth: the TypeScript type, defaults, `tb-gw validate` errors and the JSON Schema.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const IntLike = z.union([
  z.number().check(z.int()),
  z.pipe(
    z.string().check(z.regex(/^\d+$/)),
    z.transform(Number),
  ),
]);
const nonNegInt = () => z.number().check(z.int(), z.nonnegative());

const ObjectIdSpec = z
  .union([nonNegInt(), z.string(), z.array(z.union([nonNegInt(), z.string()]))])
  .check(z.describe('object instance: a number, "*" (all objects of the type), "a-b" range, or a list of numbers/ranges'));

export const ItemSchema = z.object({
  key: z.string().check(z.describe("ThingsBoard key; several properties give keys <key>.<propertyName>")),
  objectType: z.string().check(z.describe("camelCase BACnet object type, e.g. analogInput, binaryValue, device")),
  objectId: ObjectIdSpec,
  propertyId: z
    ._default(z.union([z.string(), z.array(z.string())]), "presentValue")
    .check(z.describe('camelCase property name(s), e.g. presentValue, statusFlags; "*" = all')),
  priority: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(16))).check(z.describe("write priority 1 (highest) – 16")),
});

export const RpcItemSchema = z.extend(z.omit(ItemSchema, { key: true }), {
  method: z.string().check(z.describe("RPC method name as sent by the platform")),
  requestType: z.string().check(z.describe("readProperty | writeProperty")),
  requestTimeout: z._default(z.number().check(z.int(), z.positive()), 10000).check(z.describe("ms to wait for the device")),
});

const DeviceInfoSchema = z.object({
  deviceNameExpressionSource: z._default(z.enum(["expression", "constant"]), "expression"),
  deviceNameExpression: z
    .string()
    .check(z.meta({ tbgw: "deviceName" }), z.describe("name template: ${objectName}, ${objectId}, ${address}, ${vendorId}, ${routerName}, ...")),
  deviceProfileExpressionSource: z._default(z.enum(["expression", "constant"]), "expression"),
  deviceProfileExpression: z._default(z.string(), "default"),
});

export const DeviceSchema = z.object({
  deviceInfo: DeviceInfoSchema,
  host: z.optional(z.string()).check(z.describe("device IP (patterns: *, X placeholders in octets)")),
  port: z.optional(z.union([IntLike, z.literal("*")])).check(z.describe("device UDP port (default 47808)")),
  mask: z.optional(z.union([z.string(), z.number()])),
  address: z.optional(z.string()).check(z.describe('"host[/mask][:port]"; alternative to host/port/mask')),
  deviceId: z.optional(z.union([nonNegInt(), z.literal("*")])).check(z.describe("match by device instance")),
  altResponsesAddresses: z._default(z.array(z.string()), []).check(z.describe("other source addresses accepted for I-Am")),
  pollPeriod: z._default(z.number().check(z.int(), z.positive(), z.meta({ tbgw: "pollPeriod" })), 10000).check(z.describe("ms between polls")),
  reportStrategy: z.optional(ReportStrategySchema),
  uplinkConverter: z.optional(z.string()).check(z.describe("custom uplink converter: a class exported by a .ts/.js module in <config folder>/extensions/bacnet/ (AsyncBACnetUplinkConverter / BACnetUplinkConverter = the built-in conversion)")),
  attributes: z._default(z.union([z.array(ItemSchema), z.literal("*")]), []),
  timeseries: z._default(z.union([z.array(ItemSchema), z.literal("*")]), []),
  attributeUpdates: z._default(z.array(ItemSchema), []),
  serverSideRpc: z._default(z.array(RpcItemSchema), []),
  /** tb-gw addition: subscribe to COV for every polled object that supports it. */
  subscribeCov: z.optional(z.boolean()).check(z.describe("tb-gw extension: SubscribeCOV for polled objects (values arrive between polls)")),
});

const ApplicationSchema = z.object({
  objectName: z._default(z.string(), "Gateway"),
  host: z.optional(z.string()).check(z.describe("local IPv4 to bind (required unless address is given)")),
  port: z._default(IntLike.check(z.meta({ tbgw: "udpListenPort" })), 47808),
  mask: z._default(z.union([z.string(), z.number()]), "24"),
  address: z.optional(z.string()).check(z.describe('"host/mask:port"')),
  objectIdentifier: nonNegInt().check(z.describe("local device instance")),
  maxApduLengthAccepted: z._default(z.number().check(z.int()), 1476),
  segmentationSupported: z._default(z.string(), "segmentedBoth"),
  vendorIdentifier: z._default(z.number().check(z.int()), 15),
  networkNumber: z.optional(z.number().check(z.int())),
  networkNumberQuality: z._default(z.string(), "configured"),
  deviceDiscoveryTimeoutInSec: z._default(z.number().check(z.positive()), 5),
  devicesDiscoverPeriodSeconds: z.optional(z.number().check(z.positive())),
  devicesRescanObjectsPeriodSeconds: z._default(z.number().check(z.positive()), 60),
  loadProprietaryDevices: z.optional(z.boolean()),
  /** tb-gw addition: where Who-Is broadcasts go (default: the subnet broadcast of host/mask). */
  broadcastAddress: z.optional(z.string()).check(z.describe("tb-gw extension: Who-Is broadcast target (default: subnet broadcast)")),
});

export const BacnetConfigSchema = z.pipe(
  z.transform((raw: unknown) => fromOldFormat(raw)),
  z.object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z._default(z.string(), "INFO"),
    enableRemoteLogging: z.optional(z.boolean()),
    application: ApplicationSchema,
    foreignDevice: z
      .optional(
        z.object({
          address: z.string().check(z.describe('BBMD "host[:port]" (default port 47808); "0.0.0.0" = none')),
          ttl: z
            ._default(z.number().check(z.int(), z.minimum(1), z.maximum(65535)), 900)
            .check(z.describe("registration time-to-live in seconds; re-registered at half of it")),
        }),
      )
      .check(z.describe("register as a foreign device with a BBMD; Who-Is then goes through it")),
    devices: z._default(z.array(DeviceSchema), []),
    devicesDiscoverPeriodSeconds: z._default(z.number().check(z.positive()), 30),
    loadProprietaryDevices: z._default(z.boolean(), false),
    edeFilePath: z.optional(z.string()).check(z.describe("EDE file (not supported by tb-gw yet: logged and ignored)")),
    edeConfig: z.optional(z.unknown()),
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
