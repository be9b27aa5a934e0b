// Schema of the upstream BLE connector file (spec/connectors/ble.md); names and defaults as upstream.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const Uuid = z
  .string()
  .check(
    z.regex(/^[0-9a-fA-F]{4}([0-9a-fA-F]{4})?(-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "a characteristic UUID: 128-bit (00002A00-0000-1000-8000-00805F9B34FB) or 16-bit short form (2A00)"),
    z.describe("GATT characteristic UUID"),
  );

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));

export const BleKeySchema = z.object({
  key: z.string().check(z.minLength(1)),
  method: opt(z.enum(["read", "notify"]), "read every pollPeriod, or subscribe to notifications"),
  characteristicUUID: z.optional(Uuid),
  valueExpression: z._default(z.string(), "[:]").check(z.describe('byte selection template, e.g. "[0:2]cm [2:]A"')),
  dataSourceType: z._default(z.enum(["characteristic", "advertisement"]), "characteristic"),
  compute: opt(
    z.string().check(z.meta({ tbgw: "expression", tbgwExpression: { variables: ["value"] } })),
    "Python expression on `value` (hex/advertisement converter), e.g. \"value / 10 - 40\"; safe subset, see src/common/expressions/README.md",
  ),
});

const MacAddress = z.pipe(
  z.string().check(z.regex(/^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/, "MACAddress must look like 4C:65:A8:DF:85:C0")),
  z.transform((s: string) => s.toUpperCase()),
);

export const BleDeviceSchema = z
  .object({
    name: z.string().check(z.minLength(1), z.meta({ tbgw: "deviceName" }), z.describe("platform device name")),
    deviceType: z._default(z.string(), "default"),
    MACAddress: MacAddress,
    pollPeriod: z
      ._default(z.number().check(z.int(), z.positive(), z.meta({ tbgw: "pollPeriod" })), 5000)
      .check(z.describe("ms between reads / advertisement processing")),
    timeout: z._default(z.number().check(z.int(), z.positive()), 10000).check(z.describe("connect timeout, ms")),
    connectRetry: z._default(z.number().check(z.int(), z.minimum(1)), 5).check(z.describe("attempts before the long wait")),
    connectRetryInSeconds: z._default(z.number().check(z.minimum(0)), 0).check(z.describe("s between attempts")),
    waitAfterConnectRetries: z._default(z.number().check(z.minimum(0)), 0).check(z.describe("s to wait after connectRetry failures")),
    showMap: z._default(z.boolean(), false).check(z.describe("log the GATT services after connecting")),
    type: opt(z.enum(["bytes", "hex"]), "default converter: characteristics bytes, advertisements hex"),
    extension: opt(
      z.string(),
      "custom converter class (or module file) in <config folder>/extensions/ble/, used for both sources; BytesBLEUplinkConverter / HexBytesBLEUplinkConverter select a built-in one",
    ),
    reportStrategy: z.optional(ReportStrategySchema),
    telemetry: z._default(z.array(BleKeySchema), []),
    attributes: z._default(z.array(BleKeySchema), []),
    attributeUpdates: z._default(z.array(z.object({ attributeOnThingsBoard: z.string(), characteristicUUID: Uuid })), []),
    serverSideRpc: z._default(
      z.array(
        z.object({
          methodRPC: z.string(),
          withResponse: z._default(z.boolean(), true),
          characteristicUUID: z.optional(Uuid),
          methodProcessing: z.enum(["read", "write", "scan"]),
        }),
      ),
      [],
    ),
  })
  .check(
    z.superRefine((d, ctx) => {
      for (const section of ["telemetry", "attributes"] as const)
        d[section].forEach((k, i) => {
          if (k.dataSourceType === "characteristic" && !k.characteristicUUID)
            ctx.addIssue({ code: "custom", path: [section, i, "characteristicUUID"], message: 'characteristic keys need "characteristicUUID" (or set "dataSourceType": "advertisement")' });
        });
    }),
  );

export const BleConfigSchema = z.object({
  name: z.optional(z.string()),
  id: z.optional(z.string()),
  logLevel: z.optional(z.string()),
  enableRemoteLogging: z.optional(z.boolean()),
  passiveScanMode: z._default(z.boolean(), true),
  scannerPollPeriod: z._default(z.number().check(z.int(), z.positive()), 5000).check(z.describe("ms between background scans")),
  scannerTimeout: z._default(z.number().check(z.int(), z.positive()), 10000).check(z.describe("ms each background scan lasts")),
  showMap: z._default(z.boolean(), false).check(z.describe("log scan results")),
  scanner: z.optional(
    z.object({
      timeout: z._default(z.number().check(z.int(), z.positive()), 10000),
      deviceName: opt(z.string(), "only show devices advertising this name"),
    }),
  ),
  devices: z._default(z.array(BleDeviceSchema), []),
});

export type BleConfig = z.infer<typeof BleConfigSchema>;
export type BleDevice = z.infer<typeof BleDeviceSchema>;
export type BleKey = z.infer<typeof BleKeySchema>;
