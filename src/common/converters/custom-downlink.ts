// A user's downlink converter class (Modbus `downlinkConverter`, CAN `converters.downlink`, SNMP
// `converter`): loaded through the one extensions loader from `<config folder>/extensions/<type>/`,
// built as upstream builds it (`new Cls(config, logger)`), called as upstream calls it
// (`convert(config, data)`: the rule's config and the attribute update or RPC content). What it
// returns is the connector's to judge (`accept`: register values, frame bytes, a value to set);
// a converter that throws, rejects, never settles or returns something unusable gives an error
// text naming the class, never an exception into the connector and never a write to the device.

import { errorText, type Logger } from "../../observe/logger.ts";
import { ConverterConfigError, extensionsDir, findConverterClass } from "./custom.ts";

type DownlinkInstance = { convert?: unknown; convertDownlink?: unknown };
type ConverterClass = new (config: unknown, log: Logger) => DownlinkInstance;
type ConvertFn = (config: unknown, data: unknown) => unknown;

/** How long a converter's promise may take before the write is given up. */
const CONVERT_TIMEOUT_MS = 10_000;

/** The converter's result as the connector can use it, or why it cannot. */
export type DownlinkResult<T> = { ok: true; value: T } | { ok: false; error: string };

export class CustomDownlink {
  constructor(
    /** The class name (or module file) the config gave. */
    readonly name: string,
    private readonly fn: ConvertFn,
    private readonly timeoutMs = CONVERT_TIMEOUT_MS,
  ) {}

  /**
   * A stand-in for a class that could not be loaded: every write through it fails with `reason`
   * (the device gets nothing rather than what the built-in encoding would make of the value).
   */
  static unusable(name: string, reason: string): CustomDownlink {
    return new CustomDownlink(name, () => {
      throw new Error(`it could not be loaded (${reason})`);
    });
  }

  /**
   * `convert(config, data)`, its result checked by `accept` (which throws with the reason when the
   * result cannot be written). Never throws or rejects.
   */
  async convert<T>(config: unknown, data: unknown, accept: (result: unknown) => T): Promise<DownlinkResult<T>> {
    let result: unknown;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      result = await Promise.race([
        Promise.resolve().then(() => this.fn(config, data)),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no result within ${this.timeoutMs / 1000} s`)), this.timeoutMs))),
      ]);
    } catch (e) {
      return { ok: false, error: `custom downlink converter ${this.name} failed: ${errorText(e)}` };
    } finally {
      clearTimeout(timer);
    }
    try {
      return { ok: true, value: accept(result) };
    } catch (e) {
      return { ok: false, error: `custom downlink converter ${this.name} returned ${describe(result)}, which cannot be written: ${errorText(e)}` };
    }
  }
}

/** A short picture of a converter's result for error texts. */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (v instanceof Uint8Array) return `${v.length} byte(s)`;
  if (typeof v === "function") return "a function";
  if (typeof v === "bigint") return `${v}n`;
  let text: string;
  try {
    text = JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : typeof x === "function" ? "<function>" : x)) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Loads `extension` (a class name, or a module file) from `<configDir>/extensions/<connectorType>/`
 * and builds it with `ctorConfig`. The downlink method is `convertDownlink` when the class has one,
 * else `convert`; `method` demands one of them. Throws ConverterConfigError naming the folder, the
 * class and what the folder does export.
 */
export async function loadCustomDownlink(opts: {
  extension: string;
  connectorType: string;
  configDir: string;
  ctorConfig: unknown;
  log: Logger;
  method?: "convert" | "convertDownlink";
}): Promise<CustomDownlink> {
  const Cls = await findConverterClass<ConverterClass>(opts.extension, extensionsDir(opts.configDir, opts.connectorType));
  let instance: DownlinkInstance;
  try {
    instance = new Cls(opts.ctorConfig, opts.log.child(opts.extension));
  } catch (e) {
    throw new ConverterConfigError(`custom downlink converter ${opts.extension}: its constructor failed: ${errorText(e)}`);
  }
  const name = opts.method ?? (typeof instance.convertDownlink === "function" ? "convertDownlink" : "convert");
  const m = instance[name];
  if (typeof m !== "function") throw new ConverterConfigError(`custom downlink converter ${opts.extension} has no ${name}(config, data) method`);
  return new CustomDownlink(opts.extension, m.bind(instance) as ConvertFn);
}

/** Whether a converter class (as found, not built) has `method` on its prototype. */
export function classHas(cls: unknown, method: string): boolean {
  const proto = (cls as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  return !!proto && typeof proto[method] === "function";
}
