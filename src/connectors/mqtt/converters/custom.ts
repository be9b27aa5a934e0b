// Custom uplink converters: a JS/TS module in `<config folder>/extensions/mqtt/` (lookup rules in
// src/common/converters/custom.ts). The class is built with `(converterConfig, logger)` and must
// have `convert(topic, payload)`.

import { extensionsDir, findConverterClass, normalizeConverted } from "../../../common/converters/custom.ts";
import type { Logger } from "../../../observe/logger.ts";
import type { ConverterConfig } from "../schema.ts";
import { ConverterConfigError, type UplinkConverter } from "./types.ts";

type ConverterClass = new (config: unknown, log: Logger) => { convert(topic: string, payload: Buffer): unknown };

/** Custom converter instances shared by `cached` (per class) or `sharedId`. */
const shared = new Map<string, UplinkConverter>();

export async function loadCustomConverter(config: ConverterConfig, configDir: string, log: Logger): Promise<UplinkConverter> {
  const extension = config.extension!;
  const shareKey = config.sharedId ? `id:${config.sharedId}` : config.cached ? `class:${configDir}:${extension}` : undefined;
  const hit = shareKey ? shared.get(shareKey) : undefined;
  if (hit) return hit;
  const Cls = await findConverterClass<ConverterClass>(extension, extensionsDir(configDir, "mqtt"));
  const instance = new Cls({ ...config, extensionConfig: config.extensionConfig ?? {} }, log.child(extension));
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom converter ${extension} has no convert(topic, payload) method`);
  const wrapped: UplinkConverter = {
    convert(topic, payload) {
      const r = instance.convert(topic, payload);
      return r instanceof Promise ? r.then(normalizeConverted) : normalizeConverted(r);
    },
  };
  if (shareKey) shared.set(shareKey, wrapped);
  return wrapped;
}
