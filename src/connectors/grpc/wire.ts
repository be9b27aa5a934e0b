// The protocol's messages as @grpc/proto-loader hands them over with proto.ts's options: keepCase
// field names, enums as their names, int64 as decimal strings, and fields absent when they were not
// on the wire (so an empty but present sub-message shows as `{}`, and a proto3 zero value such as
// type BOOLEAN_V or status UNKNOWN shows as absent).

export type ResponseStatus = "UNKNOWN" | "SUCCESS" | "NOT_FOUND" | "FAILURE";
export type KeyValueType = "BOOLEAN_V" | "LONG_V" | "DOUBLE_V" | "STRING_V" | "JSON_V";

export interface KeyValueProto {
  key?: string;
  type?: KeyValueType | number;
  bool_v?: boolean;
  long_v?: string | number;
  double_v?: number;
  string_v?: string;
  json_v?: string;
}
export interface TsKvProto {
  ts?: string | number;
  kv?: KeyValueProto;
}
export interface TsKvListProto {
  ts?: string | number;
  kv?: KeyValueProto[];
}
export interface TelemetryMsg {
  deviceName?: string;
  msg?: { tsKvList?: TsKvListProto[] };
}
export interface AttributesMsg {
  deviceName?: string;
  msg?: { kv?: KeyValueProto[] };
}
export interface ClaimDeviceMsg {
  deviceName?: string;
  claimRequest?: { secretKey?: string; durationMs?: string | number };
}
export interface Response {
  status?: ResponseStatus | number;
  serviceMessage?: FromServiceMessage;
  connectorMessage?: FromConnectorMessage;
}

export interface FromConnectorMessage {
  response?: Response;
  gatewayTelemetryMsg?: { msg?: TelemetryMsg[] };
  gatewayAttributesMsg?: { msg?: AttributesMsg[] };
  gatewayClaimMsg?: { msg?: ClaimDeviceMsg[] };
  registerConnectorMsg?: { connectorKey?: string };
  unregisterConnectorMsg?: { connectorKey?: string };
  connectMsg?: { deviceName?: string; deviceType?: string };
  disconnectMsg?: { deviceName?: string };
  gatewayRpcResponseMsg?: { deviceName?: string; id?: number; data?: string };
  gatewayAttributeRequestMsg?: { id?: number; deviceName?: string; client?: boolean; keys?: string[] };
  connectorGetConnectedDevicesMsg?: { connectorKey?: string };
}

export interface FromServiceMessage {
  response?: Response;
  connectorConfigurationMsg?: { connectorName: string; configuration: string; connectorId: string };
  gatewayAttributeUpdateNotificationMsg?: { deviceName: string; notificationMsg: { sharedUpdated?: TsKvProto[]; sharedDeleted?: string[] } };
  gatewayAttributeResponseMsg?: {
    deviceName: string;
    responseMsg: { requestId: number; clientAttributeList?: KeyValueProto[]; sharedAttributeList?: KeyValueProto[]; error?: string };
  };
  gatewayDeviceRpcRequestMsg?: { deviceName: string; rpcRequestMsg: { requestId: number; methodName: string; params: string } };
  unregisterConnectorMsg?: { connectorKey?: string };
  connectorGetConnectedDevicesResponseMsg?: { connectorDevices?: Array<{ deviceName: string; deviceType: string }> };
}

/** The "nothing to deliver" reply: `response` present and empty (the two bytes 0a 00). */
export const NOTHING: FromServiceMessage = Object.freeze({ response: Object.freeze({}) }) as FromServiceMessage;
