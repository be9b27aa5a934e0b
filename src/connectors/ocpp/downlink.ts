// Platform → charge point, as upstream plus OCPP actions:
// - attribute update: each `attributeUpdates` rule of the key sends DataTransfer(vendorId "1",
//   data = valueExpression with ${attributeKey}/${attributeValue});
// - RPC with a `serverSideRpc` rule: DataTransfer with valueExpression, ${params} as JSON; the reply is
//   the charge point's confirmation, or none with `withResponse: false`;
// - reserved RPC `set` with `value=…` (or {"value": …}): DataTransfer carrying the value;
// - RPC whose method is an OCPP 1.6 Central System action (Reset, RemoteStartTransaction,
//   ChangeConfiguration, …): that CALL with the params as payload, the CALLRESULT as the reply.

import { attributeText, fillPlaceholders, parseReservedParams } from "../../common/expressions/index.ts";
import { NO_REPLY, type RpcReply } from "../../core/model.ts";
import { CENTRAL_SYSTEM_ACTIONS } from "./actions.ts";
import type { ChargePointConfig } from "./schema.ts";

/** Upstream's DataTransfer vendor id for every downlink message. */
export const VENDOR_ID = "1";

export interface OutgoingCall {
  action: string;
  payload: Record<string, unknown>;
}

/** The DataTransfer CALLs an attribute update gives (one per matching rule and key). */
export function attributeCalls(cp: ChargePointConfig, data: Record<string, unknown>): OutgoingCall[] {
  const calls: OutgoingCall[] = [];
  for (const rule of cp.attributeUpdates) {
    if (!Object.hasOwn(data, rule.attributeOnThingsBoard)) continue;
    const key = rule.attributeOnThingsBoard;
    const text = fillPlaceholders(rule.valueExpression, { attributeKey: key, attributeValue: data[key] }, { encodeVar: attributeText });
    calls.push({ action: "DataTransfer", payload: { vendorId: VENDOR_ID, data: text } });
  }
  return calls;
}

/** How an RPC is carried out: one CALL, and whether its answer is the reply. */
export type RpcPlan = { call: OutgoingCall; reply: boolean } | { error: string } | undefined;

export function planRpc(cp: ChargePointConfig, method: string, params: unknown): RpcPlan {
  const rule = cp.serverSideRpc.find((r) => r.methodRPC === method);
  if (rule) {
    const data = fillPlaceholders(rule.valueExpression, {}, { rpcData: { params } });
    return { call: { action: "DataTransfer", payload: { vendorId: VENDOR_ID, data } }, reply: rule.withResponse };
  }
  if (method === "set") {
    const value =
      typeof params === "string" ? parseReservedParams(params).value : params && typeof params === "object" && !Array.isArray(params) ? (params as Record<string, unknown>).value : undefined;
    if (value === undefined || value === null) return { error: 'set: params must carry the value to send, "value=<data>" or {"value": <data>}' };
    return { call: { action: "DataTransfer", payload: { vendorId: VENDOR_ID, data: typeof value === "string" ? value : JSON.stringify(value) } }, reply: true };
  }
  if (CENTRAL_SYSTEM_ACTIONS.has(method)) {
    let payload = params ?? {};
    if (typeof payload === "string") {
      try {
        payload = payload.trim() === "" ? {} : JSON.parse(payload);
      } catch {
        return { error: `${method}: params must be the OCPP payload, a JSON object` };
      }
    }
    if (typeof payload !== "object" || Array.isArray(payload)) return { error: `${method}: params must be the OCPP payload, a JSON object` };
    return { call: { action: method, payload: payload as Record<string, unknown> }, reply: true };
  }
  return undefined;
}

/** The RPC reply for an answered CALL: the CALLRESULT payload as it came (or no reply). */
export const replyFor = (reply: boolean, payload: unknown): RpcReply => (reply ? { result: payload } : NO_REPLY);
