// Schema of the upstream FTP connector file (spec/connectors/ftp.md), current format (`parameters`)
// and old format (host/port/security at the top, attributeUpdates/serverSideRpc at the top), the old
// one converted as upstream's backward_compatibility_adapter does. Upstream names and defaults;
// `TLSMode`, `SSLVerify`, `caCert` and `settleTime` are tb-gw additions.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));
const port = () => z.number().check(z.int(), z.minimum(1), z.maximum(65535));

/** Case-insensitive like upstream; the JSON Schema lists the values as suggestions. */
const upperEnum = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.pipe(z.pipe(z.string().check(z.meta({ examples: [...values] })), z.transform((s: string) => s.toUpperCase())), z.enum(values));

const SecuritySchema = z.object({
  type: z._default(z.pipe(z.pipe(z.string().check(z.meta({ examples: ["basic", "anonymous"] })), z.transform((s: string) => s.toLowerCase())), z.enum(["basic", "anonymous"])), "anonymous").check(
    z.describe("basic: username/password; anonymous: user anonymous, password anonymous@"),
  ),
  username: opt(z.string(), "basic: user name"),
  password: opt(z.string(), "basic: password"),
});

const ParametersSchema = z.object({
  host: z.string().check(z.minLength(1), z.describe("FTP server host name or address")),
  port: z._default(port(), 21),
  TLSSupport: z._default(z.boolean(), false).check(z.describe("FTPS: TLS on the control and data connections")),
  TLSMode: z
    ._default(z.pipe(z.pipe(z.string().check(z.meta({ examples: ["explicit", "implicit"] })), z.transform((s: string) => s.toLowerCase())), z.enum(["explicit", "implicit"])), "explicit")
    .check(z.describe("tb-gw addition. explicit: AUTH TLS on the plain port (upstream); implicit: TLS from the first byte (usually port 990)")),
  SSLVerify: z._default(z.boolean(), true).check(z.describe("tb-gw addition. Verify the server certificate and host name (false: encrypted, unverified; logged as a warning)")),
  caCert: opt(z.string().check(z.minLength(1)), "tb-gw addition. CA certificate (PEM) the server certificate must chain to, relative to the config folder; default: the system CAs"),
  security: z._default(SecuritySchema, { type: "anonymous" }),
});

const KeySchema = z.object({
  key: z.string().check(z.minLength(1), z.describe("key: literal, ${Header} (table), ${path} (JSON) or [from:to] (sliced text)")),
  value: z.string().check(z.describe("value: ${Header} (table), ${path} (JSON), [from:to] (sliced text) or a literal")),
  type: opt(z.string(), "string (default), int/integer/long, float/double, bool/boolean, json; upstream always sends text"),
  tsField: opt(z.string(), "column/path holding this value's timestamp (number = epoch ms, or a date text)"),
  dayfirst: opt(z.boolean(), "tsField dates: day before month"),
  yearfirst: opt(z.boolean(), "tsField dates: year first"),
  reportStrategy: z.optional(ReportStrategySchema),
});

const PathSchema = z
  .object({
    path: z.string().check(z.minLength(1), z.describe('file on the server; * matches any text in a name and any folder in a folder part, e.g. "fol/*_hello*.txt", "data/*/x.csv"')),
    devicePatternName: opt(z.string().check(z.minLength(1)), "device name: literal, ${Header} (table), ${path} (JSON), [from:to] (sliced text), ${fileName}/${filePath}; not needed with a custom converter"),
    devicePatternType: z._default(z.string(), "Device").check(z.describe("device type, same syntax as devicePatternName")),
    readMode: upperEnum(["FULL", "PARTIAL"] as const).check(z.describe("FULL: the whole file, again whenever it changes; PARTIAL: only what was appended since the last read (offsets kept across restarts)")),
    txtFileDataView: z._default(upperEnum(["TABLE", "SLICED"] as const), "TABLE").check(z.describe(".txt files: TABLE (first line is the header) or SLICED ([from:to] over the first field); .csv is always TABLE")),
    delimiter: z._default(z.string().check(z.minLength(1)), ",").check(z.describe("column separator")),
    pollPeriod: z._default(z.number().check(z.positive()), 60).check(z.describe("seconds between polls")),
    maxFileSize: z._default(z.number().check(z.positive()), 5).check(z.describe("MB: larger files (FULL) or larger new parts (PARTIAL) are skipped with an error")),
    with_sorting_files: opt(z.boolean(), "newest file first (default true); the key upstream reads"),
    withSortingFiles: opt(z.boolean(), "same as with_sorting_files (the sample's spelling)"),
    attributes: z._default(z.array(KeySchema), []),
    timeseries: z._default(z.array(KeySchema), []),
    reportStrategy: z.optional(ReportStrategySchema),
    converter: opt(
      z.looseObject({
        type: opt(z.string(), 'upstream writes "custom"'),
        extension: z.string().check(z.minLength(1), z.describe("class name (or module file) in <config folder>/extensions/ftp/")),
        "extension-config": opt(z.unknown(), "free-form settings the class reads"),
      }),
      'custom uplink converter: {"type": "custom", "extension": "MyClass", "extension-config": {...}}, built with the path entry, called per line (txt/csv) or per file (json)',
    ),
  })
  .check(
    z.superRefine((p, ctx) => {
      if (p.devicePatternName === undefined && !p.converter) ctx.addIssue({ code: "custom", path: ["devicePatternName"], message: "devicePatternName is needed (or a custom converter)" });
      const ext = p.path.slice(p.path.lastIndexOf("/") + 1).split(".").pop()?.toLowerCase();
      if (!p.path.includes(".") || !["json", "txt", "csv", "*"].includes(ext ?? ""))
        ctx.addIssue({ code: "custom", path: ["path"], message: `only .json, .txt and .csv files are read (or .* for all three); got "${p.path}"` });
    }),
  );

