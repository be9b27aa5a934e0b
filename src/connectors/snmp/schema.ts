// Schema of the upstream SNMP connector file (spec/connectors/snmp.md). Upstream fields keep their
// names and defaults; `version` and `v3` are tb-gw additions (upstream only speaks v1 communities).

import { z } from "zod";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const Oid = z
  .string()
  .regex(/^\.?\d+(\.\d+)*$/, "an OID is dotted digits, e.g. 1.3.6.1.2.1.1.1.0 (MIB names are not resolved)")
  .transform((s) => s.replace(/^\./, ""));

export const SnmpMethods = [
  "get",
  "multiget",
  "getnext",
  "walk",
  "multiwalk",
  "set",
  "multiset",
  "bulkget",
  "bulkwalk",
  "table",
  "bulktable",
] as const;
export type SnmpMethod = (typeof SnmpMethods)[number];

const Method = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(SnmpMethods))
  .describe("SNMP operation: " + SnmpMethods.join(", ") + " (case-insensitive)");

/** Fields shared by polled items, attribute-update rules and RPC rules. */
const OperationFields = {
  method: Method,
  oid: z
    .union([Oid, z.array(Oid)], { error: "an OID is dotted digits, e.g. 1.3.6.1.2.1.1.1.0, or a list of them (MIB names are not resolved)" })
    .optional().describe("OID, or a list of OIDs for multiget/multiwalk/bulkwalk"),
  scalarOid: z.array(Oid).optional().describe("bulkget: non-repeating OIDs"),
  repeatingOid: z.array(Oid).optional().describe("bulkget: repeating OIDs"),
  maxListSize: z.number().int().positive().optional().describe("bulkget: max repetitions (default 1)"),
  bulkSize: z.number().int().positive().optional().describe("bulkwalk/bulktable: OIDs per GetBulk (default 10)"),
  numBaseNodes: z.number().int().min(0).optional().describe("table: accepted for compatibility, unused"),
  mappings: z.record(z.string(), z.unknown()).optional().describe('multiset: {oid: value}; "${attribute}" is replaced by the new value'),
  timeout: z.number().positive().optional().describe("seconds; on items accepted but unused (as upstream), on RPC rules the wait"),
  community: z.string().optional().describe("accepted on items for compatibility; the device community is used (as upstream)"),
};

export const SnmpItemSchema = z.object({
  key: z.string().min(1).describe("attribute or telemetry key"),
  ...OperationFields,
});

export const SnmpAttributeUpdateSchema = z.object({
  attributeFilter: z.string().describe("regular expression matched against updated shared attribute names"),
  ...OperationFields,
});

export const SnmpRpcSchema = z.object({
  requestFilter: z.string().describe("RPC method name (upstream uses the RPC method as the pattern, searched in this text)"),
  ...OperationFields,
});

const V3Schema = z
  .object({
    user: z.string().min(1).describe("USM user name"),
    level: z.enum(["noAuthNoPriv", "authNoPriv", "authPriv"]).default("authPriv"),
    authProtocol: z.enum(["md5", "sha", "sha224", "sha256", "sha384", "sha512"]).default("sha"),
    authKey: z.string().optional().describe("authentication pass phrase (authNoPriv, authPriv)"),
    privProtocol: z.enum(["des", "aes", "aes256b", "aes256r"]).default("aes"),
    privKey: z.string().optional().describe("privacy pass phrase (authPriv)"),
    context: z.string().optional().describe("SNMPv3 context name"),
  })
  .refine((v) => v.level === "noAuthNoPriv" || !!v.authKey, { message: "v3.authKey is required for authNoPriv and authPriv", path: ["authKey"] })
  .refine((v) => v.level !== "authPriv" || !!v.privKey, { message: "v3.privKey is required for authPriv", path: ["privKey"] })
  .describe("SNMPv3 USM credentials (tb-gw addition; used when version is 3)");

const Version = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).toLowerCase().replace(/^v/, ""))
  .pipe(z.enum(["1", "2c", "2", "3"]))
  .transform((v) => (v === "2" ? "2c" : v) as "1" | "2c" | "3");

export const SnmpDeviceSchema = z
  .object({
    deviceName: z.string().min(1).meta({ tbgw: "deviceName" }),
    deviceType: z.string().default("default"),
    ip: z.string().min(1).describe("agent host name or IP address"),
    port: z.number().int().min(1).max(65535).default(161),
    timeout: z.number().positive().default(6).describe("seconds per request"),
    retries: z.number().int().min(0).default(0).describe("resends after a timeout (tb-gw addition; upstream 0)"),
    community: z.string().default("public"),
    version: Version.default("2c").describe('"1", "2c" or "3" (tb-gw addition; upstream always sends v1)'),
    v3: V3Schema.optional(),
    pollPeriod: z.number().int().positive().meta({ tbgw: "pollPeriod" }).default(10000).describe("ms between polls"),
    converter: z.string().optional().describe("custom converter class: not supported, the default converter is used"),
    reportStrategy: ReportStrategySchema.optional(),
    attributes: z.array(SnmpItemSchema).default([]),
    telemetry: z.array(SnmpItemSchema).default([]),
    attributeUpdateRequests: z.array(SnmpAttributeUpdateSchema).default([]),
    serverSideRpcRequests: z.array(SnmpRpcSchema).default([]),
  })
  .refine((d) => d.version !== "3" || !!d.v3, { message: 'version "3" needs a "v3" block with the user', path: ["v3"] });

export const SnmpConfigSchema = z.object({
  name: z.string().optional(),
  id: z.string().optional(),
  logLevel: z.string().optional(),
  enableRemoteLogging: z.boolean().optional(),
  devices: z.array(SnmpDeviceSchema).describe("SNMP agents to poll"),
});

export type SnmpConfig = z.infer<typeof SnmpConfigSchema>;
export type SnmpDevice = z.infer<typeof SnmpDeviceSchema>;
export type SnmpItem = z.infer<typeof SnmpItemSchema>;
export type SnmpOperation = Omit<SnmpItem, "key">;
