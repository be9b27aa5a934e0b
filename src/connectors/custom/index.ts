// Custom connectors: a `connectors[]` entry whose type is not built in and that names a `class` runs
// the user's class exported by a module in `<config folder>/extensions/<type>/` (README.md here).
// Unlike the built-in types, the descriptor is made per entry: it knows the folder and the class.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "../../config/zod.ts";
import type { ConnectorDescriptor } from "../../core/connector.ts";
import { extensionsDir, moduleFiles } from "../../common/extensions/loader.ts";

/** Any object: the connector's own code reads its config; the gateway's reserved keys are checked as usual. */
export const CustomConfigSchema = z.looseObject({});
export type CustomConfig = z.infer<typeof CustomConfigSchema>;

export function customDescriptor(type: string, className: string, configDir: string): ConnectorDescriptor<CustomConfig> {
  const dir = extensionsDir(configDir, type);
  return {
    type,
    schema: CustomConfigSchema,
    title: `custom connector ${className} from ${dir}`,
    async create(config, ctx) {
      const { loadConnectorClass } = await import("./load.ts");
      const { CustomConnectorHost } = await import("./connector.ts");
      const { guardExtensionFolder } = await import("./process-guard.ts");
      guardExtensionFolder(dir, ctx.log.child("extensions"));
      const loaded = await loadConnectorClass(className, dir, configDir);
      return new CustomConnectorHost(loaded, { ...config, name: ctx.name, id: ctx.id }, ctx);
    },
    /**
     * `validate` does not run user code: it only checks that the folder exists and that one of its
     * modules mentions the class (reading files, no import). `run` says exactly what is wrong.
     */
    lint() {
      if (!existsSync(dir)) return [{ path: [], message: `custom connector class ${className}: folder ${dir} does not exist yet; \`run\` will not start it until a module exporting the class is there (\`tb-gw new connector\` writes a skeleton)` }];
      const files = moduleFiles(dir);
      const mentions = files.some((f) => readFileSync(join(dir, f), "utf8").includes(className));
      if (!mentions) return [{ path: [], message: `custom connector class ${className}: no module in ${dir} mentions it (modules: ${files.join(", ") || "none"})` }];
      return [];
    },
  };
}
