// Custom uplink converters: a JS/TS module in `<config folder>/extensions/mqtt/` (lookup and the two
// converter shapes in src/common/converters/custom.ts). The class is built with `(config, logger)`,
// config being the mapping entry with the converter section's keys over it, and must have
// `convert(topic, payload)`; payload is decoded (JSON value, else text) unless the class declares
// SUPPORTS_BYTES_PAYLOAD.

import { converterConstructorConfig, extensionsDir, findConverterClass, normalizeConverted, payloadChooser } from "../../../common/converters/custom.ts";
import type { Logger } from "../../../observe/logger.ts";
import type { Mapping } from "../schema.ts";
import { ConverterConfigError, type UplinkConverter } from "./types.ts";

type ConverterClass = new (config: unknown, log: Logger) => { convert(topic: string, payload: unknown): unknown };

/** Custom converter instances shared by `cached` (per class) or `sharedId`. */
const shared = new Map<string, UplinkConverter>();

export async function loadCustomConverter(mapping: Mapping, configDir: string, log: Logger): Promise<UplinkConverter> {
  const config = mapping.converter;
  const extension = config.extension!;
  const shareKey = config.sharedId ? `id:${config.sharedId}` : config.cached ? `class:${configDir}:${extension}` : undefined;
  const hit = shareKey ? shared.get(shareKey) : undefined;
  if (hit) return hit;
  const Cls = await findConverterClass<ConverterClass>(extension, extensionsDir(configDir, "mqtt"));
  const instance = new Cls(converterConstructorConfig(mapping as unknown as Record<string, unknown>, config as Record<string, unknown>), log.child(extension));
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom converter ${extension} has no convert(topic, payload) method`);
  const withPayload = payloadChooser(instance);
  const wrapped: UplinkConverter = {
    convert(topic, payload) {
      const r = withPayload(payload, (p) => instance.convert(topic, p));
      return r instanceof Promise ? r.then(normalizeConverted) : normalizeConverted(r);
    },
  };
  if (shareKey) shared.set(shareKey, wrapped);
  return wrapped;
}
