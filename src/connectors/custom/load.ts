// Loads a custom connector's class through the one extensions loader and names it for messages.

import { findExtensionClass, shortPath } from "../../common/extensions/loader.ts";
import type { LoadedClass } from "./connector.ts";
import type { ConnectorClass } from "./tb-gw-extension.d.ts";

export async function loadConnectorClass(className: string, dir: string, configDir: string): Promise<LoadedClass> {
  const found = await findExtensionClass<ConnectorClass>(className, dir, "custom connector");
  const name = found.exportName === "default" ? found.cls.name || className : found.exportName;
  return { cls: found.cls, where: shortPath(configDir, found.file), className: name };
}
