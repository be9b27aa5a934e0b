// Custom uplink converters: a JS/TS module in `<config folder>/extensions/mqtt/`. `extension` is
// either a module file (`my_converter.ts`) or, as in upstream configs, a class name looked up in
// the folder's modules (exact export name first, then a name containing it). The class is built
// with `(converterConfig, logger)` and must have `convert(topic, payload)`.

import { existsSync, readdirSync } from "node:fs";
import { extname, isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ConvertedData } from "../../../core/model.ts";
import { errorText, type Logger } from "../../../observe/logger.ts";
import type { ConverterConfig } from "../schema.ts";
import { ConverterConfigError, type UplinkConverter } from "./types.ts";

type ConverterClass = new (config: unknown, log: Logger) => { convert(topic: string, payload: Buffer): unknown };

const moduleExt = new Set([".ts", ".js", ".mjs", ".cjs", ".mts"]);

export function extensionsDir(configDir: string): string {
  return join(configDir, "extensions", "mqtt");
}

async function findClass(extension: string, dir: string): Promise<ConverterClass> {
  const isFile = moduleExt.has(extname(extension)) || extension.includes("/");
  if (isFile) {
    const file = isAbsolute(extension) ? extension : join(dir, extension);
    if (!existsSync(file)) throw new ConverterConfigError(`custom converter file ${file} not found (relative paths start at ${dir})`);
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const cls = (mod.default ?? Object.values(mod).find((v) => typeof v === "function")) as ConverterClass | undefined;
    if (typeof cls !== "function") throw new ConverterConfigError(`${file} exports no converter class`);
    return cls;
  }
  if (!existsSync(dir)) throw new ConverterConfigError(`custom converter ${extension}: folder ${dir} does not exist; put a module exporting class ${extension} there`);
  const files = readdirSync(dir).filter((f) => moduleExt.has(extname(f)) && !f.startsWith("_") && !f.includes(".test."));
  let partial: ConverterClass | undefined;
  const errors: string[] = [];
  for (const f of files.sort()) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(join(dir, f)).href)) as Record<string, unknown>;
    } catch (e) {
      errors.push(`${f}: ${errorText(e)}`);
      continue;
    }
    for (const [name, v] of Object.entries(mod)) {
      if (typeof v !== "function") continue;
      if (name === extension) return v as ConverterClass;
      if (!partial && name.includes(extension)) partial = v as ConverterClass;
    }
  }
  if (partial) return partial;
  throw new ConverterConfigError(
    `custom converter class ${extension} not found in ${dir}${errors.length ? ` (import errors: ${errors.join("; ")})` : ""}`,
  );
}

/** Custom converter instances shared by `cached` (per class) or `sharedId`. */
const shared = new Map<string, UplinkConverter>();

export async function loadCustomConverter(config: ConverterConfig, configDir: string, log: Logger): Promise<UplinkConverter> {
  const extension = config.extension!;
  const shareKey = config.sharedId ? `id:${config.sharedId}` : config.cached ? `class:${configDir}:${extension}` : undefined;
  const hit = shareKey ? shared.get(shareKey) : undefined;
  if (hit) return hit;
  const Cls = await findClass(extension, extensionsDir(configDir));
  const instance = new Cls({ ...config, extensionConfig: config.extensionConfig ?? {} }, log.child(extension));
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom converter ${extension} has no convert(topic, payload) method`);
  const wrapped: UplinkConverter = {
    convert(topic, payload) {
      const r = instance.convert(topic, payload);
      return r instanceof Promise ? r.then(normalize) : normalize(r);
    },
  };
  if (shareKey) shared.set(shareKey, wrapped);
  return wrapped;
}

/** Accept ConvertedData, arrays of it, and upstream's legacy dict shapes. */
export function normalize(r: unknown): ConvertedData[] | string {
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
