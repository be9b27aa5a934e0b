// The MQTT connector: a client of the device broker. Messages are converted synchronously as they
// arrive and batched per event-loop turn into one ctx.sendData call. QoS 1/2 messages are
// acknowledged to the broker only after the batch holding them is in storage (see AckGate).

import { refusedFilters, type MqttClient } from "../../common/mqtt/client.ts";
import { openConnection, type ManagedConnection } from "../../common/mqtt/connection.ts";
import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { AckGate } from "./ack-gate.ts";
import { clientOptions, RECONNECT_BACKOFF } from "./client-options.ts";
import { createConverter } from "./converters/index.ts";
import { DropLog } from "./drop-log.ts";
import { RequestHandlers } from "./requests.ts";
import { TopicRouter, type Route } from "./router.ts";
import { RpcDispatcher } from "./rpc.ts";
import type { MqttConfig } from "./schema.ts";

/** Held (unacknowledged) messages above which reading from the broker pauses. */
const MAX_HELD = 20_000;
/** Longest a batch of device messages gathers under light traffic before it is stored and acknowledged. */
const GATHER_WINDOW_MS = 30;

/**
 * Each mapping's route (topic filter, QoS and uplink converter); a mapping whose converter cannot be
 * built is logged and skipped. start() and `run --check` (the descriptor's prepare) both build them
 * here, so they behave and log alike.
 */
