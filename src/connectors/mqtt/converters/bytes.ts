// Bytes uplink converter (upstream BytesMqttUplinkConverter): the payload stays raw bytes; each
// value expression is a template of slices (`[0:4]`, `[4:]`, `[:]`) decoded as UTF-8 or rendered
// as hex (`hexMode`). Values are text unless a numeric/bool type is asked for. ts = receive time.

import { compileSlices, convertType, renderSlices, type Slices } from "../../../common/expressions/index.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../../core/model.ts";
import type { ConverterConfig } from "../schema.ts";
import { compileDeviceInfo, type DeviceResolvers } from "./device-info.ts";
import { deviceStrategyOf } from "./json.ts";
import type { UplinkConverter } from "./types.ts";

interface ByteKey {
  key: string;
  value: Slices;
  hex: boolean;
  type: string;
  strategy: ReportStrategyConfig | undefined;
}

function compile(list: ConverterConfig["attributes"]): ByteKey[] {
  if (!Array.isArray(list)) return [];
  const out: ByteKey[] = [];
  for (const k of list) {
    if (k === "*") continue;
    out.push({
      key: k.key,
      value: compileSlices(k.value),
      hex: k.hexMode === true,
      type: k.type.toLowerCase(),
      strategy: k.reportStrategy as ReportStrategyConfig | undefined,
    });
  }
  return out;
}

export class BytesUplinkConverter implements UplinkConverter {
  private readonly device: DeviceResolvers;
  private readonly attrs: ByteKey[];
  private readonly series: ByteKey[];
  private readonly deviceStrategy: ReportStrategyConfig | undefined;

  constructor(config: ConverterConfig, where: string) {
    this.device = compileDeviceInfo(config.deviceInfo, true, where);
    this.attrs = compile(config.attributes);
    this.series = compile(config.timeseries);
    this.deviceStrategy = deviceStrategyOf(config);
  }

  convert(topic: string, payload: Buffer, receivedTs: number): ConvertedData[] | string {
    const deviceName = this.device.name(topic, payload);
    if (!deviceName) return `device name not found (${this.device.nameExpression})`;
    const out: ConvertedData = { deviceName, deviceType: this.device.profile?.(topic, payload) || "default" };
    let keyStrategies: Record<string, ReportStrategyConfig> | undefined;
    const fill = (keys: ByteKey[]): Record<string, unknown> | undefined => {
      if (keys.length === 0) return undefined;
      const values: Record<string, unknown> = {};
      for (const k of keys) {
        const text = renderSlices(k.value, payload, k.hex);
        values[k.key] = k.type === "raw" || k.type === "string" ? text : convertType(text, k.type);
        if (k.strategy) (keyStrategies ??= {})[k.key] = k.strategy;
      }
      return values;
    };
    const attributes = fill(this.attrs);
    const values = fill(this.series);
    if (attributes) out.attributes = attributes;
    if (values) out.telemetry = [{ ts: receivedTs, values }];
    if (!attributes && !values) return "no keys configured";
    if (keyStrategies) out.keyStrategies = keyStrategies;
    if (this.deviceStrategy) out.deviceStrategy = this.deviceStrategy;
    return [out];
  }
}
