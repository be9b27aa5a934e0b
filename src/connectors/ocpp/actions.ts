// What OCPP 1.6 says about each action: which a charge point may send (and the fields the
// Central System needs from them), what the Central System answers, and which actions it may send
// (an RPC with one of those names becomes that CALL). Payload checks cover required fields and
// their JSON types only: enough to answer a broken CALL with the right CALLERROR instead of
// converting garbage; the charge point's own values are not second-guessed.

import type { OcppErrorCode } from "./frames.ts";

type FieldType = "string" | "integer" | "number" | "array" | "object";

/** Required fields of each action a charge point sends (OCPP 1.6 §6), by their JSON names. */
const REQUIRED: Record<string, Record<string, FieldType>> = {
  Authorize: { idTag: "string" },
  BootNotification: { chargePointVendor: "string", chargePointModel: "string" },
  DataTransfer: { vendorId: "string" },
  DiagnosticsStatusNotification: { status: "string" },
  FirmwareStatusNotification: { status: "string" },
  Heartbeat: {},
  MeterValues: { connectorId: "integer", meterValue: "array" },
  StartTransaction: { connectorId: "integer", idTag: "string", meterStart: "integer", timestamp: "string" },
  StatusNotification: { connectorId: "integer", errorCode: "string", status: "string" },
  StopTransaction: { meterStop: "integer", timestamp: "string", transactionId: "integer" },
};

/** Actions a charge point may send: the names `messageTypeFilter` may list. */
export const CHARGE_POINT_ACTIONS = Object.keys(REQUIRED);

/** Actions the Central System may send (OCPP 1.6 §5); an RPC method with one of these names is sent as that CALL. */
export const CENTRAL_SYSTEM_ACTIONS = new Set([
  "CancelReservation",
  "ChangeAvailability",
  "ChangeConfiguration",
  "ClearCache",
  "ClearChargingProfile",
  "DataTransfer",
  "GetCompositeSchedule",
  "GetConfiguration",
  "GetDiagnostics",
  "GetLocalListVersion",
  "RemoteStartTransaction",
  "RemoteStopTransaction",
  "ReserveNow",
  "Reset",
  "SendLocalList",
  "SetChargingProfile",
  "TriggerMessage",
  "UnlockConnector",
  "UpdateFirmware",
]);

const typeOk = (v: unknown, t: FieldType): boolean =>
  t === "integer" ? Number.isInteger(v) : t === "array" ? Array.isArray(v) : t === "object" ? v !== null && typeof v === "object" && !Array.isArray(v) : typeof v === t;

/** Why a CALL cannot be answered normally, as OCPP 1.6 names it; undefined when it can. */
export function checkCall(action: string, payload: Record<string, unknown>): { code: OcppErrorCode; description: string } | undefined {
  const fields = REQUIRED[action];
  if (!fields) return { code: "NotImplemented", description: `${action} is not an action a charge point sends in OCPP 1.6` };
  for (const [name, type] of Object.entries(fields)) {
    if (!(name in payload)) return { code: "OccurenceConstraintViolation", description: `${action}: required field "${name}" is missing` };
    if (!typeOk(payload[name], type)) return { code: "TypeConstraintViolation", description: `${action}: field "${name}" must be ${type === "integer" ? "an integer" : `a${type === "array" || type === "object" ? "n" : ""} ${type}`}` };
  }
  return undefined;
}

/** UTC time as OCPP writes it: `2026-12-07T02:30:01Z`. */
export const ocppTime = (ms = Date.now()): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Transaction ids: unique per gateway run and, being seeded from the clock, across restarts (one new id per second on average at most). */
export class TransactionIds {
  private last = 0;
  next(): number {
    const fromClock = Math.floor(Date.now() / 1000) - 1_700_000_000;
    this.last = Math.max(this.last + 1, fromClock);
    return this.last;
  }
}

const ACCEPTED = { status: "Accepted" } as const;

/** The answer to a checked CALL. Every connected charge point is authorized (upstream), so id tags are accepted. */
export function answerFor(action: string, payload: Record<string, unknown>, opts: { heartbeatInterval: number; transactionIds: TransactionIds }): Record<string, unknown> {
  switch (action) {
    case "BootNotification":
      return { currentTime: ocppTime(), interval: opts.heartbeatInterval, status: "Accepted" };
    case "Heartbeat":
      return { currentTime: ocppTime() };
    case "Authorize":
      return { idTagInfo: ACCEPTED };
    case "DataTransfer":
      return ACCEPTED;
    case "StartTransaction":
      return { transactionId: opts.transactionIds.next(), idTagInfo: ACCEPTED };
    case "StopTransaction":
      return payload.idTag !== undefined ? { idTagInfo: ACCEPTED } : {};
    default:
      // MeterValues, StatusNotification, DiagnosticsStatusNotification, FirmwareStatusNotification: empty confirmations
      return {};
  }
}
