// Schema of the upstream BLE connector file (spec/connectors/ble.md); names and defaults as upstream.

import { z } from "zod";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const Uuid = z
  .string()
  .regex(/^[0-9a-fA-F]{4}([0-9a-fA-F]{4})?(-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "a characteristic UUID: 128-bit (00002A00-0000-1000-8000-00805F9B34FB) or 16-bit short form (2A00)")
  .describe("GATT characteristic UUID");

export const BleKeySchema = z.object({
  key: z.string().min(1),
  method: z.enum(["read", "notify"]).optional().describe("read every pollPeriod, or subscribe to notifications"),
  characteristicUUID: Uuid.optional(),
  valueExpression: z.string().default("[:]").describe('byte selection template, e.g. "[0:2]cm [2:]A"'),
  dataSourceType: z.enum(["characteristic", "advertisement"]).default("characteristic"),
  compute: z.string().optional().describe("arithmetic on `value` (hex/advertisement converter), e.g. \"value / 10 - 40\""),
});

const MacAddress = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/, "MACAddress must look like 4C:65:A8:DF:85:C0")
  .transform((s) => s.toUpperCase());

export const BleDeviceSchema = z
  .object({
    name: z.string().min(1).meta({ tbgw: "deviceName" }).describe("platform device name"),
    deviceType: z.string().default("default"),
    MACAddress: MacAddress,
    pollPeriod: z.number().int().positive().meta({ tbgw: "pollPeriod" }).default(5000).describe("ms between reads / advertisement processing"),
    timeout: z.number().int().positive().default(10000).describe("connect timeout, ms"),
    connectRetry: z.number().int().min(1).default(5).describe("attempts before the long wait"),
    connectRetryInSeconds: z.number().min(0).default(0).describe("s between attempts"),
    waitAfterConnectRetries: z.number().min(0).default(0).describe("s to wait after connectRetry failures"),
    showMap: z.boolean().default(false).describe("log the GATT services after connecting"),
    type: z.enum(["bytes", "hex"]).optional().describe("default converter: characteristics bytes, advertisements hex"),
    extension: z.string().optional().describe("custom converter class: not supported, the default converters are used"),
    reportStrategy: ReportStrategySchema.optional(),
    telemetry: z.array(BleKeySchema).default([]),
    attributes: z.array(BleKeySchema).default([]),
    attributeUpdates: z.array(z.object({ attributeOnThingsBoard: z.string(), characteristicUUID: Uuid })).default([]),
    serverSideRpc: z
      .array(
        z.object({
          methodRPC: z.string(),
          withResponse: z.boolean().default(true),
          characteristicUUID: Uuid.optional(),
          methodProcessing: z.enum(["read", "write", "scan"]),
        }),
      )
      .default([]),
  })
  .superRefine((d, ctx) => {
    for (const section of ["telemetry", "attributes"] as const)
      d[section].forEach((k, i) => {
        if (k.dataSourceType === "characteristic" && !k.characteristicUUID)
          ctx.addIssue({ code: "custom", path: [section, i, "characteristicUUID"], message: 'characteristic keys need "characteristicUUID" (or set "dataSourceType": "advertisement")' });
      });
  });

export const BleConfigSchema = z.object({
  name: z.string().optional(),
  id: z.string().optional(),
  logLevel: z.string().optional(),
  enableRemoteLogging: z.boolean().optional(),
  passiveScanMode: z.boolean().default(true),
  scannerPollPeriod: z.number().int().positive().default(5000).describe("ms between background scans"),
  scannerTimeout: z.number().int().positive().default(10000).describe("ms each background scan lasts"),
  showMap: z.boolean().default(false).describe("log scan results"),
  scanner: z
    .object({
      timeout: z.number().int().positive().default(10000),
      deviceName: z.string().optional().describe("only show devices advertising this name"),
    })
    .optional(),
  devices: z.array(BleDeviceSchema).default([]),
});

export type BleConfig = z.infer<typeof BleConfigSchema>;
export type BleDevice = z.infer<typeof BleDeviceSchema>;
export type BleKey = z.infer<typeof BleKeySchema>;
