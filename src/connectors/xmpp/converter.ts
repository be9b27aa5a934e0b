// Uplink converter of the XMPP connector (upstream's XmppUplinkConverter): a chat message body is
// read as JSON first (`${...}` templates, the key mapping shared with MQTT/REST/Request under the
// same "missing is None, None is skipped" policy), else as text (Python slices `[a:b]` / `[i]`).
// Unlike upstream, a pure placeholder keeps the JSON type (numbers stay numbers) and a `type`
// hint converts; upstream turns every JSON value into text.

import { NONE_SKIPS, convertType } from "../../common/expressions/index.ts";
import { compileKeys, compileNameTemplate, convertItems, JsonMapping } from "../../common/converters/json-mapping.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import type { XmppDeviceConfig, XmppKeyConfig } from "./schema.ts";

/** First `[i]` / `[from:to]` of an expression, as upstream finds it; undefined: the expression is a literal. */
const SLICE = /\[\S[\d:]*\]/;

/**
 * A text-body field: the first slice of the expression over the body (the text around it is not
 * kept, as upstream), or the expression itself when it has none. Python semantics over code points.
 */
export function textField(expression: string): (body: string[]) => string {
  const m = SLICE.exec(expression);
  if (!m) return () => expression;
  const parts = m[0].slice(1, -1).split(":");
  const int = (s: string | undefined) => (s === undefined || s === "" ? undefined : Number(s));
  if (parts.length === 1) {
    const i = int(parts[0]);
    if (i === undefined || !Number.isInteger(i)) return () => "";
    return (body) => body.at(i) ?? "";
  }
  const from = int(parts[0]);
  const to = int(parts[1]);
  if ((from !== undefined && !Number.isInteger(from)) || (to !== undefined && !Number.isInteger(to))) return () => "";
  return (body) => body.slice(from ?? 0, to ?? body.length).join("");
}

interface TextKey {
  key: (body: string[]) => string;
  value: (body: string[]) => string;
  type: string | undefined;
  strategy: ReportStrategyConfig | undefined;
}

const textKeys = (list: XmppKeyConfig[]): TextKey[] =>
  list.map((k) => ({ key: textField(k.key), value: textField(k.value), type: k.type, strategy: k.reportStrategy as ReportStrategyConfig | undefined }));

export class XmppUplinkConverter {
  private readonly jsonName: (item: unknown) => string | undefined;
  private readonly jsonType: (item: unknown) => string | undefined;
  private readonly mapping: JsonMapping;
  private readonly textName: (body: string[]) => string;
  private readonly textType: (body: string[]) => string;
  private readonly textAttrs: TextKey[];
  private readonly textSeries: TextKey[];
  private readonly strategy: ReportStrategyConfig | undefined;

  constructor(private readonly config: XmppDeviceConfig) {
    this.strategy = config.reportStrategy as ReportStrategyConfig | undefined;
    this.jsonName = literalOr(config.deviceNameExpression);
    this.jsonType = literalOr(config.deviceTypeExpression);
    this.mapping = new JsonMapping(compileKeys(config.attributes), compileKeys(config.timeseries), { policy: NONE_SKIPS, deviceStrategy: this.strategy });
    this.textName = textField(config.deviceNameExpression);
    this.textType = textField(config.deviceTypeExpression);
    this.textAttrs = textKeys(config.attributes);
    this.textSeries = textKeys(config.timeseries);
  }

  /** One message body → data, or the reason it gives none. */
  convert(body: string, receivedTs = Date.now()): ConvertedData[] | string {
    const json = parseJsonContainer(body);
    if (json !== undefined) return this.convertJson(json, receivedTs);
    return this.convertText(body, receivedTs);
  }

  private convertJson(json: object, receivedTs: number): ConvertedData[] | string {
    const items = Array.isArray(json) ? json : [json];
    return convertItems(items, (item) => {
      const deviceName = this.jsonName(item);
      if (!deviceName) return `JSON body: device name not found (${this.config.deviceNameExpression})`;
      return this.mapping.fill({ deviceName, deviceType: this.jsonType(item) || "default" }, item, "", receivedTs);
    });
  }

  private convertText(text: string, receivedTs: number): ConvertedData[] | string {
    const body = Array.from(text);
    const deviceName = this.textName(body);
    const deviceType = this.textType(body);
    if (!deviceName || !deviceType) return `text body: device ${deviceName ? "type" : "name"} is empty (${deviceName ? this.config.deviceTypeExpression : this.config.deviceNameExpression})`;
    const out: ConvertedData = { deviceName, deviceType };
    const keyStrategies: Record<string, ReportStrategyConfig> = {};
    const fill = (keys: TextKey[]) => {
      const values: Record<string, unknown> = {};
      for (const k of keys) {
        const key = k.key(body);
        const value = k.value(body);
        if (!key || !value) continue;
        values[key] = convertType(value, k.type);
        if (k.strategy) keyStrategies[key] = k.strategy;
      }
      return Object.keys(values).length > 0 ? values : undefined;
    };
    const attributes = fill(this.textAttrs);
    const values = fill(this.textSeries);
    if (!attributes && !values) return "text body: none of the configured keys has a non-empty key and value";
    if (attributes) out.attributes = attributes;
    if (values) out.telemetry = [{ ts: receivedTs, values }];
    if (Object.keys(keyStrategies).length > 0) out.keyStrategies = keyStrategies;
    if (this.strategy) out.deviceStrategy = this.strategy;
    return [out];
  }
}

/** A name/type expression over a JSON item: literal text as is, else the template (undefined when not found). */
function literalOr(expression: string): (item: unknown) => string | undefined {
  return expression.includes("${") ? compileNameTemplate(expression) : () => expression;
}

/** The body as a JSON object or array; anything else (text, a bare number or string) is a text body. */
function parseJsonContainer(body: string): object | undefined {
  const t = body.trimStart();
  if (!t.startsWith("{") && !t.startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === "object" ? v : undefined;
  } catch {
    return undefined;
  }
}
