// XMPP connector: the gateway logs in as its own account (session.ts) and converts chat messages
// from the configured device JIDs (converter.ts); attribute updates and RPC go back to a device
// as chat messages (downlink.ts), to the JID that device last wrote from since start.

import { readFileSync } from "node:fs";
import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcReply, RpcRequest } from "../../core/model.ts";
import { StoreUntilTaken } from "../../core/store-until-taken.ts";
import { resolveConfigPath } from "../../common/tls/index.ts";
import { loadCustomUplinkOrFallBack, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { errorText } from "../../observe/logger.ts";
import { XmppUplinkConverter } from "./converter.ts";
import { attributeMessages, planRpc } from "./downlink.ts";
import type { XmppConfig, XmppDeviceConfig } from "./schema.ts";
import { XmppSession } from "./session.ts";

/** Converted messages held in memory while storage refuses data; beyond it new ones are dropped. */
const MAX_HELD = 100_000;

/** The class name of the built-in converter: any other `converter` is a user's class. */
export const BUILT_IN_CONVERTER = "XmppUplinkConverter";

interface DeviceEntry {
  config: XmppDeviceConfig;
  converter: XmppUplinkConverter;
  /** The user's converter class (`converter` other than the built-in), loaded at start. */
  custom?: CustomUplink;
  /** Its class could not be loaded and it names no keys for the built-in converter (logged at start): the device's messages are dropped. */
  unusable?: boolean;
  /** Messages through a custom converter, one after the other so their order is kept. */
  chain: Promise<void>;
}

/**
 * The uplink class `devices[].converter` names, loaded under the one rule for a class that cannot be used
 * (custom-uplink.ts); undefined when it names the built-in converter. start() and `run --check`
 * (the descriptor's prepare) both load it here, so they behave and log alike.
 */
export function loadDeviceUplink(d: XmppDeviceConfig, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomUplink | "built-in" | "none"> | undefined {
  const name = d.converter;
  if (!name || name === BUILT_IN_CONVERTER) return undefined;
  const hasBuiltInMapping = d.attributes.length + d.timeseries.length > 0;
  return loadCustomUplinkOrFallBack({ extension: name, connectorType: "xmpp", configDir: ctx.configDir, ctorConfig: d, log: ctx.log, where: `device ${d.jid}`, hasBuiltInMapping, otherwise: "this device's messages are dropped" });
}

/**
 * The session's TLS settings: `server.ca_cert` read (a file that cannot be read stops start()), and
 * a warning when the server's certificate is not checked. start() and `run --check` (the
 * descriptor's prepare) both take them from here, so they fail and warn alike.
 */
export function sessionTls(s: XmppConfig["server"], ctx: Pick<ConnectorContext, "configDir" | "log">): { ca?: Buffer; rejectUnauthorized: boolean } {
  let ca: Buffer | undefined;
  if (s.ca_cert) {
    const path = resolveConfigPath(s.ca_cert, ctx.configDir);
    try {
      ca = readFileSync(path);
    } catch (e) {
      throw new Error(`server.ca_cert: cannot read ${path}: ${errorText(e)}; give a PEM file (relative paths start at ${ctx.configDir})`);
    }
  }
  if (!s.verify_certificate && (s.use_ssl || !s.disable_starttls))
    ctx.log.warn(`server.verify_certificate is false: the session to ${s.host}:${s.port} is encrypted but the server is not authenticated`);
  return { ca, rejectUnauthorized: s.verify_certificate };
}

export class XmppConnector implements Connector {
  private readonly byJid = new Map<string, DeviceEntry>();
  /** Device name → the JID and entry that named it (only devices heard from since start). */
  private readonly known = new Map<string, { jid: string; entry: DeviceEntry }>();
  /** Last logged problem per subject, so a repeating problem logs once per change of state. */
  private readonly problems = new Map<string, string>();
  private session: XmppSession | undefined;
  private stopped = false;
  /** Converted messages waiting for storage, in arrival order; drained as one batch at a time. */
  private pending: ConvertedData[] = [];
  private draining: Promise<void> | undefined;
  private readonly storing: StoreUntilTaken;

  constructor(
    private readonly config: XmppConfig,
    private readonly ctx: ConnectorContext,
  ) {
    for (const d of config.devices) this.byJid.set(d.jid, { config: d, converter: new XmppUplinkConverter(d), chain: Promise.resolve() });
    this.storing = new StoreUntilTaken(ctx, `holding up to ${MAX_HELD} converted messages in memory`, "dropped");
  }

  async start(): Promise<void> {
    for (const entry of this.byJid.values()) {
      const loaded = await loadDeviceUplink(entry.config, this.ctx);
      if (loaded === undefined) continue;
      if (loaded === "none") entry.unusable = true;
      else if (loaded !== "built-in") entry.custom = loaded;
    }
    const s = this.config.server;
    const tls = sessionTls(s, this.ctx);
    this.session = new XmppSession(
      {
        jid: s.jid,
        password: s.password,
        host: s.host,
        port: s.port,
        directTls: s.use_ssl,
        disableStarttls: s.disable_starttls,
        forceStarttls: s.force_starttls,
        plainWithoutTls: s.unencrypted_plain_auth,
        tls,
        stepTimeoutMs: 10_000,
        keepaliveMs: 60_000,
      },
      { minDelayMs: s.reconnect_min_delay_ms, maxDelayMs: s.reconnect_max_delay_ms },
      {
        message: (from, body) => this.onMessage(from, body),
        online: (jid, secure) => this.report("session", undefined, `logged in to ${s.host}:${s.port} as ${jid}${secure ? " (TLS)" : " (unencrypted)"}`),
        offline: (reason) => this.report("session", `XMPP session to ${s.host}:${s.port} as ${s.jid} down: ${reason}; reconnecting with backoff`),
      },
    );
    this.session.start();
    this.ctx.log.info(`connecting to ${s.host}:${s.port} as ${s.jid} (${this.byJid.size} device JID(s))`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.session?.stop();
    this.storing.stop();
    await this.draining;
  }

  private onMessage(from: string, body: string): void {
    if (this.stopped) return;
    const entry = this.byJid.get(from);
    if (!entry) {
      this.ctx.log.debug(`message from ${from} ignored: no device entry has this JID`);
      return;
    }
    if (entry.unusable) return;
    if (entry.custom) {
      // upstream hands its converter the device entry and the message body (text)
      const custom = entry.custom;
      entry.chain = entry.chain.then(async () => {
        const out = await custom.convert(entry.config, body);
        if (out.length > 0 && !this.stopped) this.take(from, entry, out);
      });
      return;
    }
    const out = entry.converter.convert(body);
    if (typeof out === "string") {
      this.report(`uplink ${from}`, `message from ${from} gives no data: ${out}`);
      return;
    }
    this.report(`uplink ${from}`, undefined, `messages from ${from} convert again`);
    this.take(from, entry, out);
  }

  /** Converted data of a message from `from`: its devices become known for downlink; queued for storage. */
  private take(from: string, entry: DeviceEntry, out: ConvertedData[]): void {
    for (const d of out) this.known.set(d.deviceName, { jid: from, entry });
    if (this.pending.length + out.length > MAX_HELD) {
      this.report("held", `storage does not take data and ${this.pending.length} converted messages are held: message from ${from} dropped (until storage takes data again)`);
      return;
    }
    this.report("held", undefined, "converted messages are held again instead of dropped");
    this.pending.push(...out);
    this.draining ??= this.drain();
  }

  /**
   * Everything pending goes to storage as one batch, then the next (arrivals meanwhile form it),
   * so a busy connector writes few large batches and order is kept. A refusing storage is retried
   * by StoreUntilTaken; XMPP has no acknowledgement to hold back, so messages wait here meanwhile.
   */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await this.storing.store(batch, `${batch.length} converted message(s)`);
    }
    this.draining = undefined;
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    const target = this.known.get(update.device);
    if (!target) {
      this.ctx.log.error(`attribute update for ${update.device} not sent: the device has sent no message since the gateway started, so its JID is not known`);
      return;
    }
    for (const body of attributeMessages(target.entry.config, update)) {
      try {
        await this.session!.sendMessage(target.jid, body);
      } catch (e) {
        this.ctx.log.error(`attribute update for ${update.device} to ${target.jid} not sent: ${errorText(e)}`);
        return;
      }
    }
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (req.device === undefined) return undefined;
    const target = this.known.get(req.device);
    if (!target) return { error: `${req.device} has sent no message since the gateway started, so its JID is not known`, success: false };
    const plan = planRpc(target.entry.config, req);
    if (plan.kind === "unhandled") {
      this.ctx.log.error(`${req.device}: no serverSideRpc rule for RPC method "${req.method}"`);
      return undefined;
    }
    if (plan.kind === "answer") return plan.reply;
    try {
      await this.session!.sendMessage(target.jid, plan.body);
    } catch (e) {
      return { error: `RPC ${req.method} to ${target.jid} not sent: ${errorText(e)}`, success: false };
    }
    return plan.reply;
  }

  /** Log a problem when it starts or changes, and its recovery once. */
  private report(subject: string, problem: string | undefined, recovered?: string): void {
    const last = this.problems.get(subject);
    if (problem !== undefined) {
      if (problem === last) return;
      this.problems.set(subject, problem);
      this.ctx.log.error(problem);
      return;
    }
    if (subject === "session") {
      if (recovered) this.ctx.log.info(recovered);
      this.problems.delete(subject);
      return;
    }
    if (last !== undefined) {
      this.problems.delete(subject);
      if (recovered) this.ctx.log.info(recovered);
    }
  }
}
