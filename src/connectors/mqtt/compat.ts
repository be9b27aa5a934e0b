// Old → current configuration format (upstream backward_compatibility_adapter.py, spec §6).
// Applied per entry (only where `deviceInfo` is missing), so mixed files convert too.

import type { MqttConfig, MqttInput } from "./schema.ts";

type Obj = Record<string, unknown>;

/** Old device keys (`deviceName*Expression`) of a converter or request → `deviceInfo`. */
export function deviceInfoFromOld(o: Obj): Obj | undefined {
  const info: Obj = {};
  const pick = (jsonKey: string, topicKey: string, bytesKey: string | undefined, field: "deviceName" | "deviceProfile") => {
    if (typeof o[jsonKey] === "string") {
      info[`${field}ExpressionSource`] = "message";
      info[`${field}Expression`] = o[jsonKey];
    } else if (typeof o[topicKey] === "string") {
      info[`${field}ExpressionSource`] = "topic";
      info[`${field}Expression`] = o[topicKey];
    } else if (bytesKey && typeof o[bytesKey] === "string") {
      info[`${field}ExpressionSource`] = "message";
      info[`${field}Expression`] = o[bytesKey];
    }
  };
  pick("deviceNameJsonExpression", "deviceNameTopicExpression", "deviceNameExpression", "deviceName");
  pick("deviceTypeJsonExpression", "deviceTypeTopicExpression", "deviceTypeExpression", "deviceProfile");
  return Object.keys(info).length > 0 ? info : undefined;
}

const oldKeys = [
  "deviceNameJsonExpression",
  "deviceTypeJsonExpression",
  "deviceNameTopicExpression",
  "deviceTypeTopicExpression",
  "deviceNameExpression",
  "deviceTypeExpression",
];

function withDeviceInfo<T extends Obj>(o: T): T {
  if (o.deviceInfo) return o;
  const info = deviceInfoFromOld(o);
  const out: Obj = { ...o };
  for (const k of oldKeys) delete out[k];
  if (info) out.deviceInfo = info;
  return out as T;
}

/** True when a file is in the old format: the first mapping's converter has no deviceInfo. */
export function isOldFormat(raw: { mapping?: Array<{ converter?: Obj }>; dataMapping?: Array<{ converter?: Obj }> }): boolean {
  const first = (raw.mapping ?? raw.dataMapping)?.[0];
  return !!first && !first.converter?.deviceInfo;
}

export function toCurrentFormat(input: MqttInput): MqttConfig {
  const mapping = (input.mapping ?? input.dataMapping ?? []).map((m) => {
    let converter = withDeviceInfo(m.converter as Obj) as typeof m.converter;
    if (converter["extension-config"] && !converter.extensionConfig) {
      const { "extension-config": ext, ...rest } = converter;
      converter = { ...rest, extensionConfig: ext };
    }
    return { ...m, converter };
  });
  const rm = input.requestsMapping ?? {};
  const attributeRequests = (input.attributeRequests ?? rm.attributeRequests ?? []).map((r) => {
    const out = withDeviceInfo(r as Obj) as typeof r;
    if (!out.attributeNameExpressionSource) {
      if (out.attributeNameJsonExpression) {
        out.attributeNameExpressionSource = "message";
        out.attributeNameExpression = out.attributeNameJsonExpression;
      } else if (out.attributeNameTopicExpression) {
        out.attributeNameExpressionSource = "topic";
        out.attributeNameExpression = out.attributeNameTopicExpression;
      }
    }
    delete out.attributeNameJsonExpression;
    delete out.attributeNameTopicExpression;
    return out;
  });
  return {
    name: input.name ?? input.broker.name,
    id: input.id,
    logLevel: input.logLevel,
    broker: input.broker,
    mapping,
    requestsMapping: {
      connectRequests: (input.connectRequests ?? rm.connectRequests ?? []).map((r) => withDeviceInfo(r as Obj) as typeof r),
      disconnectRequests: (input.disconnectRequests ?? rm.disconnectRequests ?? []).map((r) => withDeviceInfo(r as Obj) as typeof r),
      attributeRequests,
      attributeUpdates: input.attributeUpdates ?? rm.attributeUpdates ?? [],
      serverSideRpc: input.serverSideRpc ?? rm.serverSideRpc ?? [],
    },
  };
}
