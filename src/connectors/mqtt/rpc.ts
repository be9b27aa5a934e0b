// Server-side RPC to devices (spec §5): a configured handler, the reserved `get`/`set` methods
// with `key=value;` params, or a connector-level RPC whose params are the handler. One-way RPC
// replies once published; two-way RPC subscribes to the response topic first and replies with
// the first message on it, or an error after responseTimeout.

import { fillPlaceholders, parseReservedParams, plainText } from "../../common/expressions/index.ts";
import type { RpcReply, RpcRequest } from "../../core/model.ts";
import type { Logger } from "../../observe/logger.ts";
import { errorText } from "../../observe/logger.ts";
import type { RpcHandler } from "./schema.ts";
import { compileFilter, pythonRegex } from "./topic.ts";

export interface RpcTransport {
  publish(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
  subscribe(topic: string, qos: 0 | 1 | 2): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
}

/** A handler as used at call time (config entries, reserved get/set and connector RPC alike). */
interface AdHocHandler {
  requestTopicExpression: string;
  valueExpression: string;
  responseTopicExpression?: string;
  responseTimeout?: number;
  responseTopicQoS?: number;
  qos?: number;
  retain?: boolean;
}

interface Pending {
  match: (topic: string) => boolean;
  resolve: (payload: Buffer | undefined) => void;
}

const qosOf = (n: unknown, dflt: 0 | 1 | 2): 0 | 1 | 2 => (n === 0 || n === 1 || n === 2 ? n : dflt);


export class RpcDispatcher {
  private readonly handlers: Array<{ h: RpcHandler; device: RegExp; method: RegExp }> = [];
  private readonly pending = new Set<Pending>();
  /** Response topics currently awaited (re-subscribed after a reconnect). */
  readonly responseTopics = new Map<string, 0 | 1 | 2>();

  constructor(
    handlers: RpcHandler[],
    private readonly transport: RpcTransport,
    private readonly log: Logger,
    private readonly connectorType = "mqtt",
  ) {
    handlers.forEach((h, i) => {
      try {
        this.handlers.push({ h, device: pythonRegex(h.deviceNameFilter), method: pythonRegex(h.methodFilter) });
      } catch (e) {
        log.error(`requestsMapping.serverSideRpc[${i}] skipped: invalid regex (${errorText(e)})`);
      }
    });
  }

  /** A message on an awaited response topic: resolves that RPC; true when it was one. */
  onMessage(topic: string, payload: Buffer): boolean {
    if (this.pending.size === 0) return false;
    for (const p of this.pending) {
      if (p.match(topic)) {
        this.pending.delete(p);
        p.resolve(payload);
        return true;
      }
    }
    return false;
  }

  async handle(req: RpcRequest): Promise<RpcReply | undefined> {
    const prefix = this.connectorType + "_";
    const method = req.method.startsWith(prefix) ? req.method.slice(prefix.length) : req.method;
    const data = { id: req.id, method, params: req.params };
    if (req.device === undefined) {
      // connector RPC: the params are the handler
      const p = req.params as AdHocHandler | undefined;
      if (!p || typeof p !== "object" || typeof p.requestTopicExpression !== "string") {
        return { error: `connector RPC ${req.method}: params must contain requestTopicExpression and valueExpression` };
      }
      return this.run({ ...p, valueExpression: p.valueExpression ?? "" }, "", data);
    }
    if ((method === "get" || method === "set") && typeof req.params === "string") {
      const p = parseReservedParams(req.params);
      if (!p.requestTopicExpression) return { error: `RPC ${method}: params need requestTopicExpression=<topic>;` };
      const handler: AdHocHandler = {
        requestTopicExpression: p.requestTopicExpression,
        valueExpression: p.value ?? "",
        responseTopicExpression: p.responseTopicExpression,
        responseTimeout: p.responseTimeout ? Number(p.responseTimeout) : p.responseTopicExpression ? (req.timeoutSeconds ?? 5) * 1000 : undefined,
      };
      return this.run(handler, req.device, data);
    }
    const found = this.handlers.find((x) => x.device.test(req.device!) && x.method.test(method));
    if (!found) {
      this.log.error(`RPC ${method} for ${req.device} not handled: no serverSideRpc entry matches`);
      return undefined;
    }
    return this.run(found.h, req.device, data);
  }

  private async run(h: AdHocHandler, device: string, data: { id: unknown; method: string; params: unknown }): Promise<RpcReply> {
    const vars = { deviceName: device, methodName: data.method, requestId: data.id };
    const topic = fillPlaceholders(h.requestTopicExpression, vars, { rpcData: data, encodeParams: plainText });
    const payload = fillPlaceholders(h.valueExpression, vars, { rpcData: data });
    const publishOpts = { qos: qosOf(h.qos, 0), retain: h.retain === true };
    const twoWay = !!h.responseTopicExpression && !!h.responseTimeout;
    if (!twoWay) {
      try {
        await this.transport.publish(topic, payload, publishOpts);
        return { success: true };
      } catch (e) {
        return { error: `Error on publish to target broker: ${errorText(e)}` };
      }
    }
    const responseTopic = fillPlaceholders(h.responseTopicExpression!, vars, { rpcData: data, encodeParams: plainText });
    const qos = qosOf(h.responseTopicQoS, 1);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pending: Pending | undefined;
    try {
      const matchTopic = compileFilter(responseTopic);
      const answer = new Promise<Buffer | undefined>((resolve) => {
        pending = { match: matchTopic, resolve };
        timer = setTimeout(() => resolve(undefined), h.responseTimeout);
      });
      this.pending.add(pending!);
      this.responseTopics.set(responseTopic, qos);
      await this.transport.subscribe(responseTopic, qos);
      await this.transport.publish(topic, payload, publishOpts);
      const got = await answer;
      if (!got) return { error: `no response on ${responseTopic} within ${h.responseTimeout} ms` };
      return got.toString("utf8").replace(/'/g, '"');
    } catch (e) {
      return { error: `Error on publish to target broker: ${errorText(e)}` };
    } finally {
      clearTimeout(timer);
      if (pending) this.pending.delete(pending);
      this.responseTopics.delete(responseTopic);
      this.transport.unsubscribe(responseTopic).catch((e) => this.log.debug(`unsubscribe ${responseTopic}: ${errorText(e)}`));
    }
  }

  /** Stop: every awaited response ends now as a timeout. */
  cancelAll(): void {
    for (const p of this.pending) p.resolve(undefined);
    this.pending.clear();
  }
}
