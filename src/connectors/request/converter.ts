// Uplink converters of the Request connector: the built-in JSON converter (the key mapping shared
// with MQTT and REST, under Request's policy: a pure placeholder keeps its JSON type, a missing one
// drops the key, missing parts of a text become `null`) and custom classes from
// <config folder>/extensions/request/.

import { compileTemplate, EXPRESSION_INSTEAD_OF_NONE, NULL_IN_TEXT, renderTemplate } from "../../common/expressions/index.ts";
import { compileKeys, compileNameTemplate, convertItems, JsonMapping } from "../../common/converters/json-mapping.ts";
import { converterConstructorConfig, ConverterConfigError, extensionsDir, findConverterClass, normalizeConverted } from "../../common/converters/custom.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import type { Logger } from "../../observe/logger.ts";
import type { PollMapping, RequestConverterConfig } from "./schema.ts";

export interface RequestUplinkConverter {
  /** `body`: the parsed JSON answer, or the raw bytes when it is not JSON. */
  convert(body: unknown, receivedTs: number): ConvertedData[] | string | Promise<ConvertedData[] | string>;
}

export class RequestJsonConverter implements RequestUplinkConverter {
  private readonly name: (item: unknown) => string | undefined;
  private readonly type: (item: unknown) => string;
  private readonly mapping: JsonMapping;

  constructor(
    private readonly c: RequestConverterConfig,
    reportStrategy: unknown,
    private readonly unpack: string,
  ) {
    const n = c.deviceNameJsonExpression;
    this.name = n.includes("${") ? compileNameTemplate(n) : () => n;
    const t = compileTemplate(c.deviceTypeJsonExpression ?? "default");
    this.type = (item) => String(renderTemplate(t, item, EXPRESSION_INSTEAD_OF_NONE));
    this.mapping = new JsonMapping(compileKeys(c.attributes), compileKeys(c.telemetry), {
      policy: NULL_IN_TEXT,
      deviceStrategy: reportStrategy as ReportStrategyConfig | undefined,
    });
  }

  convert(body: unknown, receivedTs: number): ConvertedData[] | string {
    if (body instanceof Uint8Array) return "the answer is not JSON (a custom converter can read raw answers)";
    let data = body;
    if (this.unpack) {
      const r = renderTemplate(compileTemplate(this.unpack), body, { typedPure: true, skipIfAllMissing: true });
      if (typeof r === "symbol") return `dataUnpackExpression ${this.unpack} found nothing`;
      data = r;
    }
    // list answers: one device per element; elements without a ts are stamped with the poll time
    const items = Array.isArray(data) ? data.map((x) => (x !== null && typeof x === "object" && !Array.isArray(x) && !("ts" in x) ? { ...x, ts: receivedTs } : x)) : [data];
    return convertItems(items, (item) => {
      const deviceName = this.name(item);
      if (!deviceName) return `device name not found (${this.c.deviceNameJsonExpression})`;
      return this.mapping.fill({ deviceName, deviceType: this.type(item) || "default" }, item, "", receivedTs);
    });
  }
}

type CustomClass = new (config: unknown, log: Logger) => { convert(config: unknown, data: unknown): unknown };

/**
 * A custom converter: built with `(config, logger)`, config being the mapping entry with the
 * converter section's keys over it; `convert(config, data)` gets the JSON answer, or for an answer
 * that is not JSON its bytes (as upstream, which passes `response.content` then).
 */
export async function createRequestConverter(m: PollMapping, configDir: string, log: Logger): Promise<RequestUplinkConverter> {
  const c = m.converter;
  if (c.type !== "custom" && !c.extension) return new RequestJsonConverter(c, m.reportStrategy, m.dataUnpackExpression);
  if (!c.extension) throw new ConverterConfigError(`converter type custom needs "extension" (a class name or module file)`);
  const Cls = await findConverterClass<CustomClass>(c.extension, extensionsDir(configDir, "request"));
  const config = converterConstructorConfig(m as unknown as Record<string, unknown>, c as Record<string, unknown>);
  const instance = new Cls(config, log.child(c.extension));
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom converter ${c.extension} has no convert(config, data) method`);
  return {
    convert(body) {
      const r = instance.convert(config, body);
      return r instanceof Promise ? r.then(normalizeConverted) : normalizeConverted(r);
    },
  };
}