export async function mappingRoutes(config: MqttConfig, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<Route[]> {
  const routes: Route[] = [];
  for (const [i, m] of config.mapping.entries()) {
    try {
      routes.push({ filter: m.topicFilter, qos: m.subscriptionQos, converter: await createConverter(m, `mapping[${i}]`, ctx.configDir, ctx.log) });
    } catch (e) {
      ctx.log.error(`mapping[${i}] (${m.topicFilter}) skipped: ${errorText(e)}`);
    }
  }
  return routes;
}

export class MqttConnector implements Connector {
  private conn: ManagedConnection | undefined;
  private readonly router = new TopicRouter();
  private readonly requests: RequestHandlers;
  private readonly rpc: RpcDispatcher;
  private readonly drops: DropLog;
  private gate: AckGate | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private lastError = "";
  private subscribedWaiters: Array<() => void> = [];
  private subscribedOnce = false;

  constructor(
    private readonly config: MqttConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.drops = new DropLog(ctx.log, (reason) => ctx.countDropped?.(reason));
    this.requests = new RequestHandlers(config.requestsMapping, ctx, (t, p, o) => this.publish(t, p, o), this.drops);
    this.rpc = new RpcDispatcher(
      config.requestsMapping.serverSideRpc,
      {
        publish: (t, p, o) => this.publish(t, p, o),
        subscribe: async (t, qos) => {
          const subs = [{ topic: t, qos }];
          if (refusedFilters(subs, await this.connected().subscribe(subs)).length > 0) throw new Error(`broker refused subscription to ${t}`);
        },
        unsubscribe: async (t) => {
          if (this.conn?.client.connected) await this.conn.client.unsubscribe([t]);
        },
      },
      ctx.log,
      ctx.type || "mqtt",
    );
  }

  /** Messages dropped as malformed since start. */
  get droppedMessages(): number {
    return this.drops.dropped;
  }

  async start(): Promise<void> {
    for (const route of await mappingRoutes(this.config, this.ctx)) this.router.add(route);
    const { url, options } = clientOptions(this.config.broker, this.ctx.configDir, this.ctx.log, this.ctx.instance);
    const conn = openConnection(
      options,
      this.ctx.log,
      `broker ${url}`,
      {
        onConnect: () => this.onConnect(),
        onRefused: (reason) => this.reportError(`broker ${url}: ${reason}; check broker.security in the connector config`),
      },
      RECONNECT_BACKOFF,
    );
    this.conn = conn;
    const gate = new AckGate(this.ctx, MAX_HELD, conn.client, GATHER_WINDOW_MS);
    this.gate = gate;
    conn.client.on("message", (msg) => {
      // after stop nothing is acknowledged: the broker redelivers to the next session
      if (!this.stopped) gate.receive(msg, this);
    });
  }

  /** Convert one message into the current batch (called by the gate); drops are logged here. */
  convertInto(batch: ConvertedData[], topic: string, payload: Buffer): void | Promise<void> {
    if (this.rpc.onMessage(topic, payload)) return;
    const routes = this.router.routes(topic);
    let wait: Promise<void> | undefined;
    if (routes.length > 0) {
      const now = Date.now();
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i]!.converter.convert(topic, payload, now);
        if (typeof r === "string") this.drops.report(topic, r);
        else if (Array.isArray(r)) for (let j = 0; j < r.length; j++) batch.push(r[j]!);
        else {
          const prev = wait;
          wait = r.then(
            async (res) => {
              await prev;
              if (typeof res === "string") this.drops.report(topic, res);
              else for (const d of res) batch.push(d);
            },
            (e) => this.drops.report(topic, `custom converter failed: ${errorText(e)}`),
          );
        }
      }
    }
    try {
      this.requests.handle(topic, payload);
    } catch (e) {
      this.drops.report(topic, `request handling failed: ${errorText(e)}`);
    }
    return wait;
  }

  private onConnect(): void {
    const client = this.conn!.client;
    this.lastError = "";
    const subs = new Map<string, 0 | 1 | 2>();
    const add = (filter: string, qos: 0 | 1 | 2) => {
      const prev = subs.get(filter);
      if (prev === undefined || prev < qos) subs.set(filter, qos);
    };
    for (const s of this.router.subscriptions()) add(s.filter, s.qos);
    for (const s of this.requests.subscriptions()) add(s.filter, s.qos);
    for (const [t, qos] of this.rpc.responseTopics) add(t, qos);
    if (subs.size === 0) return this.notifySubscribed();
    const list = [...subs].map(([topic, qos]) => ({ topic, qos }));
    client.subscribe(list).then(
      (granted) => {
        for (const r of refusedFilters(list, granted)) this.reportError(`broker refused subscription to ${r.topic}`);
        this.notifySubscribed();
      },
      (err) => this.reportError(`subscribe failed: ${errorText(err)}`),
    );
  }

  private notifySubscribed(): void {
    this.subscribedOnce = true;
    for (const w of this.subscribedWaiters.splice(0)) w();
  }

  /** Resolves once the first connect's subscriptions are in place (tests, `scan`). */
  whenSubscribed(): Promise<void> {
    if (this.subscribedOnce) return Promise.resolve();
    return new Promise((r) => this.subscribedWaiters.push(r));
  }

  /** Resolves after the next (re)connect's subscriptions. */
  nextSubscribed(): Promise<void> {
    this.subscribedOnce = false;
    return this.whenSubscribed();
  }

  private reportError(text: string): void {
    if (text === this.lastError) return; // once per change, not per reconnect attempt
    this.lastError = text;
    this.ctx.log.error(text);
  }

  private connected(): MqttClient {
    const c = this.conn?.client;
    if (!c || !c.connected || this.stopped) throw new Error("not connected to the device broker");
    return c;
  }

  private async publish(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<void> {
    await this.connected().publishAsync(topic, payload, opts.qos, opts.retain);
  }

  onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    return this.requests.onAttributeUpdate(update);
  }

  onRpc(request: RpcRequest): Promise<RpcReply | undefined> {
    return this.rpc.handle(request);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      this.rpc.cancelAll();
      this.drops.stop();
      // data converted before stop is still offered once (a batch storage refuses stays
      // unacknowledged), then nothing more
      this.gate?.stop();
      await this.gate?.drain();
      await this.conn?.close(true).catch(() => undefined);
    })();
    return this.stopping;
  }
}
