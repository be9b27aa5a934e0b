// XMPP connector descriptor: the schema loads eagerly, xmpp.js only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import { XmppConfigSchema, type XmppConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<XmppConfig> = {
  type: "xmpp",
  schema: XmppConfigSchema,
  title: "XMPP: the gateway logs in to an XMPP server; device JIDs send JSON or text chat messages; downlink as chat messages",
  async create(config, ctx) {
    const { XmppConnector } = await import("./connector.ts");
    return new XmppConnector(config, ctx);
  },
  /** run --check: each device's custom converter and the session's TLS settings (ca_cert read), with start()'s own functions (built-in converters: in create). */
  async prepare(config, ctx) {
    const { loadDeviceUplink, sessionTls } = await import("./connector.ts");
    for (const d of config.devices) await loadDeviceUplink(d, ctx);
    sessionTls(config.server, ctx);
  },
  /** The sample is one message body; `--topic` is the sender's JID (without it: every device entry). */
  async convertSample(config, sample, opts) {
    const { XmppUplinkConverter } = await import("./converter.ts");
    const devices = opts.topic !== undefined ? config.devices.filter((d) => d.jid === opts.topic) : config.devices;
    if (devices.length === 0) throw new Error(opts.topic !== undefined ? `no device entry has the JID ${opts.topic} (JIDs: ${config.devices.map((d) => d.jid).join(", ")})` : "the config has no devices");
    const body = Buffer.from(sample).toString("utf8");
    const reasons: string[] = [];
    const out = devices.flatMap((d) => {
      const r = new XmppUplinkConverter(d).convert(body);
      if (typeof r === "string") reasons.push(`${d.jid}: ${r}`);
      return typeof r === "string" ? [] : r;
    });
    if (out.length === 0) throw new Error(`sample dropped: ${reasons.join("; ")}`);
    return out;
  },
};