const AttributeUpdateSchema = z.object({
  path: z.string().check(z.minLength(1), z.describe("file to write; may hold ${attributeKey}, ${attributeValue}, ${deviceName}")),
  deviceNameFilter: z._default(z.string(), ".*").check(z.describe("regex, full match on the device name")),
  writingMode: z._default(upperEnum(["WRITE", "OVERRIDE"] as const), "WRITE").check(z.describe("WRITE: append a line (.json: merge keys); OVERRIDE: replace the file")),
  valueExpression: z._default(z.string(), "${attributeValue}").check(z.describe("text written: ${attributeKey}, ${attributeValue}, ${deviceName}")),
});

const RpcSchema = z.object({
  deviceNameFilter: z._default(z.string(), ".*").check(z.describe("regex, full match on the device name")),
  methodFilter: z.string().check(z.describe("RPC method (regex, full match); a method named write writes, any other reads")),
  valueExpression: z._default(z.string(), "${params}").check(z.describe('where the request is: ${params} = "path" (read) or "path;value" (write)')),
});

const RequestsSchema = z.object({
  attributeUpdates: z._default(z.array(AttributeUpdateSchema), []),
  serverSideRpc: z._default(z.array(RpcSchema), []),
});

const InputSchema = z
  .object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    configVersion: z.optional(z.string()),
    parameters: z.optional(ParametersSchema),
    // Old format: the connection at the top (upstream's adapter moves it into `parameters`).
    host: opt(z.string().check(z.minLength(1)), "old format: parameters.host"),
    port: opt(port(), "old format: parameters.port"),
    TLSSupport: opt(z.boolean(), "old format: parameters.TLSSupport"),
    security: opt(SecuritySchema, "old format: parameters.security"),
    paths: z._default(z.array(PathSchema), []),
    requestsMapping: z.optional(RequestsSchema),
    attributeUpdates: opt(z.array(AttributeUpdateSchema), "old format: requestsMapping.attributeUpdates"),
    serverSideRpc: opt(z.array(RpcSchema), "old format: requestsMapping.serverSideRpc"),
    settleTime: z._default(z.number().check(z.minimum(0)), 1).check(
      z.describe("tb-gw addition. Seconds a changed file must keep its size and time before a FULL read (a file still being written is not read twice)"),
    ),
  })
  .check(
    z.superRefine((c, ctx) => {
      if (!c.parameters && c.host === undefined) ctx.addIssue({ code: "custom", path: ["parameters"], message: 'the FTP server is needed: "parameters": {"host": ..., "port": 21, "security": {...}} (or "host" at the top, old format)' });
    }),
    z.describe("FTP connector: polls files on an FTP/FTPS server, converts JSON, table and sliced text; writes files for attribute updates and RPC"),
  );

type Input = z.output<typeof InputSchema>;
export type FtpParameters = z.output<typeof ParametersSchema>;
export type FtpKey = z.output<typeof KeySchema>;
export type FtpConverterSection = NonNullable<z.output<typeof PathSchema>["converter"]>;
export type FtpPath = Omit<z.output<typeof PathSchema>, "with_sorting_files" | "withSortingFiles" | "devicePatternName"> & { sortFiles: boolean; devicePatternName: string };
export type FtpAttributeUpdate = z.output<typeof AttributeUpdateSchema>;
export type FtpRpc = z.output<typeof RpcSchema>;
export interface FtpConfig {
  name?: string;
  id?: string;
  logLevel?: string;
  parameters: FtpParameters;
  paths: FtpPath[];
  attributeUpdates: FtpAttributeUpdate[];
  serverSideRpc: FtpRpc[];
  settleTime: number;
}

/** Old format → `parameters` and `requestsMapping` (upstream's adapter); keys typed "int" mean integer. */
function toCurrent(input: Input): FtpConfig {
  const parameters: FtpParameters = input.parameters ?? {
    host: input.host!,
    port: input.port ?? 21,
    TLSSupport: input.TLSSupport ?? false,
    TLSMode: "explicit",
    SSLVerify: true,
    security: input.security ?? { type: "anonymous" },
  };
  const paths = input.paths.map(({ with_sorting_files, withSortingFiles, ...p }) => ({ ...p, devicePatternName: p.devicePatternName ?? "", sortFiles: with_sorting_files ?? withSortingFiles ?? true }));
  return {
    name: input.name,
    id: input.id,
    logLevel: input.logLevel,
    parameters,
    paths,
    attributeUpdates: input.requestsMapping?.attributeUpdates ?? input.attributeUpdates ?? [],
    serverSideRpc: input.requestsMapping?.serverSideRpc ?? input.serverSideRpc ?? [],
    settleTime: input.settleTime,
  };
}

export const FtpConfigSchema: z.ZodMiniType<FtpConfig, unknown> = z.pipe(InputSchema, z.transform(toCurrent));
