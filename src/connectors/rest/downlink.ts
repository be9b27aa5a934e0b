// REST downlink: shared attribute updates and RPC become HTTP requests to the device side
// (requestsMapping.attributeUpdates / serverSideRpc, and the reserved get/set RPC). The RPC reply
// is {"result": <the answer's JSON, or its text>}, or {"result": {"error", "code"}}.

import { parseReservedParams } from "../../common/expressions/index.ts";
import { absoluteUrl, downlinkBody, fullMatch, renderAttributeUpdate, renderRpc } from "../../common/http/downlink.ts";
import { HttpCallError } from "../../common/http/client.ts";
import { Outgoing } from "../../common/http/outgoing.ts";
import { HeadersSchema } from "../../common/http/schema.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { AttributeUpdateRule, RpcRule } from "./schema.ts";

interface Compiled<R> {
  rule: R;
  device: RegExp;
  filter: RegExp;
  out: Outgoing;
}

function outgoing(r: AttributeUpdateRule | RpcRule, configDir: string): Outgoing {
  return new Outgoing({ security: r.security, verify: r.SSLVerify, timeoutS: r.timeout, allowRedirects: r.allowRedirects, headers: r.httpHeaders }, configDir);
}

export class RestDownlink {
  private readonly updates: Compiled<AttributeUpdateRule>[];
  private readonly rpcs: Compiled<RpcRule>[];

  constructor(
    updates: AttributeUpdateRule[],
    rpcs: RpcRule[],
    private readonly configDir: string,
    private readonly log: Logger,
  ) {
    this.updates = updates.map((rule, i) => {
      const c = { rule, device: fullMatch(rule.deviceNameFilter), filter: fullMatch(rule.attributeFilter), out: outgoing(rule, configDir) };
      c.out.warnIfUnverified(log, `requestsMapping.attributeUpdates[${i}]`, rule.requestUrlExpression);
      return c;
    });
    this.rpcs = rpcs.map((rule, i) => {
      const c = { rule, device: fullMatch(rule.deviceNameFilter), filter: fullMatch(rule.methodFilter), out: outgoing(rule, configDir) };
      c.out.warnIfUnverified(log, `requestsMapping.serverSideRpc[${i}]`, rule.requestUrlExpression);
      return c;
    });
  }

  /** Every key of the update against every rule (upstream looks at the first key only). */
  async attributeUpdate(update: AttributeUpdate): Promise<void> {
    const sends: Promise<void>[] = [];
    for (const [key, value] of Object.entries(update.data)) {
      for (const c of this.updates) {
        if (!c.device.test(update.device) || !c.filter.test(key)) continue;
        const { url, body } = renderAttributeUpdate(c.rule.requestUrlExpression, c.rule.valueExpression, update.device, key, value);
        const target = absoluteUrl(url);
        const encoded = downlinkBody(body, c.rule.httpHeaders);
        sends.push(
          c.out.send(target, c.rule.HTTPMethod, encoded.body, encoded.headers).then(
            (r) => {
              if (r.ok) this.log.debug(`attribute ${key} of ${update.device} sent to ${target}: ${r.status}`);
              else this.log.error(`attribute ${key} of ${update.device}: ${c.rule.HTTPMethod} ${target} answered ${r.status} ${r.statusText}`);
            },
            (e) => this.log.error(`attribute ${key} of ${update.device}: ${errorText(e)}`),
          ),
        );
      }
    }
    await Promise.all(sends);
  }

  async rpc(req: RpcRequest): Promise<RpcReply | undefined> {
    if (req.device === undefined) return undefined;
    if ((req.method === "get" || req.method === "set") && typeof req.params === "string") return this.reserved(req);
    const c = this.rpcs.find((x) => x.device.test(req.device!) && x.filter.test(req.method));
    if (!c) {
      this.log.error(`RPC ${req.method} for ${req.device}: no requestsMapping.serverSideRpc entry matches`);
      return undefined;
    }
    const { url, body } = renderRpc(c.rule.requestUrlExpression, c.rule.valueExpression, req, "restId");
    return this.call(c.out, absoluteUrl(url), c.rule.HTTPMethod, body, c.rule.httpHeaders);
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
    const { url, body } = renderRpc(p.requestUrlExpression, p.value ?? p.valueExpression ?? "", { ...req, params: {} }, "restId");
    const method = (p.HTTPMethod ?? p.httpMethod ?? (req.method === "set" ? "POST" : "GET")).toUpperCase();
    return this.call(out, absoluteUrl(url), method, body, out.settings.headers);
  }

  private async call(out: Outgoing, url: string, method: string, bodyText: string, headers: Record<string, string>): Promise<RpcReply> {
    const encoded = downlinkBody(bodyText, headers);
    try {
      const r = await out.send(url, method, encoded.body, encoded.headers);
      if (!r.ok) return { result: { error: r.statusText || `HTTP ${r.status}`, code: r.status } };
      const json = r.json();
      return { result: json !== undefined ? json : r.text() };
    } catch (e) {
      if (e instanceof HttpCallError && e.kind === "timeout") return { result: { error: "Timeout", code: 408 } };
      return { result: { error: errorText(e), code: 500 } };
    }
  }
}
