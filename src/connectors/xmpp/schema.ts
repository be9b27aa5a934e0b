// Schema of the upstream XMPP connector file (spec/connectors/xmpp.md). Upstream names and
// defaults; `server.verify_certificate`, `server.ca_cert`, keys' `type` and the reconnect delays
// are tb-gw additions (README).

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));

/** A JID: `local@domain`, `domain`, with an optional `/resource`. */
const JidText = z.string().check(z.regex(/^([^@/\s]+@)?[^@/\s]+(\/.+)?$/, 'a JID such as "device@example.org/resource"'));

const ServerSchema = z
  .object({
    jid: JidText.check(z.describe("the gateway's own account, e.g. gateway@example.org (a /resource is kept)")),
    password: z.string().check(z.describe("its password")),
    host: z.string().check(z.minLength(1), z.describe("XMPP server to connect to (name or address)")),
    port: z.number().check(z.int(), z.minimum(1), z.maximum(65535), z.describe("its client port, usually 5222 (5223 with use_ssl)")),
    use_ssl: z._default(z.boolean(), false).check(z.describe("direct TLS from the first byte (XEP-0368) instead of STARTTLS")),
    disable_starttls: z._default(z.boolean(), false).check(z.describe("never upgrade with STARTTLS: the session stays unencrypted unless use_ssl")),
    force_starttls: z._default(z.boolean(), true).check(z.describe("refuse to log in when the server does not offer STARTTLS")),
    unencrypted_plain_auth: z._default(z.boolean(), true).check(z.describe("allow SASL PLAIN (the password in clear text) on an unencrypted session")),
    verify_certificate: z._default(z.boolean(), true).check(z.describe("check the server's certificate chain and that it names the JID's domain (tb-gw addition; false: encrypted, unverified, logged as a warning)")),
    ca_cert: opt(z.string().check(z.minLength(1), z.meta({ tbgw: "file" })), "CA certificate file (PEM) trusted besides the system's, for a private CA or a self-signed server (tb-gw addition; relative to the config folder)"),
    timeout: z._default(z.number().check(z.positive()), 10000).check(
      z.describe("upstream's event-loop processing timeout; not a session lifetime: the session stays up (accepted, unused)"),
    ),
    plugins: z._default(z.array(z.string()), []).check(z.describe("slixmpp XEP plugins upstream registers (xep_0030 ...); accepted, informational")),
    reconnect_min_delay_ms: z._default(z.number().check(z.int(), z.positive()), 1000).check(z.describe("first wait before reconnecting after the session drops (tb-gw addition); doubles per failure")),
    reconnect_max_delay_ms: z._default(z.number().check(z.int(), z.positive()), 60000).check(z.describe("longest wait between reconnect attempts (tb-gw addition)")),
  })
  .check(z.describe("The gateway's XMPP account and how it connects"));

export const KeySchema = z
  .object({
    key: z.string().check(z.describe("key name: literal, ${field} template (JSON) or [from:to] slice (text)")),
    value: z.string().check(z.describe("value: ${field} template (JSON bodies) or [from:to] / [i] slice of the text body")),
    type: opt(z.string(), "string, int/integer/long, float/double, bool/boolean, json: the value is converted to it (tb-gw addition)"),
    reportStrategy: z.optional(ReportStrategySchema),
  })
  .check(z.describe("One attribute or time series"));

const AttributeUpdateSchema = z.object({
  attributeOnThingsBoard: z.string().check(z.describe("shared attribute key this rule sends")),
  valueExpression: z.string().check(z.describe("message body; ${attributeKey} and ${attributeValue} are replaced")),
});

const RpcSchema = z.object({
  methodRPC: z.string().check(z.describe("RPC method name")),
  withResponse: z._default(z.boolean(), true).check(z.describe('answer {"success": true} once the message is sent (the device\'s own answer is not awaited)')),
  valueExpression: z._default(z.string(), "${params}").check(z.describe("message body; ${params} and ${params.x} are replaced by the JSON of the RPC params")),
});

export const DeviceSchema = z
  .object({
    jid: JidText.check(z.describe("full JID (with resource) the device's messages come from; exact match, e.g. device@example.org/TMP_1101")),
    deviceNameExpression: z.string().check(z.describe("${field} template over a JSON body, [from:to] slice of a text body, or a literal")),
    deviceTypeExpression: z.string().check(z.describe("device type (profile), same forms")),
    converter: opt(z.string(), "uplink converter class: XmppUplinkConverter (built in), or a JS/TS class (or module file) in <config folder>/extensions/xmpp/, built with the device entry, convert(deviceConfig, body)"),
    attributes: z._default(z.array(KeySchema), []),
    timeseries: z._default(z.array(KeySchema), []),
    reportStrategy: z.optional(ReportStrategySchema),
    attributeUpdates: z._default(z.array(AttributeUpdateSchema), []),
    serverSideRpc: z._default(z.array(RpcSchema), []),
  })
  .check(z.describe("A device account whose chat messages the gateway converts"));

export const XmppConfigSchema = z
  .object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    configVersion: z.optional(z.string()),
    server: ServerSchema,
    devices: z._default(z.array(DeviceSchema), []).check(z.describe("device JIDs and how their messages map to data")),
  })
  .check(
    z.superRefine((c, ctx) => {
      const seen = new Map<string, number>();
      c.devices.forEach((d, i) => {
        const prev = seen.get(d.jid);
        if (prev !== undefined) ctx.addIssue({ code: "custom", path: ["devices", i, "jid"], message: `the JID ${d.jid} is already devices[${prev}]: a message can only go to one device entry` });
        seen.set(d.jid, i);
      });
      if (c.server.reconnect_max_delay_ms < c.server.reconnect_min_delay_ms)
        ctx.addIssue({ code: "custom", path: ["server", "reconnect_max_delay_ms"], message: "reconnect_max_delay_ms must be at least reconnect_min_delay_ms" });
      if (!/@/.test(c.server.jid)) ctx.addIssue({ code: "custom", path: ["server", "jid"], message: 'the gateway\'s JID needs an account name: "gateway@example.org"' });
    }),
    z.describe("XMPP connector: the gateway logs in to an XMPP server and converts chat messages from device JIDs"),
  );

export type XmppConfig = z.output<typeof XmppConfigSchema>;
export type XmppServerConfig = XmppConfig["server"];
export type XmppDeviceConfig = z.output<typeof DeviceSchema>;
export type XmppKeyConfig = z.output<typeof KeySchema>;
