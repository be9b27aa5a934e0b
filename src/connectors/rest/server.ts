// The REST connector's HTTP side: one Bun.serve, routes in config order, and for each request
// 404/405/401/413/400/415 before any conversion. A 2xx answer is given only after ctx.sendData
// resolved, i.e. once the data is in storage (committed for sqlite and file storage); storage
// refusing it (full) is 503 with Retry-After. Nothing a request does can disturb another.

import type { Server } from "bun";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { compileTemplate, lookupTag, textOf } from "../../common/expressions/index.ts";
import { compileNameTemplate } from "../../common/converters/json-mapping.ts";
import { errorText } from "../../observe/logger.ts";
import type { RestUplinkConverter } from "./converter.ts";
import { readRequestData } from "./request-data.ts";
import { matchRoute, requestTarget, type Route } from "./routes.ts";
import type { AttributeRequestRule, RestMapping } from "./schema.ts";
import type { EndpointSecurity } from "../../common/http/schema.ts";

export type Endpoint =
  | { kind: "data"; mapping: RestMapping; converter: RestUplinkConverter | string; security: EndpointSecurity; successBody?: string | null }
  | { kind: "attributes"; rule: AttributeRequestRule; security: EndpointSecurity };

/** What the server needs from the connector besides the context. */
export interface ServerHooks {
  /** Resolves with the value of `attribute` once the platform updates it for `device`; undefined on timeout. */
  waitForAttribute(device: string, attribute: string, timeoutMs: number): { value: Promise<unknown>; cancel(): void };
  /** Log a problem of one endpoint once per change (cleared by its next success). */
  report(endpoint: string, problem: string | undefined): void;
}

const RETRY_AFTER_S = "1";

function bodyText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Compare without leaking where the first difference is. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ (y[i % Math.max(1, y.length)] ?? 0);
  return diff === 0;
}

/** An error answer: the endpoint's unsuccessfulResponse when set (not for 400/413, which say what is wrong). */
function failure(ep: Endpoint, status: number, reason: string, headers: Record<string, string> = {}): Response {
  const configured = ep.kind === "data" && status !== 400 && status !== 413 ? bodyText(ep.mapping.response.unsuccessfulResponse) : null;
  return new Response(configured ?? reason + "\n", { status, headers });
}

