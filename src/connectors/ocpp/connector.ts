// OCPP connector: the gateway is an OCPP 1.6-J Central System. Charge points connect over
// WebSocket (server.ts), are admitted by id and credentials (admission.ts), become devices at
// BootNotification, and every CALL they send is answered (actions.ts) and converted by its own
// keys (converter.ts). Data-bearing CALLs are answered once storage took their data, so a charge
// point whose answer never came sends them again (OCPP's own retry) rather than losing them.
// Attribute updates and RPC become CALLs to the charge point (downlink.ts).

import type { ServerWebSocket } from "bun";
import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { StoreUntilTaken } from "../../core/store-until-taken.ts";
import { resolveConfigPath } from "../../common/tls/index.ts";
import { errorText } from "../../observe/logger.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BootedDevices } from "./booted-devices.ts";
import { answerFor, checkCall, TransactionIds } from "./actions.ts";
import { Admitter } from "./admission.ts";
import { ChargePointConverter, messageBody } from "./converter.ts";
import { loadCustomUplinkOrFallBack, type CustomUplink } from "../../common/converters/custom-uplink.ts";

/** The class name of the built-in converter: any other `extension` is a user's class. */
export const BUILT_IN_CONVERTER = "OcppUplinkConverter";
import { attributeCalls, planRpc, replyFor } from "./downlink.ts";
import { isFrameError, MSG_CALL, MSG_CALLRESULT, parseFrame, type Frame } from "./frames.ts";
import type { ChargePointConfig, OcppConfig } from "./schema.ts";
import { OcppServer, type ServerOptions, type SocketData } from "./server.ts";
import { ChargePointSession, OcppCallError } from "./session.ts";

/** Seconds between attempts to bind the listening address after a failure. */
const LISTEN_RETRY_S = 10;
/** Messages kept per charge point while its device is unknown (before its first BootNotification). */
const MAX_HELD_BEFORE_BOOT = 1000;
/** Refusals remembered so a charge point retrying every few seconds logs once. */
const MAX_REMEMBERED_REFUSALS = 1000;

export interface OcppCounters {
  connections: number;
  refused: number;
  callsReceived: number;
  badFrames: number;
  converted: number;
  callsSent: number;
}

/**
 * The uplink class `chargePoints[].extension` names, loaded under the one rule for a class that cannot be used
 * (custom-uplink.ts); undefined when it names the built-in converter. start() and `run --check`
 * (the descriptor's prepare) both load it here, so they behave and log alike.
 */
