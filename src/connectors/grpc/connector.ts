// One connectors[] entry of type grpc: the gateway side of a connector process. Registration and
// queues are the server's (server.ts); this turns a bound session's requests into gateway calls
// (data, device connect/disconnect, claims, RPC replies, attribute requests) and the gateway's
// downlinks (shared attribute updates, device RPC) into queued messages (spec grpc.md §4.3–4.5).

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { attributeNotification, int64Value, rpcParamsText, rpcReplyValue, toKv, uplinkRecords } from "./convert.ts";
import { autoKey } from "./keys.ts";
import type { GrpcConnectorConfig } from "./schema.ts";
import type { ConnectorBinding, GrpcServer } from "./server.ts";
import type { FromConnectorMessage, FromServiceMessage } from "./wire.ts";

/** Seconds an RPC waits for the connector process when the platform gave no timeout. */
const DEFAULT_RPC_WAIT_S = 30;

export function createGrpcConnector(config: GrpcConnectorConfig, ctx: ConnectorContext): GrpcConnector {
  const server = ctx.service?.<GrpcServer>("grpc");
  if (!server) throw new Error(`connector type grpc needs the gRPC server: set "grpc": {"enabled": true, "serverPort": 9595} in tb_gateway.json (if it is set, the server failed to start: see the error above)`);
  const raw = ctx.entry?.key;
  if (typeof raw !== "string" || raw.trim() === "") throw new Error(`connector type grpc needs a "key" in its connectors[] entry of tb_gateway.json (a key of your choice, or "auto" to have one generated and kept in persistent_keys.json)`);
  let key = raw;
  if (raw === "auto") {
    const k = autoKey(ctx.configDir, ctx.name, !ctx.checkOnly);
    key = k.key;
    if (!ctx.checkOnly) ctx.log.info(`${k.generated ? "generated" : "persisted"} connector key ${key} (persistent_keys.json): give it to the connector process`);
  }
  // upstream sends the connector file with its id (§4.1)
  const configuration = JSON.stringify({ ...config, id: ctx.id });
  return new GrpcConnector(server, key, configuration, ctx);
}

