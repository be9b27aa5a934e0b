// REST connector: an HTTP server devices push data to (server.ts), answers held until the platform
// sets an attribute (responseExpected), attribute-request endpoints, and downlink as outgoing HTTP
// requests (downlink.ts).

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { resolveConfigPath } from "../../common/tls/index.ts";
import { readFileSync } from "node:fs";
import { errorText } from "../../observe/logger.ts";
import { createRestConverter } from "./converter.ts";
import { RestDownlink } from "./downlink.ts";
import { compileRoute, type Route } from "./routes.ts";
import type { RestConfig } from "./schema.ts";
import { RestServer, type Endpoint } from "./server.ts";

interface Waiter {
  attribute: string;
  resolve: (v: unknown) => void;
}

/** The downlink (attribute updates and RPC as outgoing requests), as the connector builds it; its custom converters load in prepareServer. */
export function restDownlink(config: RestConfig, ctx: Pick<ConnectorContext, "configDir" | "log">): RestDownlink {
  const r = config.requestsMapping;
  return new RestDownlink(r.attributeUpdates, r.serverSideRpc, ctx.configDir, ctx.log);
}

/**
 * What start() builds before it listens: the downlink rules' custom converters, every route (each
 * mapping's endpoint with its uplink converter, where one that does not load makes the endpoint
 * answer 500; the attribute-request endpoints) and, with SSL, the certificate and key read. Throws
 * what keeps start() from listening. start() and `run --check` (the descriptor's prepare) both
 * build them here, so they behave and log alike.
 */
export async function prepareServer(config: RestConfig, ctx: Pick<ConnectorContext, "configDir" | "log">, downlink: RestDownlink): Promise<{ routes: Route<Endpoint>[]; tls?: { cert: Buffer; key: Buffer } }> {
  await downlink.loadConverters();
  const routes: Route<Endpoint>[] = [];
  for (const [i, m] of config.mapping.entries()) {
    let converter;
    try {
      converter = await createRestConverter(m, ctx.configDir, ctx.log);
    } catch (e) {
      converter = errorText(e);
      ctx.log.error(`mapping[${i}] (${m.endpoint}): converter not loaded, the endpoint answers 500: ${converter}`);
    }
    routes.push(compileRoute<Endpoint>(m.endpoint, m.HTTPMethods, { kind: "data", mapping: m, converter, security: m.security }));
  }
  for (const rule of config.requestsMapping.attributeRequests) {
    routes.push(compileRoute<Endpoint>(rule.endpoint, rule.HTTPMethods, { kind: "attributes", rule, security: rule.security }));
  }
  const s = config.server;
  if (!s.SSL) return { routes };
  if (!s.security?.cert || !s.security.key) throw new Error("server.SSL is true: give server.security.cert and server.security.key (PEM files)");
  const readPem = (what: string, p: string): Buffer => {
    const full = resolveConfigPath(p, ctx.configDir);
    try {
      return readFileSync(full);
    } catch (e) {
      throw new Error(`cannot read the server ${what} ${full}: ${errorText(e)}`);
    }
  };
  return { routes, tls: { cert: readPem("certificate", s.security.cert), key: readPem("private key", s.security.key) } };
}

export class RestConnector implements Connector {
  private server: RestServer | undefined;
  private readonly downlink: RestDownlink;
  /** Held answers per device, oldest first. */
  private readonly waiters = new Map<string, Waiter[]>();
  /** Last logged problem per endpoint, so a misbehaving device logs once, not per request. */
  private readonly problems = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly config: RestConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.downlink = restDownlink(config, ctx);
  }

  /** The port the server listens on (the configured one, or the one picked for port 0). */
  get port(): number | undefined {
    return this.server?.port;
  }

  async start(): Promise<void> {
    const { routes, tls } = await prepareServer(this.config, this.ctx, this.downlink);
    const s = this.config.server;
    const server = new RestServer(routes, this.ctx, {
      waitForAttribute: (device, attribute, timeoutMs) => this.waitForAttribute(device, attribute, timeoutMs),
      report: (endpoint, problem) => this.report(endpoint, problem),
    });
    try {
      server.start({ host: s.host, port: s.port, maxBodySize: s.maxBodySize, tls });
    } catch (e) {
      throw new Error(`cannot listen on ${s.host}:${s.port}: ${errorText(e)}`);
    }
    this.server = server;
    this.ctx.log.info(`listening on ${tls ? "https" : "http"}://${s.host}:${server.port} (${routes.length} endpoint(s))`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const list of this.waiters.values()) for (const w of list) w.resolve(undefined);
    this.waiters.clear();
    await this.server?.stop();
  }

  private report(endpoint: string, problem: string | undefined): void {
    // called with undefined after every accepted request: nothing to clear in the usual case
    if (problem === undefined && this.problems.size === 0) return;
    const last = this.problems.get(endpoint);
    if (problem === last) return;
    if (problem) {
      this.problems.set(endpoint, problem);
      this.ctx.log.warn(`${endpoint}: ${problem}`);
    } else if (last !== undefined) {
      this.problems.delete(endpoint);
      this.ctx.log.info(`${endpoint}: requests accepted again`);
    }
  }

  private waitForAttribute(device: string, attribute: string, timeoutMs: number): { value: Promise<unknown>; cancel(): void } {
    let w!: Waiter;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const remove = () => {
      clearTimeout(timer);
      const list = this.waiters.get(device);
      const i = list?.indexOf(w) ?? -1;
      if (i >= 0) list!.splice(i, 1);
      if (list?.length === 0) this.waiters.delete(device);
    };
    const value = new Promise<unknown>((resolve) => {
      w = {
        attribute,
        resolve: (v) => {
          remove();
          resolve(v);
        },
      };
      timer = setTimeout(() => w.resolve(undefined), timeoutMs);
    });
    const list = this.waiters.get(device) ?? [];
    list.push(w);
    this.waiters.set(device, list);
    return { value, cancel: () => w.resolve(undefined) };
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    const list = this.waiters.get(update.device);
    if (list) {
      for (const [key, value] of Object.entries(update.data)) {
        const w = list.find((x) => x.attribute === key);
        if (w) w.resolve(value);
      }
    }
    await this.downlink.attributeUpdate(update);
  }

  onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    return this.downlink.rpc(req);
  }
}
