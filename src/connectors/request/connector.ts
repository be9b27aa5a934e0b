// Request connector: every mapping polls its endpoint on its own timer, so a slow or dead endpoint
// only delays itself; a shared limit bounds the requests in flight. A failing endpoint is logged
// when it starts failing and when it recovers, and is polled with backoff meanwhile. Downlink:
// attribute updates and RPC become HTTP requests (src/common/http/rules.ts).

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { RpcReply, RpcRequest, AttributeUpdate } from "../../core/model.ts";
import { absoluteUrl, formBody } from "../../common/http/downlink.ts";
import { Outgoing } from "../../common/http/outgoing.ts";
import { errorText } from "../../observe/logger.ts";
import { createRequestConverter, type RequestUplinkConverter } from "./converter.ts";
import { RequestDownlink, type MakeOutgoing } from "./downlink.ts";
import { compileSubRequests, enrichItems, type SubRequest } from "./sub-requests.ts";
import type { PollMapping, RequestConfig } from "./schema.ts";

interface Poll {
  index: number;
  mapping: PollMapping;
  url: string;
  out: Outgoing;
  converter: RequestUplinkConverter;
  subs: SubRequest[];
  timer?: ReturnType<typeof setTimeout>;
  /** Consecutive failed polls (backoff grows with them). */
  failures: number;
  problem?: string;
}

/** Counters for `tb-gw` statistics and tests. */
export interface RequestStats {
  polls: number;
  failed: number;
  notJson: number;
  serverErrors: number;
}

const MAX_BACKOFF_S = 60;

/** A small counting semaphore: at most `limit` polls in flight. */
class Limit {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

export function hostUrl(host: string): string {
  return /^https?:\/\//i.test(host) ? host : `http://${host}`;
}

/** Settings every request of a connector shares: basic auth (REQUEST_BASIC_USERNAME/PASSWORD first), TLS verification and CA. */
function outgoingOf(config: RequestConfig, configDir: string): MakeOutgoing {
  return (s) => {
    const sec = config.security;
    const envUser = process.env.REQUEST_BASIC_USERNAME;
    const envPass = process.env.REQUEST_BASIC_PASSWORD;
    const basic = sec.type.toLowerCase() === "basic";
    const [username, password] = envUser !== undefined && envPass !== undefined ? [envUser, envPass] : [sec.username, sec.password];
    return new Outgoing(
      {
        ...s,
        security: basic && username !== undefined && password !== undefined ? { type: "basic", username, password } : { type: "anonymous" },
        verify: config.SSLVerify,
        caFile: config.caCert,
      },
      configDir,
    );
  };
}

/** The downlink (attribute updates and RPC as requests to the host), as the connector builds it; its custom converters load in preparePolls. */
export function requestDownlink(config: RequestConfig, ctx: Pick<ConnectorContext, "configDir" | "log">): RequestDownlink {
  return new RequestDownlink(config, hostUrl(config.host), outgoingOf(config, ctx.configDir), ctx.log);
}

/**
 * What start() builds before its first request: the warnings about credentials and TLS, the
 * downlink rules' custom converters (one that does not load answers its requests with the error),
 * then per mapping its URL, sub-requests and uplink converter (a mapping whose converter does not
 * load is logged and left out: not polled). start() and `run --check` (the descriptor's prepare)
 * both build them here, so they behave and log alike.
 */
export async function preparePolls(config: RequestConfig, ctx: Pick<ConnectorContext, "configDir" | "log">, downlink: RequestDownlink): Promise<Poll[]> {
  const sec = config.security;
  if (sec.type.toLowerCase() === "basic" && (sec.username === undefined || sec.password === undefined) && !(process.env.REQUEST_BASIC_USERNAME && process.env.REQUEST_BASIC_PASSWORD))
    ctx.log.warn("security type basic without username and password: requests are sent without credentials");
  if (!config.SSLVerify) ctx.log.warn("SSLVerify is false: HTTPS answers are encrypted but the server certificates are not checked");
  await downlink.loadConverters(ctx.configDir);
  const host = hostUrl(config.host);
  const outgoing = outgoingOf(config, ctx.configDir);
  const polls: Poll[] = [];
  for (const [index, mapping] of config.mapping.entries()) {
    const url = absoluteUrl(mapping.url, host);
    const subs = compileSubRequests(mapping, `mapping[${index}] (${url})`, ctx.log);
    let converter: RequestUplinkConverter;
    try {
      converter = await createRequestConverter(mapping, ctx.configDir, ctx.log);
    } catch (e) {
      ctx.log.error(`mapping[${index}] (${url}) not polled: converter not loaded: ${errorText(e)}`);
      continue;
    }
    const out = outgoing({ timeoutS: mapping.timeout, allowRedirects: mapping.allowRedirects, headers: mapping.httpHeaders });
    polls.push({ index, mapping, url, out, converter, subs, failures: 0 });
  }
  return polls;
}

export class RequestConnector implements Connector {
  readonly stats: RequestStats = { polls: 0, failed: 0, notJson: 0, serverErrors: 0 };
  private readonly polls: Poll[] = [];
  private readonly limit: Limit;
  private readonly host: string;
  private readonly downlink: RequestDownlink;
  private stopped = false;

