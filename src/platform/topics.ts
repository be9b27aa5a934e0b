// Topic strings of the ThingsBoard gateway MQTT API (spec platform-api.md §2).

export const T = {
  connect: "v1/gateway/connect",
  disconnect: "v1/gateway/disconnect",
  telemetry: "v1/gateway/telemetry",
  attributes: "v1/gateway/attributes",
  attributesRequest: "v1/gateway/attributes/request",
  attributesResponse: "v1/gateway/attributes/response",
  rpc: "v1/gateway/rpc",
  claim: "v1/gateway/claim",
  meTelemetry: "v1/devices/me/telemetry",
  meAttributes: "v1/devices/me/attributes",
  meAttributesRequest: "v1/devices/me/attributes/request/",
  meAttributesResponse: "v1/devices/me/attributes/response/",
  meRpcRequest: "v1/devices/me/rpc/request/",
  meRpcResponse: "v1/devices/me/rpc/response/",
  provisionRequest: "/provision/request",
  provisionResponse: "/provision/response",
} as const;

/** Subscriptions made on every successful connect. */
export const SUBSCRIPTIONS = [
  T.attributes,
  T.attributesResponse,
  T.rpc,
  T.meAttributes,
  `${T.meAttributesResponse}+`,
  `${T.meRpcRequest}+`,
  `${T.meRpcResponse}+`,
];

/** Device name under which the gateway's own data travels (published on v1/devices/me/*). */
export const GATEWAY_SELF = "currentThingsBoardGateway";
