// XMPP downlink as message bodies (pure; the connector sends them): shared attribute updates per
// `attributeUpdates`, RPC per `serverSideRpc`, and the reserved `set` RPC.

import { attributeText, fillPlaceholders, jsonText, parseReservedParams } from "../../common/expressions/index.ts";
import type { AttributeUpdate, RpcRequest } from "../../core/model.ts";
import type { XmppDeviceConfig } from "./schema.ts";

/**
 * One message per updated key that has a rule (the first rule naming the key). Upstream sends
 * only the first key's message of an update and drops the others; every key is sent here.
 */
export function attributeMessages(device: XmppDeviceConfig, update: AttributeUpdate): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(update.data)) {
    const rule = device.attributeUpdates.find((r) => r.attributeOnThingsBoard === key);
    if (rule) out.push(fillPlaceholders(rule.valueExpression, { attributeKey: key, attributeValue: value }, { encodeVar: attributeText }));
  }
  return out;
}

export type RpcPlan =
  | { kind: "send"; body: string; reply: unknown }
  | { kind: "answer"; reply: unknown }
  | { kind: "unhandled" };

export const SET_EMPTY_REPLY = { set: "RPC params are empty, expected format: set value={value};" };

/**
 * What an RPC becomes: a message and the reply to give once it is sent, an immediate answer, or
 * nothing (no rule). `withResponse: false` still answers success, since the core always answers
 * the platform (a two-way RPC would otherwise wait for its timeout).
 */
export function planRpc(device: XmppDeviceConfig, req: RpcRequest): RpcPlan {
  const rule = device.serverSideRpc.find((r) => r.methodRPC === req.method);
  if (rule) return { kind: "send", body: fillPlaceholders(rule.valueExpression, {}, { rpcData: { params: req.params }, encodeParams: jsonText }), reply: { success: true } };
  if (req.method === "set") {
    const text = typeof req.params === "string" ? req.params : "";
    const values = parseReservedParams(text);
    if (Object.keys(values).length === 0) return { kind: "answer", reply: SET_EMPTY_REPLY };
    return { kind: "send", body: JSON.stringify(values), reply: { result: { success: true } } };
  }
  return { kind: "unhandled" };
}
