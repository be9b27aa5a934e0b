// Downlink rules of both HTTP connectors in one shape: a device filter, a key or method filter, URL
// and body templates and the outgoing request's settings. REST and Request name the fields
// differently (HTTPMethod/valueExpression vs httpMethod/requestValueExpression); each maps its
// config to this and shapes its own RPC replies from RpcOutcome.

import type { AttributeUpdate, RpcRequest } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import { HttpCallError } from "./client.ts";
import { absoluteUrl, downlinkBody, fullMatch, renderAttributeUpdate, renderRpc } from "./downlink.ts";
import { Outgoing } from "./outgoing.ts";
import type { CustomRender } from "./custom-downlink.ts";

export interface HttpRule {
  device: RegExp;
  /** Attribute key (updates) or RPC method (RPC), full match. */
  filter: RegExp;
  url: string;
  body: string;
  method: string;
  out: Outgoing;
  /** A custom downlink converter (custom-downlink.ts) renders URL and body instead of the templates. */
  render?: CustomRender;
}

export function httpRule(r: { deviceNameFilter: string; filter: string; url: string; body: string; method: string }, out: Outgoing): HttpRule {
  return { device: fullMatch(r.deviceNameFilter), filter: fullMatch(r.filter), url: r.url, body: r.body, method: r.method.toUpperCase(), out };
}

/** What came back from the device for an RPC. */
export type RpcOutcome =
  | { kind: "answer"; status: number; statusText: string; ok: boolean; json: unknown; text: string }
  | { kind: "timeout" }
  | { kind: "error"; message: string };

/**
 * Send every (key, rule) pair of an update that matches as one request; failures are logged.
 * `base`: Request's host for relative URLs; absent (REST) → `http://` is prepended.
 */
export async function sendAttributeUpdate(rules: HttpRule[], update: AttributeUpdate, base: string | undefined, log: Logger): Promise<void> {
  const sends: Promise<void>[] = [];
  for (const [key, value] of Object.entries(update.data)) {
    for (const rule of rules) {
      if (!rule.device.test(update.device) || !rule.filter.test(key)) continue;
      const send = async () => {
        const r = rule.render ? await rule.render({ device: update.device, data: { [key]: value } }) : renderAttributeUpdate(rule.url, rule.body, update.device, key, value);
        const url = absoluteUrl(r.url, base);
        const encoded = downlinkBody(r.body, rule.out.settings.headers);
        const res = await rule.out.send(url, rule.method, encoded.body, encoded.headers);
        if (res.ok) log.debug(`attribute ${key} of ${update.device} sent to ${url}: ${res.status}`);
        else log.error(`attribute ${key} of ${update.device}: ${rule.method} ${url} answered ${res.status} ${res.statusText}`);
      };
      sends.push(send().catch((e) => log.error(`attribute ${key} of ${update.device}: ${errorText(e)}`)));
    }
  }
  await Promise.all(sends);
}

export function findRpcRule(rules: HttpRule[], req: RpcRequest): HttpRule | undefined {
  return rules.find((r) => r.device.test(req.device ?? "") && r.filter.test(req.method));
}

/** Send an RPC as the rule says (`idName`: the id's placeholder name) and read the answer. */
export async function sendRpc(rule: HttpRule, req: RpcRequest, idName: string, base: string | undefined): Promise<RpcOutcome> {
  try {
    const r = rule.render ? await rule.render({ device: req.device, data: { id: req.id, method: req.method, params: req.params } }) : renderRpc(rule.url, rule.body, req, idName);
    const encoded = downlinkBody(r.body, rule.out.settings.headers);
    const res = await rule.out.send(absoluteUrl(r.url, base), rule.method, encoded.body, encoded.headers);
    return { kind: "answer", status: res.status, statusText: res.statusText || `HTTP ${res.status}`, ok: res.ok, json: res.json(), text: res.text() };
  } catch (e) {
    if (e instanceof HttpCallError && e.kind === "timeout") return { kind: "timeout" };
    return { kind: "error", message: errorText(e) };
  }
}
