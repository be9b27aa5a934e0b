// Uplink converters of the REST connector: the built-in JSON converter (the key mapping shared with
// MQTT and Request, src/common/converters/json-mapping.ts, under REST's expression policy) and
// custom converter classes from <config folder>/extensions/rest/.

import { NONE_SKIPS } from "../../common/expressions/index.ts";
import { compileKeys, compileNameTemplate, convertItems, JsonMapping } from "../../common/converters/json-mapping.ts";
import { converterConstructorConfig, ConverterConfigError, extensionsDir, findConverterClass, normalizeConverted } from "../../common/converters/custom.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import type { Logger } from "../../observe/logger.ts";
import type { RestConverterConfig, RestMapping } from "./schema.ts";

/** One request as the converters see it. */
export interface RestRequestData {
  /** Path parameters, then body fields, then query parameters (the query wins), per body element. */
  items: Array<Record<string, unknown>>;
  /** The body as received. */
  raw: Buffer;
  method: string;
  path: string;
  headers: Record<string, string>;
}

export interface RestUplinkConverter {
  convert(data: RestRequestData): ConvertedData[] | string | Promise<ConvertedData[] | string>;
}

type Field = (item: unknown) => string | undefined;

function field(source: string | undefined, expression: string | undefined): Field | undefined {
  if (expression === undefined || expression === "") return undefined;
  if (source === "constant" || !expression.includes("${")) return () => expression;
  return compileNameTemplate(expression);
}

export class RestJsonConverter implements RestUplinkConverter {
  private readonly name: Field;
  private readonly nameExpression: string;
  private readonly profile: Field | undefined;
  private readonly mapping: JsonMapping;

  constructor(c: RestConverterConfig, reportStrategy: unknown) {
    const info = c.deviceInfo!;
    this.nameExpression = info.deviceNameExpression;
    this.name = field(info.deviceNameExpressionSource, info.deviceNameExpression)!;
    this.profile = field(info.deviceProfileExpressionSource, info.deviceProfileExpression);
    this.mapping = new JsonMapping(compileKeys(c.attributes), compileKeys(c.timeseries), {
      policy: NONE_SKIPS,
      deviceStrategy: reportStrategy as ReportStrategyConfig | undefined,
    });
  }

  convert(data: RestRequestData): ConvertedData[] | string {
    const now = Date.now();
    const items = data.items;
    // one element (the usual request): no per-request closure for convertItems
    if (items.length === 1) {
      const d = this.one(items[0]!, now);
      return typeof d === "string" ? d : [d];
    }
    return convertItems(items, (item) => this.one(item, now));
  }

  private one(item: unknown, now: number): ConvertedData | string {
    const deviceName = this.name(item);
    if (!deviceName) return `device name not found (${this.nameExpression})`;
    return this.mapping.fill({ deviceName, deviceType: this.profile?.(item) || "default" }, item, "", now);
  }
}

type CustomClass = new (config: unknown, log: Logger) => { convert(config: unknown, data: unknown, request?: RestRequestData): unknown };

/**
 * A custom converter is built with `(config, logger)` (the mapping entry with the converter section's
 * keys over it, src/common/converters/custom.ts); `convert(config, data, request)`
 * gets the converter config, the request data (one object, or the list for an array body) and the
 * whole request (raw body bytes, path, headers) for byte-level converters.
 */
export async function loadRestCustomConverter(m: RestMapping, configDir: string, log: Logger): Promise<RestUplinkConverter> {
  const c = m.converter;
  const extension = c.extension!;
  const Cls = await findConverterClass<CustomClass>(extension, extensionsDir(configDir, "rest"));
  const config = converterConstructorConfig(m as unknown as Record<string, unknown>, c as Record<string, unknown>);
  const instance = new Cls(config, log.child(extension));
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom converter ${extension} has no convert(config, data) method`);
  return {
    convert(data) {
      const r = instance.convert(config, data.items.length === 1 ? data.items[0] : data.items, data);
      return r instanceof Promise ? r.then(normalizeConverted) : normalizeConverted(r);
    },
  };
}

export async function createRestConverter(m: RestMapping, configDir: string, log: Logger): Promise<RestUplinkConverter> {
  const c = m.converter;
  if (c.extension || c.type === "custom") {
    if (!c.extension) throw new ConverterConfigError(`converter type custom needs "extension" (a class name or module file)`);
    return loadRestCustomConverter(m, configDir, log);
  }
  return new RestJsonConverter(c, m.reportStrategy);
}