/** True when the request carries this endpoint's Basic credentials. */
function authorized(req: Request, s: EndpointSecurity): boolean {
  if (s.type !== "basic") return true;
  const h = req.headers.get("authorization");
  if (!h || !/^basic\s+/i.test(h)) return false;
  const decoded = Buffer.from(h.replace(/^basic\s+/i, ""), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  return sameText(decoded.slice(0, colon), s.username ?? "") && sameText(decoded.slice(colon + 1), s.password ?? "");
}

export class RestServer {
  private server: Server<undefined> | undefined;
  /** Requests being handled (a stop waits for their answers). */
  private inFlight = 0;

  constructor(
    private readonly routes: Route<Endpoint>[],
    private readonly ctx: ConnectorContext,
    private readonly hooks: ServerHooks,
  ) {}

  get port(): number | undefined {
    return this.server?.port;
  }

  start(opts: { host: string; port: number; maxBodySize: number; tls?: { cert: Buffer; key: Buffer } }): void {
    this.server = Bun.serve({
      hostname: opts.host,
      port: opts.port,
      maxRequestBodySize: opts.maxBodySize,
      tls: opts.tls,
      // held answers (responseExpected, attribute requests) set their own limit per request
      idleTimeout: 30,
      fetch: (req, server) => this.handle(req, server, opts.maxBodySize),
      error: (e) => {
        this.ctx.log.error(`request failed: ${errorText(e)}`);
        return new Response("internal error", { status: 500 });
      },
    });
  }

  async stop(): Promise<void> {
    await this.server?.stop(true);
    this.server = undefined;
  }

  private async handle(req: Request, server: Server<undefined>, maxBodySize: number): Promise<Response> {
    const target = requestTarget(req.url);
    const m = matchRoute(this.routes, req.method, target.pathname);
    if (!m) return new Response(`no endpoint ${target.pathname}\n`, { status: 404 });
    if ("allowed" in m) return new Response(`method ${req.method} not allowed\n`, { status: 405, headers: { Allow: m.allowed.join(", ") } });
    const ep = m.route.target;
    if (!authorized(req, ep.security)) return failure(ep, 401, "unauthorized", { "WWW-Authenticate": 'Basic realm="tb-gw"' });
    let read;
    try {
      read = await readRequestData(req, target, m.params, maxBodySize);
    } catch (e) {
      return failure(ep, 400, `cannot read the request: ${errorText(e)}`);
    }
    if (!read.ok) {
      this.hooks.report(m.route.path, `${read.status} ${read.message}`);
      return failure(ep, read.status, read.message);
    }
    if (read.empty) return failure(ep, 415, "no data: send a body or query parameters");
    this.inFlight++;
    try {
      if (ep.kind === "attributes") return await this.attributeRequest(req, server, ep.rule, read.data.items[0]!);
      return await this.dataRequest(req, server, m.route.path, ep, read.data);
    } finally {
      this.inFlight--;
    }
  }

  private async dataRequest(req: Request, server: Server<undefined>, path: string, ep: Extract<Endpoint, { kind: "data" }>, data: Parameters<RestUplinkConverter["convert"]>[0]): Promise<Response> {
    if (typeof ep.converter === "string") return failure(ep, 500, `converter not available: ${ep.converter}`);
    let converted: ConvertedData[] | string;
    try {
      // the JSON converter answers at once: awaiting only a custom converter's promise saves a tick
      const c = ep.converter.convert(data);
      converted = c instanceof Promise ? await c : c;
    } catch (e) {
      this.hooks.report(path, `converter failed: ${errorText(e)}`);
      return failure(ep, 500, `converter failed: ${errorText(e)}`);
    }
    if (typeof converted === "string") {
      this.hooks.report(path, `400 ${converted}`);
      return failure(ep, 400, converted);
    }
    const res = ep.mapping.response;
    let held: Array<{ value: Promise<unknown>; cancel(): void }> | undefined;
    if (res.responseExpected) {
      held = converted.map((d) => this.hooks.waitForAttribute(d.deviceName, res.responseAttribute ?? "", res.timeout * 1000));
      for (const d of converted) d.attributes = { ...d.attributes, responseExpected: true };
    }
    let status;
    try {
      status = await this.ctx.sendData(converted);
    } catch (e) {
      status = "NOT_STORED" as const;
      this.ctx.log.error(`${path}: storing failed: ${errorText(e)}`);
    }
    if (status !== "SUCCESS") {
      if (held) for (const h of held) h.cancel();
      if (status === "FORBIDDEN_DEVICE") return failure(ep, 403, "device not allowed by the gateway's device filter");
      if (status === "FAILURE") return failure(ep, 400, "the data cannot be stored (it names no device)");
      this.hooks.report(path, "503 storage refused the data (full)");
      return failure(ep, 503, "storage full, try again later", { "Retry-After": RETRY_AFTER_S });
    }
    this.hooks.report(path, undefined);
    // the 200 body is the same for every request of the endpoint: serialised once
    if (!held) return new Response(ep.successBody === undefined ? (ep.successBody = bodyText(res.successResponse)) : ep.successBody);
    server.timeout(req, Math.min(255, Math.ceil(res.timeout) + 5));
    const value = await held[0]!.value;
    for (const h of held.slice(1)) h.cancel();
    if (value === undefined) return failure(ep, 408, `no ${res.responseAttribute ?? "response"} attribute within ${res.timeout} s`);
    return new Response(bodyText(value), { status: 200 });
  }

  private async attributeRequest(req: Request, server: Server<undefined>, rule: AttributeRequestRule, item: Record<string, unknown>): Promise<Response> {
    const device = rule.deviceNameExpression.includes("${") ? compileNameTemplate(rule.deviceNameExpression)(item) : rule.deviceNameExpression;
    if (!device) return new Response(`device name not found (${rule.deviceNameExpression})\n`, { status: 400 });
    const keys: string[] = [];
    for (const tag of compileTemplate(rule.attributeNameExpression).tags) {
      const v = lookupTag(tag, item);
      if (v !== undefined && v !== null) keys.push(textOf(v));
    }
    if (keys.length === 0) return new Response(`no attribute names found (${rule.attributeNameExpression})\n`, { status: 400 });
    server.timeout(req, Math.min(255, Math.ceil(rule.timeout) + 5));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const values = await Promise.race([
        this.ctx.requestAttributes(device, keys, rule.type),
        new Promise<undefined>((r) => {
          timer = setTimeout(() => r(undefined), rule.timeout * 1000);
        }),
      ]);
      if (values === undefined) return new Response(`no answer from the platform within ${rule.timeout} s\n`, { status: 408 });
      // the platform's reply shape: one key → "value", several → "values"
      const reply = keys.length === 1 ? { device, value: values[keys[0]!] ?? null } : { device, values };
      return Response.json(reply);
    } catch (e) {
      return new Response(`attribute request failed: ${errorText(e)}\n`, { status: 502 });
    } finally {
      clearTimeout(timer);
    }
  }
}
