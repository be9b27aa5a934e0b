// OCPP-J 1.6 frames (OCPP-J 1.6 §4): every WebSocket text message is a JSON array
//   CALL        [2, "<uniqueId>", "<Action>", {payload}]
//   CALLRESULT  [3, "<uniqueId>", {payload}]
//   CALLERROR   [4, "<uniqueId>", "<errorCode>", "<errorDescription>", {errorDetails}]
// Parsing never throws: anything else is a FrameError naming the OCPP 1.6 error code to answer
// with, so a bad frame costs one CALLERROR, never the session.

export const MSG_CALL = 2;
export const MSG_CALLRESULT = 3;
export const MSG_CALLERROR = 4;

/** The error codes OCPP-J 1.6 defines (§4.2.3); 2.0.1's RpcFrameworkError is not one of them. */
export type OcppErrorCode =
  | "NotImplemented"
  | "NotSupported"
  | "InternalError"
  | "ProtocolError"
  | "SecurityError"
  | "FormationViolation"
  | "PropertyConstraintViolation"
  | "OccurenceConstraintViolation"
  | "TypeConstraintViolation"
  | "GenericError";

export type Frame =
  | { type: typeof MSG_CALL; id: string; action: string; payload: Record<string, unknown> }
  | { type: typeof MSG_CALLRESULT; id: string; payload: unknown }
  | { type: typeof MSG_CALLERROR; id: string; code: string; description: string; details: unknown };

/** A frame that cannot be read; `id` is the frame's unique id when it had one ("-1" otherwise). */
export interface FrameError {
  error: OcppErrorCode;
  id: string;
  description: string;
  /** Only CALLs (and what cannot be told apart from one) are answered; a bad CALLRESULT/CALLERROR is not. */
  answer: boolean;
}

/** Upstream libraries use "-1" when the unique id cannot be read. */
export const UNKNOWN_ID = "-1";
/** OCPP-J: a unique id is at most 36 characters. */
const MAX_ID_LENGTH = 36;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export function parseFrame(text: string): Frame | FrameError {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { error: "FormationViolation", id: UNKNOWN_ID, description: "not JSON: an OCPP-J message is a JSON array", answer: true };
  }
  if (!Array.isArray(msg)) return { error: "FormationViolation", id: UNKNOWN_ID, description: "an OCPP-J message is a JSON array", answer: true };
  const [type, id] = msg;
  const idText = typeof id === "string" && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : undefined;
  const bad = (description: string, answer = true): FrameError => ({ error: "FormationViolation", id: idText ?? UNKNOWN_ID, description, answer });
  if (type !== MSG_CALL && type !== MSG_CALLRESULT && type !== MSG_CALLERROR) return bad("the first element is the message type: 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)");
  if (idText === undefined) return bad(`the second element is the unique id: a string of 1 to ${MAX_ID_LENGTH} characters`, type === MSG_CALL);
  if (type === MSG_CALL) {
    if (msg.length !== 4) return bad("a CALL is [2, uniqueId, action, payload]");
    if (typeof msg[2] !== "string" || msg[2] === "") return bad("the third element of a CALL is the action name");
    if (!isObject(msg[3])) return bad("the payload of a CALL is a JSON object");
    return { type, id: idText, action: msg[2], payload: msg[3] };
  }
  if (type === MSG_CALLRESULT) {
    if (msg.length !== 3 || !isObject(msg[2])) return bad("a CALLRESULT is [3, uniqueId, payload object]", false);
    return { type, id: idText, payload: msg[2] };
  }
  if (msg.length < 4 || typeof msg[2] !== "string" || typeof msg[3] !== "string") return bad("a CALLERROR is [4, uniqueId, errorCode, errorDescription, errorDetails]", false);
  return { type, id: idText, code: msg[2], description: msg[3], details: msg[4] ?? {} };
}

export const isFrameError = (f: Frame | FrameError): f is FrameError => "error" in f;

export const callText = (id: string, action: string, payload: unknown): string => JSON.stringify([MSG_CALL, id, action, payload]);
export const resultText = (id: string, payload: unknown): string => JSON.stringify([MSG_CALLRESULT, id, payload]);
export const errorFrameText = (id: string, code: OcppErrorCode, description: string, details: unknown = {}): string =>
  JSON.stringify([MSG_CALLERROR, id, code, description, details]);
