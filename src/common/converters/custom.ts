// Custom converter classes for every connector: a JS/TS module in `<config folder>/extensions/<type>/`.
// `extension` is either a module file (`my_converter.ts`) or, as in upstream configs, a class name
// looked up in the folder's modules (exact export name first, then a name containing it). What a
// converter returns is read by normalizeConverted(): ConvertedData, a list of them, or upstream's
// legacy dict shapes.

import { existsSync, readdirSync } from "node:fs";
import { extname, isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ConvertedData } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";

/** A config problem found while building a converter (the mapping is skipped with this text). */
export class ConverterConfigError extends Error {}

const moduleExt = new Set([".ts", ".js", ".mjs", ".cjs", ".mts"]);

export function extensionsDir(configDir: string, connectorType: string): string {
  return join(configDir, "extensions", connectorType);
}

/** The class a config's `extension` names, from a module file or the extensions folder `dir`. */
export async function findConverterClass<C>(extension: string, dir: string): Promise<C> {
  const isFile = moduleExt.has(extname(extension)) || extension.includes("/");
  if (isFile) {
    const file = isAbsolute(extension) ? extension : join(dir, extension);
    if (!existsSync(file)) throw new ConverterConfigError(`custom converter file ${file} not found (relative paths start at ${dir})`);
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const cls = mod.default ?? Object.values(mod).find((v) => typeof v === "function");
    if (typeof cls !== "function") throw new ConverterConfigError(`${file} exports no converter class`);
    return cls as C;
  }
  if (!existsSync(dir)) throw new ConverterConfigError(`custom converter ${extension}: folder ${dir} does not exist; put a module exporting class ${extension} there`);
  const files = readdirSync(dir).filter((f) => moduleExt.has(extname(f)) && !f.startsWith("_") && !f.includes(".test."));
  let partial: C | undefined;
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
      if (name === extension) return v as C;
      if (!partial && name.includes(extension)) partial = v as C;
    }
  }
  if (partial) return partial;
  throw new ConverterConfigError(
    `custom converter class ${extension} not found in ${dir}${errors.length ? ` (import errors: ${errors.join("; ")})` : ""}`,
  );
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
