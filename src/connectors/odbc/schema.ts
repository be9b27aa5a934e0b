// Schema of the upstream ODBC connector file (spec/connectors/odbc.md): upstream's names and
// defaults. Python-only settings (`pyodbc`, `connection.encoding`/`decoding`) are accepted so that
// an upstream file loads unchanged; what they do here is said in README.md. `converter` names a
// custom row converter class (custom-converter.ts).
// Expressions are checked by validate's `expression` role, at the offending character.
// `attributeUpdates` is ours (upstream logs attribute updates as unsupported).

import { z } from "../../config/zod.ts";

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));

const Expression = (description: string) => z.string().check(z.meta({ tbgw: "expression" }), z.describe(`${description}; safe Python subset, see src/common/expressions/README.md`));

const ConnectionSchema = z.object({
  str: z.string().check(z.minLength(1), z.describe("ODBC connection string, e.g. Driver={PostgreSQL};Server=...;Database=...;Uid=...;Pwd=... or DSN=name")),
  attributes: z._default(
    z.object({
      autocommit: opt(z.boolean(), "commit each statement (default true); false: the connector commits after each attribute update or RPC"),
      timeout: opt(z.number().check(z.minimum(0)), "seconds to wait for the login (0 = the driver's default)"),
    }),
    {},
  ).check(z.describe("connection attributes")),
  encoding: opt(z.string(), "upstream (pyodbc) text encoding; here text is always UTF-8 through the driver's wide-character API"),
  decoding: opt(z.record(z.string(), z.string()), "upstream (pyodbc) decodings; ignored here (see README)"),
  reconnect: z._default(z.boolean(), true).check(z.describe("reconnect after a failed connect or a lost connection")),
  reconnectPeriod: z._default(z.number().check(z.positive()), 60).check(z.describe("seconds before reconnecting (the wait doubles up to this from 1 s after a connection that worked)")),
});

const IteratorSchema = z
  .object({
    column: z.string().check(z.minLength(1), z.describe("column whose value in the last row becomes the query's parameter")),
    value: opt(z.union([z.number(), z.string(), z.boolean()]), "initial value of the iterator"),
    query: opt(z.string(), "SQL whose first column of the first row is the initial value (used when no `value`)"),
    persistent: z._default(z.boolean(), false).check(z.describe("keep the iterator across restarts in <config folder>/odbc/<sha1>.json, upstream's file")),
  })
  .check(
    z.refine((it) => it.value !== undefined || (it.query !== undefined && it.query.trim() !== "") || it.persistent, {
      message: "the iterator needs a starting point: `value` or `query` (or `persistent` with a saved file)",
    }),
  );

const MappingItem = z.union([
  z.string().check(z.describe('"*" (every column) or a column name (key = column name)')),
  z
    .object({
      name: opt(z.string(), "key sent to ThingsBoard"),
      nameExpression: opt(Expression("expression giving the key"), "expression giving the key"),
      column: opt(z.string(), "column whose value is sent"),
      value: opt(Expression("expression giving the value, with the row's columns as variables"), "expression giving the value"),
    })
    .check(
      z.refine((m) => m.name !== undefined || m.nameExpression !== undefined, { message: "a mapping item needs `name` or `nameExpression`" }),
      z.refine((m) => m.column !== undefined || m.value !== undefined, { message: "a mapping item needs `column` or `value`" }),
    ),
]);

const MappingList = z.union([z.literal("*"), z.array(MappingItem)]);

const MappingSchema = z.object({
  device: z.object({
    name: Expression("device name: expression with the row's columns as variables, e.g. 'ODBC ' + entity_id"),
    type: opt(z.string(), "device type: an expression over the row's columns, or plain text such as postgres (default: default)"),
  }),
  attributes: opt(MappingList, '"*" (every non-NULL column) or a list of items'),
  timeseries: opt(MappingList, '"*" (every column) or a list of items'),
  sendDataOnlyOnChange: opt(z.boolean(), "older upstream setting; use the report strategy instead"),
});

const RpcMethod = z.union([
  z.string().check(z.describe("stored procedure name, called as {CALL name}")),
  z.object({
    name: z.string().check(z.minLength(1)),
    args: opt(z.array(z.unknown()), "values bound to the ? parameters (never pasted into the SQL)"),
    params: opt(z.array(z.unknown()), "older name of args"),
    query: opt(z.string(), "SQL with ? parameters; without it the procedure `name` is called"),
    result: opt(z.boolean(), "reply with the first row of the result"),
  }),
]);

const ServerSideRpcSchema = z.object({
  enableUnknownRpc: z._default(z.boolean(), false).check(z.describe("allow RPC methods not listed (their params give args, query, result)")),
  overrideRpcConfig: z._default(z.boolean(), false).check(z.describe("RPC params override the configured method's args, query and result")),
  methods: z._default(z.array(RpcMethod), []).check(z.describe("allowed procedures and queries")),
});

const AttributeUpdateSchema = z.object({
  attributeOnThingsBoard: z.string().check(z.minLength(1), z.describe('shared attribute key, or "*" for every key')),
  query: opt(z.string(), "SQL with ? parameters (e.g. UPDATE setpoints SET value = ? WHERE device = ? AND name = ?)"),
  procedure: opt(z.string(), "stored procedure to call instead of a query"),
  args: z._default(z.array(Expression("a bound parameter")), ["value", "deviceName", "key"]).check(
    z.describe("expressions giving the bound parameters in order; variables: deviceName, deviceType, key, value"),
  ),
}).check(z.refine((a) => (a.query === undefined) !== (a.procedure === undefined), { message: "give exactly one of `query` or `procedure`" }));

export const OdbcConfigSchema = z.object({
  name: z.optional(z.string()),
  id: z.optional(z.string()),
  logLevel: z.optional(z.string()),
  enableRemoteLogging: z.optional(z.boolean()),
  connection: ConnectionSchema,
  pyodbc: opt(z.record(z.string(), z.unknown()), "upstream pyodbc module settings (e.g. pooling); ignored here: one connection, no pool"),
  converter: opt(
    z.string(),
    "custom row converter: a class (or module file) in <config folder>/extensions/odbc/, built with this config, called per row as convert(mapping, row); OdbcUplinkConverter or nothing = the built-in mapping",
  ),
  polling: z.object({
    query: z.string().check(z.minLength(1), z.describe("SELECT with one ? for the iterator, ordered by the iterator column")),
    period: z._default(z.number().check(z.positive()), 60).check(z.describe("seconds between polls")),
    iterator: IteratorSchema,
  }),
  mapping: z.union([
    z.literal("*").check(z.describe('"*": each row is gateway data already, in the columns deviceName, deviceType, attributes and telemetry (or timeseries); JSON as text or values')),
    MappingSchema,
  ]),
  serverSideRpc: z._default(ServerSideRpcSchema, { enableUnknownRpc: false, overrideRpcConfig: false, methods: [] }),
  attributeUpdates: z._default(z.array(AttributeUpdateSchema), []).check(z.describe("tb-gw extension: shared attribute updates written with bound parameters")),
});

export type OdbcConfig = z.infer<typeof OdbcConfigSchema>;
export type OdbcMappingItem = Exclude<Exclude<OdbcConfig["mapping"], "*">["timeseries"], "*" | undefined>[number];
export type OdbcRpcMethod = OdbcConfig["serverSideRpc"]["methods"][number];
export type OdbcAttributeUpdate = OdbcConfig["attributeUpdates"][number];
