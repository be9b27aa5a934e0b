// Custom converter classes for every connector: a JS/TS module in `<config folder>/extensions/<type>/`,
// found by the one extensions loader (src/common/extensions/loader.ts). `extension` is either a
// module file (`my_converter.ts`) or, as in upstream configs, a class name.
//
// Two shapes of converter work side by side:
// - upstream's (a port of a Python converter): built with the whole mapping entry (so it reads
//   `config.converter...`), and, where upstream decodes (MQTT), handed the payload already decoded:
//   a JSON value when it parses, else text; the raw bytes only when the class declares
//   `SUPPORTS_BYTES_PAYLOAD = true` (payloadChooser). Request passes a non-JSON answer's bytes, as
//   upstream does; REST passes the parsed body and the raw request;
// - tb-gw's earlier one: built with the converter section (`config.extensionConfig` at the top) and
//   handed the raw bytes. Both read the same object: the mapping entry with the converter section's
//   keys spread over it. A converter that declares nothing and fails with a TypeError on the decoded
//   payload is tried once with the bytes (its earlier shape); when that works it keeps the bytes.
// What a converter returns is read by normalizeConverted(): ConvertedData, a list of them, or
// upstream's legacy dict shapes.

import type { ConvertedData } from "../../core/model.ts";
import { ExtensionError, extensionsDir, findExtensionClass } from "../extensions/loader.ts";

export { extensionsDir };

/** A config problem found while building a converter (the mapping is skipped with this text). */
export class ConverterConfigError extends Error {}

/** The class a config's `extension` names, from a module file or the extensions folder `dir`. */
export async function findConverterClass<C>(extension: string, dir: string): Promise<C> {
  try {
    return (await findExtensionClass<C>(extension, dir, "custom converter")).cls;
  } catch (e) {
    if (e instanceof ExtensionError) throw new ConverterConfigError(e.message);
    throw e;
  }
}

/**
 * What a custom converter is built with: the mapping entry (upstream: `config.converter...`) with
 * the converter section's keys over it (tb-gw's earlier `config.extensionConfig`).
 */
export function converterConstructorConfig(entry: Record<string, unknown> | undefined, section: Record<string, unknown>): Record<string, unknown> {
  const extensionConfig = section.extensionConfig ?? section["extension-config"] ?? {};
  return { ...(entry ?? {}), converter: section, ...section, extensionConfig };
}

/** Whether the class (static) or instance declares SUPPORTS_BYTES_PAYLOAD; undefined when silent. */
export function declaredBytes(instance: object): boolean | undefined {
  const own = (instance as { SUPPORTS_BYTES_PAYLOAD?: unknown }).SUPPORTS_BYTES_PAYLOAD;
  const stat = (instance.constructor as { SUPPORTS_BYTES_PAYLOAD?: unknown } | undefined)?.SUPPORTS_BYTES_PAYLOAD;
  const v = own ?? stat;
  return v === undefined ? undefined : Boolean(v);
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Upstream's decoding of a payload: the JSON value when it parses, else the text. */
export function decodePayload(bytes: Uint8Array): unknown {
  const text = utf8.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Calls `convert(payload)` with the payload shape the converter wants (see the header): bytes when
 * it declares SUPPORTS_BYTES_PAYLOAD, the decoded payload otherwise, with the one-time bytes retry
 * for converters of tb-gw's earlier shape.
 */
export function payloadChooser(instance: object): (bytes: Uint8Array, convert: (payload: unknown) => unknown) => unknown {
  const declared = declaredBytes(instance);
  let bytesOnly = declared === true;
  return (bytes, convert) => {
    if (bytesOnly) return convert(bytes);
    if (declared === false) return convert(decodePayload(bytes));
    // silent class: decoded first; a TypeError there may mean it reads bytes (tb-gw's earlier shape)
    const withBytes = (first: unknown): unknown => {
      if (!(first instanceof TypeError)) throw first;
      const keep = (v: unknown) => {
        bytesOnly = true;
        return v;
      };
      let r: unknown;
      try {
        r = convert(bytes);
      } catch {
        throw first;
      }
      return r instanceof Promise ? r.then(keep, () => Promise.reject(first)) : keep(r);
    };
    let r: unknown;
    try {
      r = convert(decodePayload(bytes));
    } catch (e) {
      return withBytes(e);
    }
    return r instanceof Promise ? r.catch(withBytes) : r;
  };
}

/** Accept ConvertedData, arrays of it, and upstream's legacy dict shapes; a reason text when empty. */
export function normalizeConverted(r: unknown): ConvertedData[] | string {
  if (r === null || r === undefined) return "custom converter returned nothing";
  const list = Array.isArray(r) ? r : [r];
  const out: ConvertedData[] = [];
  for (const item of list) {
    if (!item || typeof item !== "object" || typeof (item as ConvertedData).deviceName !== "string") continue;
    const d = item as { deviceName: string; deviceType?: string; attributes?: unknown; telemetry?: unknown };
    const data: ConvertedData = { deviceName: d.deviceName, deviceType: d.deviceType ?? "default" };
    if (Array.isArray(d.attributes)) data.attributes = Object.assign({}, ...d.attributes);
    else if (d.attributes && typeof d.attributes === "object") data.attributes = d.attributes as Record<string, unknown>;
    if (Array.isArray(d.telemetry)) {
      data.telemetry = d.telemetry.map((e: Record<string, unknown>) =>
        e && typeof e === "object" && "values" in e ? (e as { ts?: number; values: Record<string, unknown> }) : { values: e },
      );
    } else if (d.telemetry && typeof d.telemetry === "object") data.telemetry = [{ values: d.telemetry as Record<string, unknown> }];
    const c = item as ConvertedData;
    if (c.keyStrategies) data.keyStrategies = c.keyStrategies;
    if (c.deviceStrategy) data.deviceStrategy = c.deviceStrategy;
    out.push(data);
  }
  return out.length > 0 ? out : "custom converter returned no device data";
}
