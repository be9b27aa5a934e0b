// The one loader for user code: a class exported by a JS/TS module in `<config folder>/extensions/<type>/`,
// used for custom connectors and for custom converters of every connector. Modules are imported at
// run time with `import()`, which Bun (and the compiled binary, which carries Bun's transpiler) does
// for .ts and .js alike; user modules may import each other and `node:` modules, but not packages
// from node_modules (the binary has none).
//
// Name resolution follows upstream's tb_loader: every module of the folder (skipping `_`-prefixed
// files and tests) is imported, and the exported class named exactly as asked wins; failing that,
// the first class whose name contains it. A name ending in a module extension (or with a `/`) names
// the file itself: its default export, else its first exported class.

import { existsSync, readdirSync, statSync } from "node:fs";
import { extname, isAbsolute, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { errorText } from "../../observe/logger.ts";

/** User code could not be found or loaded; the message names the folder or file, the class and the fix. */
export class ExtensionError extends Error {}

export const MODULE_EXTENSIONS = new Set([".ts", ".js", ".mjs", ".cjs", ".mts"]);

/** `<config folder>/extensions/<type>`: where user modules for a connector type live. */
export function extensionsDir(configDir: string, connectorType: string): string {
  return join(configDir, "extensions", connectorType);
}

export interface FoundClass<C> {
  cls: C;
  /** Absolute path of the module that exported it. */
  file: string;
  /** The export's name (`default` for a default export). */
  exportName: string;
}

/** Module files of an extensions folder, in the order they are searched. */
export function moduleFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => MODULE_EXTENSIONS.has(extname(f)) && !f.startsWith("_") && !/\.(test|spec)\.|\.d\.ts$/.test(f))
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

function isClass(v: unknown): v is new (...args: never[]) => unknown {
  return typeof v === "function" && typeof (v as { prototype?: unknown }).prototype === "object";
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/**
 * The class `name` for a connector or converter (`what`, for messages) from `dir`. Throws
 * ExtensionError: folder missing, import failures (file and message), or the class not found (with
 * the classes the folder does export).
 */
export async function findExtensionClass<C>(name: string, dir: string, what = "extension"): Promise<FoundClass<C>> {
  const isFile = MODULE_EXTENSIONS.has(extname(name)) || name.includes("/");
  if (isFile) {
    const file = isAbsolute(name) ? name : join(dir, name);
    if (!existsSync(file)) throw new ExtensionError(`${what} file ${file} not found (relative paths start at ${dir})`);
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(file);
    } catch (e) {
      throw new ExtensionError(`${what} module ${file} failed to load: ${errorText(e)}`);
    }
    const entry = isClass(mod.default) ? (["default", mod.default] as const) : Object.entries(mod).find(([, v]) => isClass(v));
    if (!entry) throw new ExtensionError(`${file} exports no class; export the ${what} class from it`);
    return { cls: entry[1] as C, file, exportName: entry[0] };
  }
  if (!existsSync(dir)) throw new ExtensionError(`${what} ${name}: folder ${dir} does not exist; put a .ts or .js module exporting class ${name} there`);
  let partial: FoundClass<C> | undefined;
  const errors: string[] = [];
  const exported: string[] = [];
  for (const f of moduleFiles(dir)) {
    const file = join(dir, f);
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(file);
    } catch (e) {
      errors.push(`${f} failed to load: ${errorText(e)}`);
      continue;
    }
    for (const [exportName, v] of Object.entries(mod)) {
      if (!isClass(v)) continue;
      const className = exportName === "default" ? v.name || "default" : exportName;
      exported.push(`${className} (${f})`);
      if (className === name) return { cls: v as C, file, exportName };
      if (!partial && className.includes(name)) partial = { cls: v as C, file, exportName };
    }
  }
  if (partial) return partial;
  const found = exported.length ? `the folder exports: ${exported.join(", ")}` : "the folder exports no class";
  // a module that failed to load is the likely reason: said first
  throw new ExtensionError(`${what} class ${name} not found in ${dir}${errors.length ? `: ${errors.join("; ")};` : ";"} ${found}`);
}

/** `dir/file` relative to the config folder when inside it, for shorter messages. */
export function shortPath(configDir: string, file: string): string {
  const r = relative(configDir, file);
  return r.startsWith("..") ? file : r;
}
