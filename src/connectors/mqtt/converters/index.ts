// Picks the converter for a mapping entry: `extension` (custom) wins over `type`, as upstream.
import type { Logger } from "../../../observe/logger.ts";
import type { Mapping } from "../schema.ts";
import { BytesUplinkConverter } from "./bytes.ts";
import { loadCustomConverter } from "./custom.ts";
import { JsonUplinkConverter } from "./json.ts";
import { ConverterConfigError, type UplinkConverter } from "./types.ts";

export { ConverterConfigError, type UplinkConverter } from "./types.ts";

export async function createConverter(m: Mapping, where: string, configDir: string, log: Logger): Promise<UplinkConverter> {
  const c = m.converter;
  const json = !(c.extension || c.type === "custom" || c.type === "bytes");
  if (c.useEval && !json) log.warn(`${where}.converter.useEval: applies to the json converter only; ignored`);
  if (c.extension || c.type === "custom") {
    if (!c.extension) throw new ConverterConfigError(`${where}.converter: type custom needs "extension" (a class name or module file)`);
    return loadCustomConverter(m, configDir, log);
  }
  if (c.type === "bytes") return new BytesUplinkConverter(c, `${where}.converter`);
  return new JsonUplinkConverter(c, `${where}.converter`);
}
