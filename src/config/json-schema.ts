// Editor JSON Schemas (`tb-gw schema`): produced from the same zod schemas the loader checks with,
// so completion in VS Code and `tb-gw validate` never disagree.

import { z } from "./zod.ts";
import { connectorRegistry, loadDescriptor } from "../connectors/index.ts";
import type { ConnectorDescriptor } from "../core/connector.ts";
import { MainConfigSchema, ReportStrategySchema } from "./main-schema.ts";

export const MAIN_KIND = "main";

/** `main` plus every registered connector type, sorted. */
export function schemaKinds(extra: Record<string, ConnectorDescriptor<any>> = {}): string[] {
  return [MAIN_KIND, ...[...new Set([...Object.keys(connectorRegistry), ...Object.keys(extra)])].sort()];
}

const toJson = (s: z.core.$ZodType): Record<string, any> => z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<string, any>;

/** The JSON Schema of one config kind, or undefined when the kind is unknown. */
export async function jsonSchemaFor(kind: string, extra: Record<string, ConnectorDescriptor<any>> = {}): Promise<object | undefined> {
  if (kind === MAIN_KIND) {
    return { ...toJson(MainConfigSchema), title: "tb-gw main configuration (tb_gateway.json)" };
  }
  const d = extra[kind] ?? (await loadDescriptor(kind));
  if (!d) return undefined;
  const js = toJson(d.schema);
  // Keys the gateway itself reads from every connector file; the connector schema need not name them.
  if (js.type === "object") {
    js.properties = {
      $schema: { type: "string", description: "JSON Schema for editors" },
      id: { type: "string", description: "connector id; generated and written back by `tb-gw run` when missing" },
      name: { type: "string", description: "ignored: the name comes from the main config's connectors[].name" },
      logLevel: { type: "string", description: "log level of this connector (DEBUG, INFO, WARNING, ERROR)" },
      enableRemoteLogging: { type: "boolean" },
      configVersion: { type: "string" },
      reportStrategy: toJson(ReportStrategySchema),
      ...js.properties,
    };
    delete js.properties.reportStrategy.$schema;
  }
  return { ...js, title: `tb-gw ${kind} connector configuration${d.title ? ` (${d.title})` : ""}` };
}

/** File text as written by `tb-gw schema --out`: stable formatting so the committed copies can be compared. */
export const schemaFileText = (schema: object): string => JSON.stringify(schema, null, 2) + "\n";
