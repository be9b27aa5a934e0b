// Runs a user's connector class (upstream's contract, tb-gw-extension.d.ts) as a tb-gw connector:
// builds it with the gateway object, the config (file object + name + id) and the type; maps
// start/stop to open/close, attribute updates and RPC to onAttributesUpdate/serverSideRpcHandler.
// Every failure inside user code is reported with the module file and the class.

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { gatewayFor } from "./gateway-api.ts";
import type { Connector as UserConnector, ConnectorClass, ConnectorConfig } from "./tb-gw-extension.d.ts";

/** How long an RPC waits for sendRpcReply when the platform gave no timeout. */
const DEFAULT_RPC_WAIT_S = 60;

export interface LoadedClass {
  cls: ConnectorClass;
  /** Module file, relative to the config folder when inside it. */
  where: string;
  className: string;
}

/** A user error with the place it came from: `extensions/serial/x.ts class X: open failed: ...`. */
export class ExtensionCallError extends Error {}

interface PendingRpc {
  resolve(reply: RpcReply | undefined): void;
  timer: ReturnType<typeof setTimeout>;
}

export class CustomConnectorHost implements Connector {
  private instance?: UserConnector;
  private readonly pending = new Map<string, PendingRpc>();

  constructor(
    private readonly loaded: LoadedClass,
    private readonly config: ConnectorConfig,
    private readonly ctx: ConnectorContext,
  ) {}

  private fail(call: string, e: unknown): ExtensionCallError {
    return new ExtensionCallError(`${this.loaded.where} class ${this.loaded.className}: ${call} failed: ${errorText(e)}`);
  }

  async start(): Promise<void> {
    const gateway = gatewayFor(this.ctx, (device, id, content) => this.takeReply(device, id, content));
    let instance: UserConnector;
    try {
      instance = new this.loaded.cls(gateway, this.config, this.ctx.type);
    } catch (e) {
      throw this.fail("constructor", e);
    }
    for (const m of ["open", "close"] as const) {
      if (typeof instance[m] !== "function") throw new ExtensionCallError(`${this.loaded.where} class ${this.loaded.className} has no ${m} method`);
    }
    this.instance = instance;
    try {
      await instance.open();
    } catch (e) {
      this.instance = undefined;
      await Promise.resolve()
        .then(() => instance.close())
        .catch(() => {});
      throw this.fail("open", e);
    }
  }

  async stop(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    this.pending.clear();
    if (!instance) return;
    try {
      await instance.close();
    } catch (e) {
      throw this.fail("close", e);
    }
  }

  async onAttributeUpdate(u: AttributeUpdate): Promise<void> {
    const instance = this.instance;
    if (!instance || typeof instance.onAttributesUpdate !== "function") return;
    try {
      await instance.onAttributesUpdate({ device: u.device, data: u.data });
    } catch (e) {
      this.ctx.log.error(this.fail(`onAttributesUpdate for ${u.device}`, e).message);
    }
  }

  /**
   * The reply is what serverSideRpcHandler returns (when not undefined), or the content of the
   * connector's sendRpcReply for this request id, whichever comes first.
   */
  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    const instance = this.instance;
    if (!instance || typeof instance.serverSideRpcHandler !== "function") return undefined;
    const key = String(req.id);
    const viaGateway = new Promise<RpcReply | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        resolve(undefined);
      }, (req.timeoutSeconds ?? DEFAULT_RPC_WAIT_S) * 1000 + 1000);
      this.pending.set(key, { resolve, timer });
    });
    const data = { id: req.id, method: req.method, params: req.params };
    const content = req.device === undefined ? { data, ...data } : { device: req.device, data };
    let returned: unknown;
    try {
      returned = await instance.serverSideRpcHandler(content);
    } catch (e) {
      this.settle(key);
      throw this.fail(`serverSideRpcHandler (${req.method})`, e);
    }
    if (returned !== undefined) {
      this.settle(key);
      return returned;
    }
    return viaGateway;
  }

  private settle(key: string, reply?: unknown): boolean {
    const p = this.pending.get(key);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(key);
    p.resolve(reply);
    return true;
  }

  /** gateway.sendRpcReply: answers a waiting request; false when none waits (sent directly then). */
  private takeReply(_device: string | undefined, id: number | string, content: unknown): boolean {
    return this.settle(String(id), content ?? { success: true });
  }
}
