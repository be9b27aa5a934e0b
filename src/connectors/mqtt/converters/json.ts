// JSON uplink converter (upstream JsonMqttUplinkConverter). Config is compiled once; each message
// is parsed and walked synchronously with no per-message closures. An array payload is converted
// item by item and merged per device. The key mapping itself is shared with the HTTP connectors
// (src/common/converters/json-mapping.ts); what is MQTT's own is the topic as a key source and
// `useEval`: a value's rendered text evaluated as a Python expression (the safe evaluator,
// src/common/expressions/python) before its type conversion.

import { NONE_SKIPS } from "../../../common/expressions/index.ts";
import { compileKeys, convertItems, JsonMapping } from "../../../common/converters/json-mapping.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../../core/model.ts";
import type { ConverterConfig, KeyConfig } from "../schema.ts";
import { pythonRegex, valueFromTopic } from "../topic.ts";
import { compileDeviceInfo, type DeviceResolvers } from "./device-info.ts";
import { ConverterConfigError, type UplinkConverter } from "./types.ts";
import { errorText } from "../../../observe/logger.ts";

export function deviceStrategyOf(c: ConverterConfig): ReportStrategyConfig | undefined {
  if (c.reportStrategy) return c.reportStrategy as ReportStrategyConfig;
  return c.sendDataOnlyOnChange ? { type: "ON_CHANGE" } : undefined;
}

/** `keySource: "topic"`: the key is a regex on the topic. */
function topicKey(where: string) {
  return (k: KeyConfig, i: number) => {
    if (k.keySource !== "topic") return undefined;
    let re: RegExp;
    try {
      re = pythonRegex(k.key);
    } catch (e) {
      throw new ConverterConfigError(`${where}[${i}].key: invalid topic regex (${errorText(e)})`);
    }
    return (topic: string) => valueFromTopic(re, topic);
  };
}

export class JsonUplinkConverter implements UplinkConverter {
  private readonly device: DeviceResolvers;
  private readonly mapping: JsonMapping;

  constructor(config: ConverterConfig, where: string) {
    this.device = compileDeviceInfo(config.deviceInfo, false, where);
    const useEval = config.useEval === true;
    this.mapping = new JsonMapping(compileKeys(config.attributes, topicKey(`${where}.attributes`), useEval), compileKeys(config.timeseries, topicKey(`${where}.timeseries`), useEval), {
      policy: NONE_SKIPS,
      useReceivedTs: config.useReceivedTs === true,
      deviceStrategy: deviceStrategyOf(config),
    });
  }

  convert(topic: string, payload: Buffer, receivedTs: number): ConvertedData[] | string {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      return "payload is not valid JSON";
    }
    return convertItems(Array.isArray(body) ? body : [body], (item) => this.convertItem(topic, item, receivedTs));
  }

  /** One JSON object (or array item) → data for one device, or the reason it is dropped. */
  convertItem(topic: string, item: unknown, receivedTs: number): ConvertedData | string {
    const deviceName = this.device.name(topic, item);
    if (deviceName === undefined || deviceName === "") return `device name not found (${this.device.nameExpression})`;
    const deviceType = this.device.profile?.(topic, item) || "default";
    return this.mapping.fill({ deviceName, deviceType }, item, topic, receivedTs);
  }
}
