// Schema of the upstream SNMP connector file (spec/connectors/snmp.md). Upstream fields keep their
// names and defaults; `version` and `v3` are tb-gw additions (upstream only speaks v1 communities).

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const Oid = z.pipe(
  z.string().check(z.regex(/^\.?\d+(\.\d+)*$/, "an OID is dotted digits, e.g. 1.3.6.1.2.1.1.1.0 (MIB names are not resolved)")),
  z.transform((s: string) => s.replace(/^\./, "")),
);

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
  .pipe(
    z.pipe(
      z.string(),
      z.transform((s: string) => s.toLowerCase()),
    ),
    z.enum(SnmpMethods),
  )
  .check(z.describe("SNMP operation: " + SnmpMethods.join(", ") + " (case-insensitive)"));

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));
const posInt = () => z.number().check(z.int(), z.positive());

/** Fields shared by polled items, attribute-update rules and RPC rules. */
const OperationFields = {
  method: Method,
  oid: opt(
    z.union([Oid, z.array(Oid)], { error: "an OID is dotted digits, e.g. 1.3.6.1.2.1.1.1.0, or a list of them (MIB names are not resolved)" }),
    "OID, or a list of OIDs for multiget/multiwalk/bulkwalk",
  ),
  scalarOid: opt(z.array(Oid), "bulkget: non-repeating OIDs"),
  repeatingOid: opt(z.array(Oid), "bulkget: repeating OIDs"),
  maxListSize: opt(posInt(), "bulkget: max repetitions (default 1)"),
  bulkSize: opt(posInt(), "bulkwalk/bulktable: OIDs per GetBulk (default 10)"),
  numBaseNodes: opt(z.number().check(z.int(), z.minimum(0)), "table: accepted for compatibility, unused"),
  mappings: opt(z.record(z.string(), z.unknown()), 'multiset: {oid: value}; "${attribute}" is replaced by the new value'),
  timeout: opt(z.number().check(z.positive()), "seconds; on items accepted but unused (as upstream), on RPC rules the wait"),
  community: opt(z.string(), "accepted on items for compatibility; the device community is used (as upstream)"),
};

export const SnmpItemSchema = z.object({
  key: z.string().check(z.minLength(1), z.describe("attribute or telemetry key")),
  ...OperationFields,
});

export const SnmpAttributeUpdateSchema = z.object({
  attributeFilter: z.string().check(z.describe("regular expression matched against updated shared attribute names")),
  ...OperationFields,
});

export const SnmpRpcSchema = z.object({
  requestFilter: z.string().check(z.describe("RPC method name (upstream uses the RPC method as the pattern, searched in this text)")),
  ...OperationFields,
});

const V3Schema = z
  .object({
    user: z.string().check(z.minLength(1), z.describe("USM user name")),
    level: z._default(z.enum(["noAuthNoPriv", "authNoPriv", "authPriv"]), "authPriv"),
    authProtocol: z._default(z.enum(["md5", "sha", "sha224", "sha256", "sha384", "sha512"]), "sha"),
    authKey: opt(z.string(), "authentication pass phrase (authNoPriv, authPriv)"),
    privProtocol: z._default(z.enum(["des", "aes", "aes256b", "aes256r"]), "aes"),
    privKey: opt(z.string(), "privacy pass phrase (authPriv)"),
    context: opt(z.string(), "SNMPv3 context name"),
  })
  .check(
    z.refine((v) => v.level === "noAuthNoPriv" || !!v.authKey, { message: "v3.authKey is required for authNoPriv and authPriv", path: ["authKey"] }),
    z.refine((v) => v.level !== "authPriv" || !!v.privKey, { message: "v3.privKey is required for authPriv", path: ["privKey"] }),
    z.describe("SNMPv3 USM credentials (tb-gw addition; used when version is 3)"),
  );

const Version = z.pipe(
  z.pipe(
    z.pipe(
      z.union([z.string(), z.number()]),
      z.transform((v: string | number) => String(v).toLowerCase().replace(/^v/, "")),
    ),
    z.enum(["1", "2c", "2", "3"]),
  ),
  z.transform((v: "1" | "2c" | "2" | "3") => (v === "2" ? "2c" : v) as "1" | "2c" | "3"),
);

export const SnmpDeviceSchema = z
  .object({
    deviceName: z.string().check(z.minLength(1), z.meta({ tbgw: "deviceName" })),
    deviceType: z._default(z.string(), "default"),
    ip: z.string().check(z.minLength(1), z.describe("agent host name or IP address")),
    port: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(65535)), 161),
    timeout: z._default(z.number().check(z.positive()), 6).check(z.describe("seconds per request")),
    retries: z._default(z.number().check(z.int(), z.minimum(0)), 0).check(z.describe("resends after a timeout (tb-gw addition; upstream 0)")),
    community: z._default(z.string(), "public"),
    version: z._default(Version, "2c").check(z.describe('"1", "2c" or "3" (tb-gw addition; upstream always sends v1)')),
    v3: z.optional(V3Schema),
    pollPeriod: z._default(z.number().check(z.int(), z.positive(), z.meta({ tbgw: "pollPeriod" })), 10000).check(z.describe("ms between polls")),
    converter: opt(
      z.string(),
      "custom converter for both directions: a JS/TS class (or module file) in <config folder>/extensions/snmp/ (SNMPUplinkConverter / SNMPDownlinkConverter = the built-in ones), built with the device entry; convert([section, keyConfig], response) per key and poll; convertDownlink(rule, {device, data}) when present gives the value every SET writes",
    ),
    reportStrategy: z.optional(ReportStrategySchema),
    attributes: z._default(z.array(SnmpItemSchema), []),
    telemetry: z._default(z.array(SnmpItemSchema), []),
    attributeUpdateRequests: z._default(z.array(SnmpAttributeUpdateSchema), []),
    serverSideRpcRequests: z._default(z.array(SnmpRpcSchema), []),
  })
  .check(z.refine((d) => d.version !== "3" || !!d.v3, { message: 'version "3" needs a "v3" block with the user', path: ["v3"] }));

export const SnmpConfigSchema = z.object({
  name: z.optional(z.string()),
  id: z.optional(z.string()),
  logLevel: z.optional(z.string()),
  enableRemoteLogging: z.optional(z.boolean()),
  devices: z.array(SnmpDeviceSchema).check(z.describe("SNMP agents to poll")),
});

export type SnmpConfig = z.infer<typeof SnmpConfigSchema>;
export type SnmpDevice = z.infer<typeof SnmpDeviceSchema>;
export type SnmpItem = z.infer<typeof SnmpItemSchema>;
export type SnmpOperation = Omit<SnmpItem, "key">;