export function loadChargePointUplink(cp: ChargePointConfig, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomUplink | "built-in" | "none"> | undefined {
  const name = cp.extension;
  if (!name || name === BUILT_IN_CONVERTER) return undefined;
  const hasBuiltInMapping = cp.attributes.length + cp.timeseries.length > 0;
  // its charge points are answered either way
  return loadCustomUplinkOrFallBack({ extension: name, connectorType: "ocpp", configDir: ctx.configDir, ctorConfig: cp, log: ctx.log, where: `charge points ${cp.idRegexpPattern}`, hasBuiltInMapping, otherwise: "their messages are answered but their data is dropped" });
}

export class OcppConnector implements Connector {
  readonly counters: OcppCounters = { connections: 0, refused: 0, callsReceived: 0, badFrames: 0, converted: 0, callsSent: 0 };
  private readonly converters: ChargePointConverter[];
  /** The user's converter class of a chargePoints entry (`extension`), loaded at start; null: it could not be loaded. */
  private readonly customs = new Map<ChargePointConverter, CustomUplink | null>();
  private readonly server: OcppServer;
  private readonly sessions = new Set<ChargePointSession>();
  private readonly byDevice = new Map<string, ChargePointSession>();
  private readonly refusals = new Set<string>();
  /** Device of each charge point id from its last boot (kept across restarts): a charge point that reconnects does not boot again. */
  private readonly bootedAs: BootedDevices;
  private readonly transactionIds = new TransactionIds();
  private readonly storing: StoreUntilTaken;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private listenProblem = "";
  private stopped = false;

  constructor(
    private readonly config: OcppConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.converters = config.chargePoints.map((c) => new ChargePointConverter(c));
    this.bootedAs = new BootedDevices(join(ctx.dataDir, "ocpp-charge-points.json"), ctx.log);
    this.storing = new StoreUntilTaken(ctx, "not answering the charge points' data messages meanwhile", "the charge points send them again");
    this.server = new OcppServer(new Admitter(config.centralSystem, config.chargePoints), {
      refused: (a, peer) => this.refused(a.id, peer, `HTTP ${a.status}`, a.reason),
      open: (ws) => this.opened(ws),
      message: (ws, text) => this.onMessage(ws, text),
      close: (ws, code, reason) => this.closed(ws, code, reason),
    });
  }

  /** The bound port (tests and the bench use port 0). */
  get port(): number | undefined {
    return this.server.port;
  }

  private serverOptions(): ServerOptions {
    const cs = this.config.centralSystem;
    const opts: ServerOptions = { host: cs.host, port: cs.port };
    if (cs.connection.type === "tls") {
      // no fall-back to plain ws:// as upstream does: charge points' credentials would cross the network in clear text
      const read = (what: string, p: string) => {
        const full = resolveConfigPath(p, this.ctx.configDir);
        try {
          return readFileSync(full);
        } catch (e) {
          throw new Error(`centralSystem.connection.${what}: cannot read ${full} (${errorText(e)}); relative paths start at ${this.ctx.configDir}`);
        }
      };
      opts.tls = { cert: read("cert", cs.connection.cert!), key: read("key", cs.connection.key!), passphrase: cs.connection.password };
    }
    return opts;
  }

  async start(): Promise<void> {
    for (const conv of this.converters) {
      const loaded = await loadChargePointUplink(conv.config, this.ctx);
      if (loaded === undefined) continue;
      if (loaded === "none") this.customs.set(conv, null);
      else if (loaded !== "built-in") this.customs.set(conv, loaded);
    }
    this.listen();
  }

  private listen(): void {
    if (this.stopped) return;
    const cs = this.config.centralSystem;
    const where = `${cs.connection.type === "tls" ? "wss" : "ws"}://${cs.host}:${cs.port}`;
    try {
      this.server.listen(this.serverOptions());
      this.ctx.log.info(`OCPP 1.6 Central System listening on ${where}/<chargePointId>${this.listenProblem ? " (after earlier failures)" : ""}`);
      this.listenProblem = "";
    } catch (e) {
      const problem = errorText(e);
      if (problem !== this.listenProblem) this.ctx.log.error(`cannot listen on ${where}: ${problem}; trying again every ${LISTEN_RETRY_S} s`);
      this.listenProblem = problem;
      this.retry = setTimeout(() => this.listen(), LISTEN_RETRY_S * 1000);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retry);
    this.storing.stop();
    for (const s of this.sessions) s.close(1001, "gateway stopping");
    this.sessions.clear();
    this.byDevice.clear();
    await this.server.close();
    this.bootedAs.flush();
    const c = this.counters;
    this.ctx.log.info(`stopped: ${c.connections} connection(s), ${c.refused} refused, ${c.callsReceived} CALLs received (${c.converted} converted), ${c.badFrames} bad frames, ${c.callsSent} CALLs sent`);
  }

  // ---- connections ----

  private refused(id: string, peer: string, how: string, reason: string): void {
    this.counters.refused++;
    const key = `${id}|${peer.replace(/:\d+$/, "")}|${reason}`;
    if (this.refusals.has(key)) return;
    if (this.refusals.size >= MAX_REMEMBERED_REFUSALS) this.refusals.clear();
    this.refusals.add(key);
    this.ctx.log.warn(`charge point "${id}" from ${peer} refused (${how}): ${reason} (logged once per charge point and reason)`);
  }

  private opened(ws: ServerWebSocket<SocketData>): void {
    const d = ws.data;
    if (this.stopped) return ws.close(1001, "gateway stopping");
    if (d.noSubprotocol) {
      this.refused(d.id, d.peer, "closed after the handshake", "it offers no ocpp1.6 subprotocol (Sec-WebSocket-Protocol)");
      return ws.close(1002, "subprotocol ocpp1.6 required");
    }
    const session = new ChargePointSession(d.id, d.peer, this.converters[d.entry]!, ws);
    d.session = session;
    this.sessions.add(session);
    this.counters.connections++;
    session.device = this.bootedAs.get(d.id);
    if (session.device) {
      this.byDevice.set(session.device.name, session);
      this.ctx.addDevice(session.device.name, session.device.type);
    }
    this.ctx.log.info(`charge point "${d.id}" connected from ${d.peer}${session.device ? ` (device "${session.device.name}" from its last boot)` : ""}`);
  }

  private closed(ws: ServerWebSocket<SocketData>, code: number, reason: string): void {
    const session = ws.data.session as ChargePointSession | undefined;
    if (!session) return;
    session.markClosed(`close code ${code}`);
    if (session.beforeBoot.length > 0) this.ctx.log.warn(`charge point "${session.id}" disconnected without booting: ${session.beforeBoot.length} message(s) it sent are lost (no device to send them as)`);
    this.sessions.delete(session);
    if (session.device && this.byDevice.get(session.device.name) === session) this.byDevice.delete(session.device.name);
    if (!this.stopped) this.ctx.log.info(`charge point "${session.id}" disconnected (code ${code}${reason ? `, ${reason}` : ""})`);
  }

  // ---- uplink ----

  onMessage(ws: ServerWebSocket<SocketData>, text: string): void {
    const session = ws.data.session as ChargePointSession | undefined;
    if (!session || this.stopped) return;
    const frame = parseFrame(text);
    if (isFrameError(frame)) {
      this.counters.badFrames++;
      if (frame.answer) session.replyError(frame.id, frame.error, frame.description);
      this.problem(session, `bad frame: ${frame.description}; ${frame.answer ? `answered ${frame.error}` : "ignored"} (the session continues)`);
      return;
    }
    if (frame.type === MSG_CALL) return void this.onCall(session, frame);
    const settled = session.settle(frame.id, frame.type === MSG_CALLRESULT ? { payload: frame.payload } : frame);
    if (!settled) this.problem(session, `answer to an unknown or expired CALL (id ${frame.id}) ignored`);
  }

  /** Log a session's problem once until a different one comes. */
  private problem(session: ChargePointSession, text: string): void {
    if (session.lastProblem === text) return;
    session.lastProblem = text;
    this.ctx.log.warn(`charge point "${session.id}": ${text}`);
  }

  private async onCall(session: ChargePointSession, frame: Extract<Frame, { type: 2 }>): Promise<void> {
    this.counters.callsReceived++;
    const { action, payload, id } = frame;
    const wrong = checkCall(action, payload);
    if (wrong) {
      this.counters.badFrames++;
      session.replyError(id, wrong.code, wrong.description);
      this.problem(session, `${wrong.description}; answered ${wrong.code}`);
      return;
    }
    try {
      const body = messageBody(action, payload);
      if (action === "BootNotification") await this.booted(session, body);
      if (session.device) {
        const stored = await this.convert(session, action, body, Date.now());
        if (!stored) return; // stopping with the data unstored: no answer, the charge point sends it again
      } else this.beforeBoot(session, action, body);
      session.reply(id, answerFor(action, payload, { heartbeatInterval: this.config.centralSystem.heartbeatInterval, transactionIds: this.transactionIds }));
    } catch (e) {
      session.replyError(id, "InternalError", errorText(e));
      this.ctx.log.error(`charge point "${session.id}": ${action} failed: ${errorText(e)}`);
    }
  }

  private async booted(session: ChargePointSession, body: Record<string, unknown>): Promise<void> {
    const device = session.converter.deviceOf({ ...body, id: session.id });
    const previous = session.device;
    session.device = device;
    const other = this.byDevice.get(device.name);
    if (other && other !== session) this.ctx.log.warn(`charge points "${other.id}" and "${session.id}" both boot as device "${device.name}"; downlink goes to "${session.id}" now`);
    if (previous && previous.name !== device.name && this.byDevice.get(previous.name) === session) this.byDevice.delete(previous.name);
    this.byDevice.set(device.name, session);
    this.bootedAs.set(session.id, device);
    this.ctx.addDevice(device.name, device.type);
    this.ctx.log.info(`charge point "${session.id}" booted as device "${device.name}" (type ${device.type})`);
    const held = session.beforeBoot.splice(0);
    if (held.length > 0) this.ctx.log.info(`charge point "${session.id}": ${held.length} message(s) received before its boot converted now`);
    for (const m of held) await this.convert(session, m.action, m.body, m.receivedTs);
  }

  /**
   * Data before BootNotification has no device (after a gateway restart charge points do not boot
   * again): it is kept (bounded) until the boot, which is asked for once with a TriggerMessage.
   */
  private beforeBoot(session: ChargePointSession, action: string, body: Record<string, unknown>): void {
    if (action === "Heartbeat") return;
    if (session.beforeBoot.length < MAX_HELD_BEFORE_BOOT) session.beforeBoot.push({ action, body, receivedTs: Date.now() });
    else this.problem(session, `more than ${MAX_HELD_BEFORE_BOOT} messages before its BootNotification; later ones are dropped`);
    if (session.bootRequested) return;
    session.bootRequested = true;
    this.ctx.log.warn(`charge point "${session.id}" sent ${action} before BootNotification: its device is not known yet; its data is kept until it boots, asking it to (TriggerMessage)`);
    this.counters.callsSent++;
    session.call("TriggerMessage", { requestedMessage: "BootNotification" }, this.config.centralSystem.callTimeout * 1000).catch((e) => {
      this.ctx.log.warn(`charge point "${session.id}": TriggerMessage(BootNotification) failed: ${errorText(e)}; its data waits for its next boot`);
    });
  }

  /** Convert and store; false only when the connector stopped before storage took the data. */
  private async convert(session: ChargePointSession, action: string, body: Record<string, unknown>, receivedTs: number): Promise<boolean> {
    const custom = this.customs.get(session.converter);
    if (custom !== undefined) return this.convertCustom(session, custom, action, body);
    const { data, missing } = session.converter.convert(action, body, session.device!, receivedTs);
    if (missing.length > 0) this.ctx.log.debug(`charge point "${session.id}": ${action} has no value for key(s) ${missing.join(", ")}; left out`);
    if (!data) return true;
    this.counters.converted++;
    return this.storing.store([data], `${action} of charge point "${session.id}"`);
  }

  /**
   * Through the user's class, as upstream's charge point calls its converter: the device, the
   * message type and the entry (`profile`) as config, the message (snake_case names) as data.
   */
  private async convertCustom(session: ChargePointSession, custom: CustomUplink | null, action: string, body: Record<string, unknown>): Promise<boolean> {
    if (!custom) return true;
    const device = session.device!;
    const data = await custom.convert({ deviceName: device.name, deviceType: device.type, messageType: action, profile: session.converter.config }, body);
    if (data.length === 0) return true;
    this.counters.converted++;
    return this.storing.store(data, `${action} of charge point "${session.id}"`);
  }

  // ---- downlink ----

  private sessionOf(device: string): ChargePointSession | undefined {
    return this.byDevice.get(device);
  }

  private send(session: ChargePointSession, action: string, payload: unknown): Promise<unknown> {
    this.counters.callsSent++;
    return session.call(action, payload, this.config.centralSystem.callTimeout * 1000);
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    const session = this.sessionOf(update.device);
    if (!session) {
      this.ctx.log.warn(`attribute update for "${update.device}" ignored: no connected charge point booted as that device`);
      return;
    }
    for (const call of attributeCalls(session.converter.config, update.data)) {
      try {
        const answer = await this.send(session, call.action, call.payload);
        this.ctx.log.debug(`${update.device}: DataTransfer answered ${JSON.stringify(answer)}`);
      } catch (e) {
        this.ctx.log.error(`${update.device}: attribute update as DataTransfer failed: ${errorText(e)}`);
      }
    }
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (!req.device) return undefined;
    const session = this.sessionOf(req.device);
    if (!session) return { success: false, error: `no connected charge point booted as device "${req.device}"` };
    const plan = planRpc(session.converter.config, req.method, req.params);
    if (!plan) return undefined;
    if ("error" in plan) return { success: false, error: plan.error };
    try {
      return replyFor(plan.reply, await this.send(session, plan.call.action, plan.call.payload));
    } catch (e) {
      if (e instanceof OcppCallError) return { success: false, error: e.message, errorCode: e.code, errorDetails: e.details };
      return { success: false, error: errorText(e) };
    }
  }
}