  constructor(
    private readonly config: RequestConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.host = hostUrl(config.host);
    this.limit = new Limit(config.maxConcurrentRequests);
    this.downlink = requestDownlink(config, ctx);
  }

  async start(): Promise<void> {
    for (const p of await preparePolls(this.config, this.ctx, this.downlink)) {
      this.polls.push(p);
      void this.loop(p);
    }
    this.ctx.log.info(`polling ${this.polls.length} endpoint(s) of ${this.host}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of this.polls) clearTimeout(p.timer);
  }

  /** Log a poll's problem when it starts or changes (`detail`, e.g. a count, is not compared). */
  private report(p: Poll, problem: string | undefined, detail = ""): void {
    if (problem === p.problem) return;
    const where = `mapping[${p.index}] ${p.mapping.httpMethod} ${p.url}`;
    if (problem) this.ctx.log.error(`${where}: ${problem}${detail}`);
    else this.ctx.log.info(`${where}: answering again`);
    p.problem = problem;
  }

  private async loop(p: Poll): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      const ok = await this.limit.run(() => this.pollOnce(p));
      if (this.stopped) return;
      p.failures = ok ? 0 : p.failures + 1;
      // upstream: the next poll is scanPeriod after this one started; failing endpoints back off
      const period = p.mapping.scanPeriod * 1000;
      const backoff = p.failures > 0 ? Math.min(Math.max(period, MAX_BACKOFF_S * 1000), period * 2 ** (p.failures - 1)) : period;
      const wait = Math.max(0, backoff - (Date.now() - started));
      await new Promise<void>((r) => (p.timer = setTimeout(r, wait)));
    }
  }

  /** One poll; false when it failed (it is then reported once per change of problem). */
  async pollOnce(p: Poll): Promise<boolean> {
    this.stats.polls++;
    const m = p.mapping;
    let body: unknown;
    const receivedTs = Date.now();
    try {
      const res = await p.out.send(p.url, m.httpMethod, formBody(m.data));
      if (!res.ok) {
        if (res.status >= 500) this.stats.serverErrors++;
        this.stats.failed++;
        this.report(p, `answered ${res.status} ${res.statusText}`, ` (${this.stats.failed} failed polls of this connector so far)`);
        return false;
      }
      body = res.json();
      if (body === undefined) {
        this.stats.notJson++;
        body = res.body;
      }
    } catch (e) {
      this.stats.failed++;
      this.report(p, errorText(e));
      return false;
    }
    if (this.stopped) return true;
    if (p.subs.length && body !== null && typeof body === "object" && !(body instanceof Uint8Array)) await this.subRequests(p, body);
    let converted;
    try {
      converted = await p.converter.convert(body, receivedTs);
    } catch (e) {
      this.report(p, `converter failed: ${errorText(e)}`);
      return true;
    }
    if (typeof converted === "string") {
      if (!(body instanceof Uint8Array)) this.report(p, `nothing to send: ${converted}`);
      else {
        // a JSON converter cannot read it: a failure, backed off like an error answer
        this.report(p, converted, ` (${this.stats.notJson} non-JSON answers so far)`);
        return false;
      }
      return true;
    }
    this.report(p, undefined);
    if (!this.stopped) await this.ctx.sendData(converted);
    return true;
  }

  /** Each sub-request's answer (its JSON object, or what its processingFunction returns) is merged into the item(s) of the answer. */
  private async subRequests(p: Poll, body: object): Promise<void> {
    const items = (Array.isArray(body) ? body : [body]).filter((x): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x));
    const where = `mapping[${p.index}] ${p.mapping.httpMethod} ${p.url}`;
    await enrichItems(items, p.subs, p.url, (url) => p.out.send(url, p.mapping.httpMethod, undefined), where, this.ctx.log, () => this.stopped);
  }

  onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    return this.downlink.attributeUpdate(update);
  }

  onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    return this.downlink.rpc(req);
  }
}
