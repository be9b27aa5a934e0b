// A user's uplink converter class for OPC-UA devices (upstream's `mapping[].converter`), from
// `<config folder>/extensions/opcua/`. Upstream builds it per discovered device with the mapping
// entry plus the device's name and type, and calls `convert(configs, values)` with one config per
// node read or notified (key, section, timestampLocation, ...) and the node's DataValue at the same
// index. Here the same, in camelCase, with the DataValue as a plain object the class can read
// without node-opcua (see README.md "Custom uplink converter").

import { DataType, VariantArrayType, type DataValue, type StatusCode } from "node-opcua-client";
import type { ConvertedData } from "../../core/model.ts";
import type { Device, DeviceKey } from "./devices.ts";
import type { OpcuaMapping } from "./schema.ts";
import { scalarToJson } from "./values.ts";

/** Upstream's own class name: the built-in conversion. */
export const BUILT_IN_CONVERTER = "OpcUaUplinkConverter";

/** The user's class named by a mapping, or undefined when it names the built-in one (or none). */
export function customConverterName(m: OpcuaMapping): string | undefined {
  const name = m.converter?.trim();
  return name && name !== BUILT_IN_CONVERTER ? name : undefined;
}

/** What the class is built with: the mapping entry plus the device's name and type (upstream: device_name, device_type). */
export function converterConfig(device: Device): Record<string, unknown> {
  return { ...device.mapping, deviceName: device.name, deviceType: device.type };
}

/** One node's config as upstream passes it (`node` there is the asyncua Node; here its node id text). */
export interface NodeConfig {
  nodeId: string;
  key: string;
  section: "attributes" | "timeseries";
  timestampLocation: string;
  reportStrategy?: unknown;
}

export function nodeConfig(key: DeviceKey): NodeConfig {
  return {
    nodeId: key.nodeId?.toString() ?? key.refText,
    key: key.key,
    section: key.section === "attributes" ? "attributes" : "timeseries",
    timestampLocation: key.tsLocation,
    ...(key.strategy ? { reportStrategy: key.strategy } : {}),
  };
}

/** A DataValue as the class gets it: node-opcua's field names, type names as text, plain JS values. */
export interface PlainDataValue {
  value: { dataType: string; arrayType: string; value: unknown };
  /** node-opcua's StatusCode: `name`, `value`, `description`, `isGood()`, `isNotGood()`. */
  statusCode: StatusCode;
  sourceTimestamp: Date | null;
  serverTimestamp: Date | null;
}

/**
 * Int64/UInt64 as exact integers (a number within 2^53, else a bigint) instead of node-opcua's
 * [high, low] pairs; typed arrays as plain arrays; everything else as node-opcua decodes it (Date,
 * Buffer, LocalizedText {text, locale}, NodeId and QualifiedName objects with toString()).
 */
export function plainDataValue(dv: DataValue): PlainDataValue {
  const v = dv.value;
  const dataType = v?.dataType ?? DataType.Null;
  const one = (x: unknown) => (dataType === DataType.Int64 || dataType === DataType.UInt64 ? scalarToJson(dataType, x) : x);
  const arrayType = v?.arrayType ?? VariantArrayType.Scalar;
  let value: unknown = v?.value ?? null;
  if (arrayType !== VariantArrayType.Scalar && value) value = Array.from(value as ArrayLike<unknown>, one);
  else value = one(value);
  return {
    value: { dataType: DataType[dataType] ?? String(dataType), arrayType: VariantArrayType[arrayType] ?? String(arrayType), value },
    statusCode: dv.statusCode,
    sourceTimestamp: dv.sourceTimestamp ?? null,
    serverTimestamp: dv.serverTimestamp ?? null,
  };
}

/** The mapping's report strategy on results that carry none, as the built-in conversion does. */
export function withDeviceStrategy(data: ConvertedData[], m: OpcuaMapping): ConvertedData[] {
  if (!m.reportStrategy) return data;
  return data.map((d) => (d.deviceStrategy ? d : { ...d, deviceStrategy: m.reportStrategy as ConvertedData["deviceStrategy"] }));
}
