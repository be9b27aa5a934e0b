// Request downlink: attribute updates and RPC as HTTP requests to the host (rules shared with REST
// in src/common/http/rules.ts). RPC replies: with responseValueExpression {"result": {"value":
// "<text>"}}, without it the device's whole JSON answer, a text answer as {"value": "<text>"},
// failures {"result": {"error": "..."}}.

import { compileTemplate, NULL_IN_TEXT, parseReservedParams, renderTemplate, SKIP, textOf } from "../../common/expressions/index.ts";
import type { Outgoing, OutgoingSettings } from "../../common/http/outgoing.ts";
import { findRpcRule, httpRule, sendAttributeUpdate, sendRpc, type HttpRule } from "../../common/http/rules.ts";
import { HeadersSchema } from "../../common/http/schema.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import { isCustomDownlink, loadDownlinkConverter } from "../../common/http/custom-downlink.ts";
import type { RequestConfig } from "./schema.ts";

/** Builds the client of one rule or mapping from its own settings (the connector adds auth and TLS). */
export type MakeOutgoing = (s: Pick<OutgoingSettings, "timeoutS" | "allowRedirects" | "headers">) => Outgoing;

interface RpcSpec {
  rule: HttpRule;
  responseValueExpression?: string;
  responseTimeoutS: number;
}

export class RequestDownlink {
  private readonly updates: HttpRule[];
  private readonly rpcs: RpcSpec[];

  constructor(
    private readonly config: RequestConfig,
    private readonly host: string,
    private readonly outgoing: MakeOutgoing,
    private readonly log: Logger,
  ) {
    this.updates = config.attributeUpdates.map((r) =>
      httpRule(
        { deviceNameFilter: r.deviceNameFilter, filter: r.attributeFilter, url: r.requestUrlExpression, body: r.requestValueExpression, method: r.httpMethod },
        outgoing({ timeoutS: r.timeout, allowRedirects: r.allowRedirects, headers: r.httpHeaders }),
      ),
    );
    this.rpcs = config.serverSideRpc.map((r) => ({
      rule: httpRule(
        { deviceNameFilter: r.deviceNameFilter, filter: r.methodFilter, url: r.requestUrlExpression, body: r.requestValueExpression, method: r.httpMethod },
        outgoing({ timeoutS: r.timeout, allowRedirects: r.allowRedirects, headers: r.httpHeaders }),
      ),
      responseValueExpression: r.responseValueExpression,
      responseTimeoutS: r.responseTimeout,
    }));
  }

  /** Custom downlink converters (`converter` of a rule) from extensions/request/; a failed one is logged and answers its requests with the error. */
  async loadConverters(configDir: string): Promise<void> {
    const rules = [
      ...this.config.attributeUpdates.map((r, i) => ({ raw: r, rule: this.updates[i]!, where: `attributeUpdates[${i}]` })),
      ...this.config.serverSideRpc.map((r, i) => ({ raw: r, rule: this.rpcs[i]!.rule, where: `serverSideRpc[${i}]` })),
    ];
    for (const { raw, rule, where } of rules) {
      if (!isCustomDownlink(raw.converter)) continue;
      try {
        rule.render = await loadDownlinkConverter(raw.converter, raw as Record<string, unknown>, configDir, "request", this.log);
      } catch (e) {
        const why = `${where}: converter ${raw.converter} not loaded: ${errorText(e)}`;
        this.log.error(why);
        rule.render = () => Promise.reject(new Error(why));
      }
    }
  }

  attributeUpdate(update: AttributeUpdate): Promise<void> {
    return sendAttributeUpdate(this.updates, update, this.host, this.log);
  }

  async rpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (req.device === undefined) {
      // connector RPC `request_<name>`: the params are the request
      if (req.params === null || typeof req.params !== "object") return [{ success: false, error: "connector RPC params must be an object with requestUrlExpression" }];
      const spec = this.adHoc(Object.fromEntries(Object.entries(req.params as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])), req.method);
      if (!spec) return [{ success: false, error: "connector RPC params need requestUrlExpression" }];
      const r = (await this.run(spec, req)) as { result: Record<string, unknown> };
      return [{ success: !("error" in r.result), ...("error" in r.result ? { error: r.result.error } : { result: r.result }) }];
    }
    const method = req.method.toLowerCase();
    if ((method === "get" || method === "set") && typeof req.params === "string") {
      const p = parseReservedParams(req.params);
      const spec = this.adHoc(p, method);
      if (!spec) return { result: { error: "Please check your RPC params: requestUrlExpression=<url>; is required" } };
      return this.run(spec, { ...req, params: p.value ?? req.params });
    }
    const spec = this.rpcs.find((s) => s.rule === findRpcRule([s.rule], req));
    if (!spec) return { result: { error: `No matching RPC request configuration found for method ${req.method} of ${req.device}` } };
    return this.run(spec, req);
  }

  /** Reserved get/set and connector RPC: the request described by `key=value` fields. */
  private adHoc(p: Record<string, string>, method: string): RpcSpec | undefined {
    if (!p.requestUrlExpression) return undefined;
    const headers = HeadersSchema.safeParse(p.httpHeaders ?? '{"Content-Type": "application/json"}');
    const out = this.outgoing({ timeoutS: Number(p.timeout) > 0 ? Number(p.timeout) : 0.5, allowRedirects: false, headers: headers.success ? headers.data : {} });
    const body = method.endsWith("set") && p.value !== undefined ? p.value : (p.requestValueExpression ?? "${params}");
    return {
      rule: httpRule({ deviceNameFilter: ".*", filter: ".*", url: p.requestUrlExpression, body, method: p.httpMethod ?? "GET" }, out),
      responseValueExpression: p.responseValueExpression,
      responseTimeoutS: Number(p.responseTimeout) > 0 ? Number(p.responseTimeout) : 1,
    };
  }

  private async run(spec: RpcSpec, req: RpcRequest): Promise<RpcReply> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const o = await Promise.race([
      sendRpc(spec.rule, req, "requestId", this.host),
      new Promise<{ kind: "timeout" }>((r) => {
        timer = setTimeout(() => r({ kind: "timeout" }), spec.responseTimeoutS * 1000);
      }),
    ]);
    clearTimeout(timer);
    if (o.kind === "timeout") return { result: { error: "Rpc timeout" } };
    if (o.kind === "error") return { result: { error: o.message } };
    if (!o.ok) return { result: { error: `${o.status} ${o.statusText}`, code: o.status } };
    if (o.json === undefined) return { result: { value: o.text } };
    if (!spec.responseValueExpression) return { result: o.json };
    const v = renderTemplate(compileTemplate(spec.responseValueExpression), o.json, NULL_IN_TEXT);
    if (v === SKIP) return { result: { error: `responseValueExpression ${spec.responseValueExpression} found nothing in the answer` } };
    return { result: { value: textOf(v) } };
  }
}
