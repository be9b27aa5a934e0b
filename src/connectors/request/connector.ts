// Request connector: every mapping polls its endpoint on its own timer, so a slow or dead endpoint
// only delays itself; a shared limit bounds the requests in flight. A failing endpoint is logged
// when it starts failing and when it recovers, and is polled with backoff meanwhile. Downlink:
// attribute updates and RPC become HTTP requests (src/common/http/rules.ts).

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { RpcReply, RpcRequest, AttributeUpdate } from "../../core/model.ts";
import { absoluteUrl, formBody } from "../../common/http/downlink.ts";
import { Outgoing, type OutgoingSettings } from "../../common/http/outgoing.ts";
import { errorText } from "../../observe/logger.ts";
import { createRequestConverter, type RequestUplinkConverter } from "./converter.ts";
import { RequestDownlink } from "./downlink.ts";
import { compileSubRequests, enrichItems, type SubRequest } from "./sub-requests.ts";
import type { PollMapping, RequestConfig } from "./schema.ts";

interface Poll {
  index: number;
  mapping: PollMapping;
  url: string;
  out: Outgoing;
  converter?: RequestUplinkConverter;
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
    this.downlink = new RequestDownlink(config, this.host, (s) => this.outgoing(s), ctx.log);
  }

  /** Settings every request of this connector shares: basic auth, TLS verification and CA. */
  outgoing(s: Pick<OutgoingSettings, "timeoutS" | "allowRedirects" | "headers">): Outgoing {
    const sec = this.config.security;
    const envUser = process.env.REQUEST_BASIC_USERNAME;
    const envPass = process.env.REQUEST_BASIC_PASSWORD;
    const basic = sec.type.toLowerCase() === "basic";
    const [username, password] = envUser !== undefined && envPass !== undefined ? [envUser, envPass] : [sec.username, sec.password];
    return new Outgoing(
      {
        ...s,
        security: basic && username !== undefined && password !== undefined ? { type: "basic", username, password } : { type: "anonymous" },
        verify: this.config.SSLVerify,
        caFile: this.config.caCert,
      },
      this.ctx.configDir,
    );
  }

  async start(): Promise<void> {
    const sec = this.config.security;
    if (sec.type.toLowerCase() === "basic" && (sec.username === undefined || sec.password === undefined) && !(process.env.REQUEST_BASIC_USERNAME && process.env.REQUEST_BASIC_PASSWORD))
      this.ctx.log.warn("security type basic without username and password: requests are sent without credentials");
    if (!this.config.SSLVerify) this.ctx.log.warn("SSLVerify is false: HTTPS answers are encrypted but the server certificates are not checked");
    await this.downlink.loadConverters(this.ctx.configDir);
    for (const [index, mapping] of this.config.mapping.entries()) {
      const p: Poll = {
        index,
        mapping,
        url: absoluteUrl(mapping.url, this.host),
        out: this.outgoing({ timeoutS: mapping.timeout, allowRedirects: mapping.allowRedirects, headers: mapping.httpHeaders }),
        failures: 0,
        subs: [],
      };
      p.subs = compileSubRequests(mapping, `mapping[${index}] (${p.url})`, this.ctx.log);
      try {
        p.converter = await createRequestConverter(mapping, this.ctx.configDir, this.ctx.log);
      } catch (e) {
        this.ctx.log.error(`mapping[${index}] (${p.url}) not polled: converter not loaded: ${errorText(e)}`);
        continue;
      }
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
      converted = await p.converter!.convert(body, receivedTs);
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
