// A user's row converter (upstream's top-level `converter`): a class in
// `<config folder>/extensions/odbc/`, built as custom converters are (`new Cls(config, logger)`),
// here with the connector's whole config (name and id included: it holds `converter` and `mapping`,
// as upstream's converter sees them), and called per row as upstream's connector calls its
// converter: `convert(config.mapping, row)`, the row as an object of column → typed value.
// What it returns (ConvertedData, a list, or upstream's legacy dict) without a device name gets the
// row's device from `mapping.device` (upstream sets the device after converting); telemetry
// entries without a time get the row's `ts` (else the poll's time), as the built-in converter does,
// so rows grouped into one record keep apart. A converter that throws drops that row's data (logged
// once per change of the error, CustomUplink); the row still counts as read (see connector.ts).

import { BUILT_IN_INSTEAD, loadCustomUplink, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import { rowDevice, rowTimestamp, type RowMapping } from "./converter.ts";
import type { OdbcConfig } from "./schema.ts";

/** Upstream's own converter's name: naming it means the built-in conversion. */
export const BUILT_IN_CONVERTER = "OdbcUplinkConverter";

/**
 * The class `config.converter` names, or undefined for the built-in conversion (no converter, the
 * built-in's name, or a class that cannot be loaded: then one error says why and that the built-in
 * mapping converts the rows instead, so rows keep flowing).
 */
export async function loadRowConverter(config: OdbcConfig, ctx: ConnectorContext): Promise<CustomUplink | undefined> {
  const name = config.converter?.trim();
  try {
    const custom = await loadRowConverterOrThrow(config, ctx);
    if (custom) ctx.log.info(`rows are converted by the custom converter ${name}`);
    return custom;
  } catch (e) {
    ctx.log.error(`converter ${name} cannot be used (${errorText(e)}); ${BUILT_IN_INSTEAD}`);
    return undefined;
  }
}

/** The class `config.converter` names (undefined: the built-in); throws ConverterConfigError when it cannot be used. */
export async function loadRowConverterOrThrow(config: OdbcConfig, env: { configDir: string; name: string; id?: string; log: Logger }): Promise<CustomUplink | undefined> {
  const name = config.converter?.trim();
  if (!name || name === BUILT_IN_CONVERTER) return undefined;
  return loadCustomUplink({
    extension: name,
    connectorType: "odbc",
    configDir: env.configDir,
    ctorConfig: { ...config, name: env.name, id: env.id },
    log: env.log,
    where: "row",
  });
}

/** One row through the custom converter: its devices' data, [] when it gave none or threw. */
export async function convertRowCustom(
  custom: CustomUplink,
  mappingConfig: OdbcConfig["mapping"],
  mapping: RowMapping,
  row: Record<string, unknown>,
  now: number,
  onError: (message: string) => void,
): Promise<ConvertedData[]> {
  const device = rowDevice(mapping, row);
  const out = await custom.convert(mappingConfig, row, typeof device === "string" ? {} : { device });
  // normalizeConverted drops results without a device name: say why when the mapping gave none
  if (out.length === 0 && typeof device === "string") onError(device);
  const ts = rowTimestamp(row.ts) ?? now;
  for (const d of out) if (d.telemetry) d.telemetry = d.telemetry.map((e) => (e.ts === undefined ? { ...e, ts } : e));
  return out;
}
