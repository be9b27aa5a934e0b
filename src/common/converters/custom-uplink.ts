// A user's uplink converter class for a connector that did not take one before (FTP, XMPP, OCPP,
// KNX, ...): loaded through the one extensions loader from `<config folder>/extensions/<type>/`,
// built as upstream builds it (`new Cls(config, logger)`), called as upstream calls it
// (`convert(config, data)`), its result read by normalizeConverted() (ConvertedData, a list, or
// upstream's legacy dict). A converter that throws (or returns a rejected promise) never stops
// the connector: the message is dropped, and the error is logged once per change of its text, with
// a line when the converter works again.

import type { ConvertedData } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import { ConverterConfigError, extensionsDir, findConverterClass, normalizeConverted } from "./custom.ts";

type ConverterClass = new (config: unknown, log: Logger) => { convert(config: unknown, data: unknown): unknown };

export class CustomUplink {
  /** The last error text per place (see convert), so a repeating error is logged once. */
  private readonly lastErrors = new Map<string, string>();

  constructor(
    /** The class name (or module file) the config gave. */
    readonly name: string,
    private readonly instance: { convert(config: unknown, data: unknown): unknown },
    private readonly log: Logger,
    /** Where it is used, for messages (e.g. the device or path). */
    private readonly where: string,
  ) {}

  /** The instance itself (a connector may offer more of upstream's contract, e.g. SUPPORTS_BYTES_PAYLOAD). */
  get converter(): object {
    return this.instance;
  }

  /**
   * The converted data; [] when the converter gave none or threw (logged once per change). Never
   * rejects. `device`: where upstream's connector names the device itself (CAN, SNMP), results
   * without a deviceName get it. `place`: where one instance converts several things each poll
   * (SNMP keys), errors are tracked per place, so one failing key does not flap with the others.
   */
  async convert(config: unknown, data: unknown, opts: { device?: { deviceName: string; deviceType: string }; place?: string } = {}): Promise<ConvertedData[]> {
    const { device, place = "" } = opts;
    const where = place ? `${this.where} ${place}` : this.where;
    let out: ConvertedData[] | string;
    try {
      let r = await this.instance.convert(config, data);
      if (device) r = Array.isArray(r) ? r.map((x) => withDevice(x, device)) : withDevice(r, device);
      out = normalizeConverted(r);
    } catch (e) {
      const text = errorText(e);
      if (text !== this.lastErrors.get(place)) {
        this.lastErrors.set(place, text);
        this.log.error(`${where}: custom converter ${this.name} failed: ${text}; this message is dropped, the connector goes on (logged again only when the error changes)`);
      }
      return [];
    }
    if (this.lastErrors.delete(place)) this.log.info(`${where}: custom converter ${this.name} works again`);
    if (typeof out === "string") {
      this.log.debug(`${where}: ${out}`);
      return [];
    }
    return out;
  }
}

function withDevice(r: unknown, device: { deviceName: string; deviceType: string }): unknown {
  if (!r || typeof r !== "object" || typeof (r as { deviceName?: unknown }).deviceName === "string") return r;
  return { ...device, ...(r as object), deviceName: device.deviceName };
}

/**
 * Loads `extension` (a class name, or a module file) from `<configDir>/extensions/<connectorType>/`
 * and builds it with `ctorConfig`. Throws ConverterConfigError naming the folder, the class and
 * what the folder does export.
 */
export async function loadCustomUplink(opts: {
  extension: string;
  connectorType: string;
  configDir: string;
  ctorConfig: unknown;
  log: Logger;
  where: string;
}): Promise<CustomUplink> {
  const Cls = await findConverterClass<ConverterClass>(opts.extension, extensionsDir(opts.configDir, opts.connectorType));
  let instance: { convert?: unknown };
  try {
    instance = new Cls(opts.ctorConfig, opts.log.child(opts.extension));
  } catch (e) {
    throw new ConverterConfigError(`custom converter ${opts.extension}: its constructor failed: ${errorText(e)}`);
  }
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom converter ${opts.extension} has no convert(config, data) method`);
  return new CustomUplink(opts.extension, instance as { convert(config: unknown, data: unknown): unknown }, opts.log, opts.where);
}

/**
 * `run --check` for connectors that build a user's class per device found at run time (OPC-UA,
 * BACnet): the class named by `extension` must be exported by a module in the connector's extensions
 * folder. It is not built here (its config carries the device's name, known only once connected).
 * Logs what `run` would log for a class it cannot find, naming `where`.
 */
export async function checkCustomUplinkClass(extension: string, connectorType: string, configDir: string, log: Logger, where: string): Promise<void> {
  await withFallBack(() => findConverterClass(extension, extensionsDir(configDir, connectorType)), { extension, log, where, hasBuiltInMapping: true, otherwise: "" });
}

/**
 * What every connector does with a user's uplink class that cannot be used (missing, failing
 * constructor, no convert): one rule, so a migrated config (often naming upstream's Python class)
 * behaves the same on every connector. When the entry also carries the built-in mapping
 * (`hasBuiltInMapping`: keys the built-in converter would read), its data goes through the built-in
 * converter instead of being lost; otherwise nothing is made of the entry's data (`otherwise` says
 * what that means for this connector: not polled, not read, dropped). Logged once, naming the place,
 * the class, why, and what happens.
 * Returns the loaded converter, "built-in" or "none".
 */
export function loadCustomUplinkOrFallBack(
  opts: Parameters<typeof loadCustomUplink>[0] & FallBack,
): Promise<CustomUplink | "built-in" | "none"> {
  return withFallBack(() => loadCustomUplink(opts), opts);
}

export interface FallBack {
  extension: string;
  log: Logger;
  where: string;
  /** The entry also names keys for the built-in converter. */
  hasBuiltInMapping: boolean;
  /** What happens to the entry's data when it has no built-in mapping ("this slave is not polled"). */
  otherwise: string;
}

/** The rule above around a connector's own loader (Socket, FTP wrap the class in their own shapes). */
export async function withFallBack<T>(load: () => Promise<T>, o: FallBack): Promise<T | "built-in" | "none"> {
  try {
    return await load();
  } catch (e) {
    o.log.error(`${o.where}: converter ${o.extension} cannot be used (${errorText(e)}); ${o.hasBuiltInMapping ? BUILT_IN_INSTEAD : o.otherwise}`);
    return o.hasBuiltInMapping ? "built-in" : "none";
  }
}

/** The consequence every connector names when a user's class cannot be used and the built-in mapping takes over. */
export const BUILT_IN_INSTEAD = "its data goes through the built-in converter and the keys configured for it instead (fix the class and restart to use it)";