export class GrpcConnector implements Connector, ConnectorBinding {
  readonly name: string;
  readonly id: string;
  /** Devices this connector's process connected or sent data for: name → type. */
  protected readonly devices = new Map<string, string>();
  private readonly pendingRpc = new Map<string, { resolve: (v: RpcReply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private stopped = false;
  private droppingBadData = false;
  private lastStoreProblem: string | undefined;

  constructor(
    protected readonly server: GrpcServer,
    readonly key: string,
    readonly configuration: string,
    protected readonly ctx: ConnectorContext,
  ) {
    this.name = ctx.name;
    this.id = ctx.id;
  }

  async start(): Promise<void> {
    this.server.attach(this);
    this.ctx.log.info(`waiting for the connector process to register on ${this.server.address}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.server.detach(this);
    for (const [k, p] of this.pendingRpc) {
      clearTimeout(p.timer);
      p.reject(new Error(`connector ${this.name} stopped before its process answered`));
      this.pendingRpc.delete(k);
    }
  }

  async handle(req: FromConnectorMessage): Promise<FromServiceMessage[]> {
    const answers: FromServiceMessage[] = [];
    const echo = (status: "SUCCESS" | "FAILURE") => answers.push({ response: { status, connectorMessage: req } });
    if (req.gatewayTelemetryMsg || req.gatewayAttributesMsg) await this.store(req);
    if (req.gatewayClaimMsg) echo(await this.claim(req.gatewayClaimMsg.msg ?? []));
    if (req.connectMsg) {
      const { deviceName, deviceType } = req.connectMsg;
      if (!deviceName || this.devices.has(deviceName)) echo("FAILURE");
      else {
        this.devices.set(deviceName, deviceType || "default");
        this.ctx.addDevice(deviceName, deviceType || "default");
        echo("SUCCESS");
      }
    }
    if (req.disconnectMsg) {
      const { deviceName } = req.disconnectMsg;
      if (!deviceName || !this.devices.has(deviceName)) echo("FAILURE");
      else {
        this.devices.delete(deviceName);
        this.ctx.delDevice(deviceName);
        echo("SUCCESS");
      }
    }
    if (req.gatewayRpcResponseMsg) this.rpcAnswered(req.gatewayRpcResponseMsg);
    if (req.gatewayAttributeRequestMsg) this.requestAttributes(req.gatewayAttributeRequestMsg);
    if (req.connectorGetConnectedDevicesMsg) {
      answers.push({
        connectorGetConnectedDevicesResponseMsg: { connectorDevices: [...this.devices].map(([deviceName, deviceType]) => ({ deviceName, deviceType })) },
        response: { status: "SUCCESS", connectorMessage: { connectorGetConnectedDevicesMsg: {} } },
      });
    }
    return answers;
  }

  /** Telemetry and attributes: one record per device into the gateway's pipeline (fixes upstream's one-list call, §5 #7). */
  private async store(req: FromConnectorMessage): Promise<void> {
    const dropped: string[] = [];
    const records = uplinkRecords(req.gatewayTelemetryMsg?.msg, req.gatewayAttributesMsg?.msg, dropped);
    // logged once per change of state: a connector that keeps sending the same bad entry does not flood the log
    const bad = dropped.length > 0;
    if (bad && !this.droppingBadData) this.ctx.log.warn(`dropped from the connector process's data (logged once until its data is clean again): ${dropped.slice(0, 5).join("; ")}${dropped.length > 5 ? ` and ${dropped.length - 5} more` : ""}`);
    else if (!bad && this.droppingBadData) this.ctx.log.info("the connector process's data is clean again");
    this.droppingBadData = bad;
    if (!records.length) return;
    for (const r of records) if (!this.devices.has(r.deviceName)) this.devices.set(r.deviceName, "default");
    const status = await this.ctx.sendData(records);
    if (status !== "SUCCESS" && status !== this.lastStoreProblem) this.ctx.log.warn(`data of ${records.length} device(s) not stored (${status}); the protocol has no way to ask the connector process to resend it`);
    else if (status === "SUCCESS" && this.lastStoreProblem) this.ctx.log.info("data is stored again");
    this.lastStoreProblem = status === "SUCCESS" ? undefined : status;
  }

  private async claim(list: NonNullable<FromConnectorMessage["gatewayClaimMsg"]>["msg"] & object): Promise<"SUCCESS" | "FAILURE"> {
    if (!this.ctx.claimDevice) return "FAILURE";
    let ok = list.length > 0;
    for (const c of list) {
      if (!c.deviceName) {
        ok = false;
        continue;
      }
      const ms = Number(int64Value(c.claimRequest?.durationMs));
      try {
        await this.ctx.claimDevice(c.deviceName, c.claimRequest?.secretKey ?? "", Number.isFinite(ms) ? ms : 0);
      } catch (e) {
        ok = false;
        this.ctx.log.warn(`claim of ${c.deviceName} failed: ${errorText(e)}`);
      }
    }
    return ok ? "SUCCESS" : "FAILURE";
  }

  private rpcAnswered(m: NonNullable<FromConnectorMessage["gatewayRpcResponseMsg"]>): void {
    const k = rpcKey(m.deviceName ?? "", m.id ?? 0);
    const p = this.pendingRpc.get(k);
    if (!p) {
      this.ctx.log.warn(`RPC reply from the connector process for ${m.deviceName} id ${m.id ?? 0} matches no waiting request (timed out or unknown); dropped`);
      return;
    }
    this.pendingRpc.delete(k);
    clearTimeout(p.timer);
    p.resolve(rpcReplyValue(m.data));
  }

  private requestAttributes(m: NonNullable<FromConnectorMessage["gatewayAttributeRequestMsg"]>): void {
    const device = m.deviceName ?? "";
    const client = m.client === true;
    const requestId = m.id ?? 0;
    const respond = (values: Record<string, unknown>, error: string) => {
      const list = Object.entries(values).map(([k, v]) => toKv(k, v));
      this.server.push(this, {
        gatewayAttributeResponseMsg: { deviceName: device, responseMsg: { requestId, ...(client ? { clientAttributeList: list } : { sharedAttributeList: list }), error } },
      });
    };
    this.ctx
      .requestAttributes(device, m.keys ?? [], client ? "client" : "shared")
      .then((values) => respond(values, ""))
      .catch((e) => respond({}, errorText(e)));
  }

  onAttributeUpdate(update: AttributeUpdate): void {
    const delivered = this.server.push(this, { gatewayAttributeUpdateNotificationMsg: { deviceName: update.device, notificationMsg: attributeNotification(update.data) } });
    if (!delivered) this.ctx.log.warn(`attribute update for ${update.device} dropped: no connector process is registered`);
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    // connector RPC (`grpc_<method>` to the gateway) has no message in this protocol (§4.5, §5 #14)
    if (!req.device) return undefined;
    const requestId = Number(req.id);
    if (!this.server.isRegistered(this)) throw new Error(`connector ${this.name}: no connector process is registered; RPC ${req.method} for ${req.device} not delivered`);
    const k = rpcKey(req.device, requestId);
    const reply = new Promise<RpcReply>((resolve, reject) => {
      const waitS = req.timeoutSeconds ?? DEFAULT_RPC_WAIT_S;
      const timer = setTimeout(() => {
        this.pendingRpc.delete(k);
        reject(new Error(`connector process did not answer RPC ${req.method} for ${req.device} within ${waitS} s`));
      }, Math.max(waitS, DEFAULT_RPC_WAIT_S) * 1000);
      timer.unref?.();
      this.pendingRpc.set(k, { resolve, reject, timer });
    });
    this.server.push(this, { gatewayDeviceRpcRequestMsg: { deviceName: req.device, rpcRequestMsg: { requestId, methodName: req.method, params: rpcParamsText(req.params) } } });
    return reply;
  }

  transportLost(peer: string, why: string): void {
    const names = [...this.devices.keys()];
    this.ctx.log.warn(`connection of the connector process (${peer}) lost (${why}) and no call since: disconnecting its ${names.length} device(s); it stays registered and resumes when it calls again`);
    this.devices.clear();
    for (const n of names) this.ctx.delDevice(n);
  }
}

function rpcKey(device: string, id: number): string {
  return `${device}\u0000${id}`;
}
