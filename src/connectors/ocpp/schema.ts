// Schema of the upstream OCPP connector file (spec/connectors/ocpp.md): the gateway is an OCPP 1.6-J
// Central System that charge points connect to. Upstream names and defaults; `type` on a key,
// `heartbeatInterval` and `callTimeout` are tb-gw additions.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));
const port = () => z.number().check(z.int(), z.minimum(1), z.maximum(65535));

/** A regular expression as upstream's `re.match` takes it (anchored at the start only). */
const Regex = (description: string) =>
  z.string().check(
    z.superRefine((s, ctx) => {
      try {
        new RegExp(s);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `not a regular expression: ${(e as Error).message}`, input: s });
      }
    }),
    z.describe(description),
  );

const ConnectionSchema = z
  .object({
    type: z
      .pipe(z.string().check(z.meta({ examples: ["insecure", "tls"] })), z.transform((s: string) => s.toLowerCase()))
      .check(z.refine((s) => s === "insecure" || s === "tls", { message: 'connection.type is "insecure" (ws://) or "tls" (wss://)' })),
    cert: opt(z.string().check(z.minLength(1)), "tls: server certificate file (PEM); relative paths start at the config folder"),
    key: opt(z.string().check(z.minLength(1)), "tls: private key file (PEM)"),
    password: opt(z.string(), "tls: passphrase of the private key"),
  })
  .check(
    z.superRefine((c, ctx) => {
      if (c.type === "tls" && (!c.cert || !c.key)) ctx.addIssue({ code: "custom", path: [c.cert ? "key" : "cert"], message: 'connection type "tls" needs "cert" and "key" (PEM files)' });
    }),
  );

const SecuritySchema = z.union([
  z.object({
    type: z.literal(["token", "Token", "TOKEN"]).check(z.describe("token: the Authorization header must equal one of `tokens`")),
    tokens: z.array(z.string().check(z.minLength(1))).check(z.describe('whole Authorization header values, e.g. "Bearer XYZ"')),
  }),
  z.object({
    type: z.literal(["basic", "Basic", "BASIC"]).check(z.describe("basic: HTTP basic authentication")),
    credentials: z.array(z.object({ username: z.string(), password: z.string() })),
  }),
]);

const KeySchema = z.object({
  messageTypeFilter: z
    .string()
    .check(z.describe('comma-separated OCPP actions this key is read from, e.g. "MeterValues," or "BootNotification,StatusNotification"')),
  key: z.string().check(z.minLength(1), z.describe("platform key; may hold ${...} from the message")),
  value: z.string().check(z.describe("${...} over the message in the Python library's snake_case names, e.g. ${meter_value[:].sampled_value[:].value}")),
  type: opt(z.string(), "tb-gw addition: convert the value (string, int, float, bool, json); default: a lone ${...} keeps its JSON type"),
  reportStrategy: z.optional(ReportStrategySchema),
});

const ChargePointSchema = z.object({
  idRegexpPattern: Regex("charge point ids served by this entry (the URL path without its slashes), matched from the start"),
  host: opt(Regex("peer address filter"), "optional regex the charge point's IP address must match"),
  port: opt(Regex("peer port filter"), "optional regex the charge point's source port must match"),
  deviceNameExpression: z.string().check(z.minLength(1), z.describe("device name from the boot profile: ${Vendor}, ${Model}, ${charge_point_serial_number}, ${id} (the charge point id)")),
  deviceTypeExpression: z._default(z.string(), "default").check(z.describe("device type, same placeholders")),
  extension: opt(
    z.string().check(z.minLength(1)),
    "uplink converter class: OcppUplinkConverter (built in), or a JS/TS class (or module file) in <config folder>/extensions/ocpp/, built with this entry, convert({deviceName, deviceType, messageType, profile}, message)",
  ),
  reportStrategy: z.optional(ReportStrategySchema),
  attributes: z._default(z.array(KeySchema), []),
  timeseries: z._default(z.array(KeySchema), []),
  attributeUpdates: z._default(
    z.array(
      z.object({
        attributeOnThingsBoard: z.string().check(z.describe("shared attribute sent to the charge point")),
        valueExpression: z.string().check(z.describe("DataTransfer data: ${attributeKey} and ${attributeValue} replaced")),
      }),
    ),
    [],
  ),
  serverSideRpc: z._default(
    z.array(
      z.object({
        methodRPC: z.string().check(z.minLength(1), z.describe("RPC method name")),
        withResponse: z._default(z.boolean(), true).check(z.describe("reply with the charge point's DataTransfer confirmation; false: no reply")),
        valueExpression: z.string().check(z.describe("DataTransfer data: ${params} / ${params.x} replaced by the RPC params as JSON")),
      }),
    ),
    [],
  ),
});

const CentralSystemSchema = z.object({
  name: opt(z.string(), "informational"),
  host: z._default(z.string().check(z.minLength(1)), "0.0.0.0").check(z.describe("address to listen on")),
  port: z._default(port(), 9000).check(z.describe("port to listen on")),
  connection: ConnectionSchema,
  security: z._default(z.array(SecuritySchema), []).check(z.describe("empty: no authentication; otherwise one of the tokens or credentials must match")),
  heartbeatInterval: z._default(z.number().check(z.int(), z.positive()), 10).check(z.describe("tb-gw addition: heartbeat interval (s) given in the BootNotification answer (upstream: 10)")),
  callTimeout: z._default(z.number().check(z.positive()), 30).check(z.describe("tb-gw addition: seconds to wait for a charge point's answer to a CALL")),
});

export const OcppConfigSchema = z
  .object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    centralSystem: CentralSystemSchema,
    chargePoints: z._default(z.array(ChargePointSchema), []),
  })
  .check(z.describe("OCPP connector: the gateway is an OCPP 1.6-J Central System; charge points connect over WebSocket"));

export type OcppConfig = z.output<typeof OcppConfigSchema>;
export type ChargePointConfig = z.output<typeof ChargePointSchema>;
export type OcppKey = z.output<typeof KeySchema>;
export type CentralSystemConfig = z.output<typeof CentralSystemSchema>;
