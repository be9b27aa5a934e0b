// REST downlink: shared attribute updates and RPC become HTTP requests to the device side
// (requestsMapping.attributeUpdates / serverSideRpc, and the reserved get/set RPC). The RPC reply
// is {"result": <the answer's JSON, or its text>}, or {"result": {"error", "code"}}.

import { parseReservedParams } from "../../common/expressions/index.ts";
import { Outgoing } from "../../common/http/outgoing.ts";
import { findRpcRule, httpRule, sendAttributeUpdate, sendRpc, type HttpRule } from "../../common/http/rules.ts";
import { HeadersSchema } from "../../common/http/schema.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import { isCustomDownlink, loadDownlinkConverter } from "../../common/http/custom-downlink.ts";
import type { AttributeUpdateRule, RpcRule } from "./schema.ts";

function outgoing(r: AttributeUpdateRule | RpcRule, configDir: string): Outgoing {
  return new Outgoing({ security: r.security, verify: r.SSLVerify, timeoutS: r.timeout, allowRedirects: r.allowRedirects, headers: r.httpHeaders }, configDir);
}

export class RestDownlink {
  private readonly updates: HttpRule[];
  private readonly rpcs: HttpRule[];

  constructor(
    private readonly updateRules: AttributeUpdateRule[],
    private readonly rpcRules: RpcRule[],
    private readonly configDir: string,
    private readonly log: Logger,
  ) {
    const rule = (r: AttributeUpdateRule | RpcRule, filter: string, where: string) => {
      const out = outgoing(r, configDir);
      out.warnIfUnverified(log, where, r.requestUrlExpression);
      return httpRule({ deviceNameFilter: r.deviceNameFilter, filter, url: r.requestUrlExpression, body: r.valueExpression, method: r.HTTPMethod }, out);
    };
    this.updates = updateRules.map((r, i) => rule(r, r.attributeFilter, `requestsMapping.attributeUpdates[${i}]`));
    this.rpcs = rpcRules.map((r, i) => rule(r, r.methodFilter, `requestsMapping.serverSideRpc[${i}]`));
  }

  /** Custom downlink converters (`extension` of a rule) from extensions/rest/; a failed one is logged and answers its requests with the error. */
  async loadConverters(): Promise<void> {
    const rules = [
      ...this.updateRules.map((r, i) => ({ raw: r, rule: this.updates[i]!, where: `requestsMapping.attributeUpdates[${i}]` })),
      ...this.rpcRules.map((r, i) => ({ raw: r, rule: this.rpcs[i]!, where: `requestsMapping.serverSideRpc[${i}]` })),
    ];
    for (const { raw, rule, where } of rules) {
      if (!isCustomDownlink(raw.extension)) continue;
      try {
        rule.render = await loadDownlinkConverter(raw.extension, raw as Record<string, unknown>, this.configDir, "rest", this.log);
      } catch (e) {
        const why = `${where}: converter ${raw.extension} not loaded: ${errorText(e)}`;
        this.log.error(why);
        rule.render = () => Promise.reject(new Error(why));
      }
    }
  }

  /** Every key of the update against every rule (upstream looks at the first key only). */
  attributeUpdate(update: AttributeUpdate): Promise<void> {
    return sendAttributeUpdate(this.updates, update, undefined, this.log);
  }

  async rpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (req.device === undefined) return this.connectorRpc(req);
    if ((req.method === "get" || req.method === "set") && typeof req.params === "string") return this.reserved(req);
    const rule = findRpcRule(this.rpcs, req);
    if (!rule) {
      this.log.error(`RPC ${req.method} for ${req.device}: no requestsMapping.serverSideRpc entry matches`);
      return undefined;
    }
    return this.call(rule, req);
  }

  /**
   * Connector RPC `rest_get` / `rest_set` (sent to the gateway device): params are
   * `"device=NAME requestUrlExpression=…;HTTPMethod=…;value=…;"`: the first space-separated token
   * names the device (its value after `=`, as upstream reads it), the rest is the reserved get/set.
   */
  private connectorRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    const m = /^rest_(get|set)$/i.exec(req.method);
    if (!m) return Promise.resolve(undefined);
    if (typeof req.params !== "string") return Promise.resolve({ result: { error: `RPC ${req.method}: params must be text "device=NAME requestUrlExpression=<url>;…"`, code: 400 } });
    const text = req.params.trim();
    const space = text.indexOf(" ");
    const first = space < 0 ? text : text.slice(0, space);
    const device = first.slice(first.indexOf("=") + 1);
    return this.reserved({ ...req, device, method: m[1]!.toLowerCase(), params: space < 0 ? "" : text.slice(space + 1) });
  }

  /** Reserved `get`/`set`: params `requestUrlExpression=…;HTTPMethod=…;value=…;` describe the request. */
  private reserved(req: RpcRequest): Promise<RpcReply> {
    const p = parseReservedParams(req.params as string);
    if (!p.requestUrlExpression) return Promise.resolve({ result: { error: `RPC ${req.method}: params need requestUrlExpression=<url>;`, code: 400 } });
    const headers = HeadersSchema.safeParse(p.httpHeaders ?? "{}");
    const out = new Outgoing(
      {
        security: { type: "anonymous" },
        verify: p.SSLVerify === undefined ? true : !/^(false|0|no)$/i.test(p.SSLVerify),
        timeoutS: Number(p.timeout) > 0 ? Number(p.timeout) : 10,
        allowRedirects: /^(true|1|yes)$/i.test(p.allowRedirects ?? ""),
        headers: headers.success ? headers.data : {},
      },
      this.configDir,
    );
    const method = p.HTTPMethod ?? p.httpMethod ?? (req.method === "set" ? "POST" : "GET");
    const rule = httpRule({ deviceNameFilter: ".*", filter: ".*", url: p.requestUrlExpression, body: p.value ?? p.valueExpression ?? "", method }, out);
    return this.call(rule, { ...req, params: {} });
  }

  private async call(rule: HttpRule, req: RpcRequest): Promise<RpcReply> {
    const o = await sendRpc(rule, req, "restId", undefined);
    if (o.kind === "timeout") return { result: { error: "Timeout", code: 408 } };
    if (o.kind === "error") return { result: { error: o.message, code: 500 } };
    if (!o.ok) return { result: { error: o.statusText, code: o.status } };
    return { result: o.json !== undefined ? o.json : o.text };
  }
}
