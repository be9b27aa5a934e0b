// Custom downlink converters of the HTTP connectors (Request: attributeUpdates[].converter and
// serverSideRpc[].converter; REST: requestsMapping.attributeUpdates[] / serverSideRpc[] `extension`),
// from `<config folder>/extensions/<type>/` through the one extensions loader. As upstream: built
// with the rule's config and a logger; `convert(config, content)` gets upstream's content
// (`{device, data: {key: value}}` for an attribute update, `{device, data: {id, method, params}}`
// for an RPC) and returns `{url, data}`: the URL (relative to the host for Request) and the body
// (text as it is, anything else as JSON).

import { ConverterConfigError, extensionsDir, findConverterClass } from "../converters/custom.ts";
import type { Logger } from "../../observe/logger.ts";

/** The rendered request of one attribute update or RPC. */
export interface RenderedRequest {
  url: string;
  body: string;
}

export type CustomRender = (content: { device: string | undefined; data: Record<string, unknown> }) => Promise<RenderedRequest>;

type DownlinkClass = new (config: unknown, log: Logger) => { convert(config: unknown, content: unknown): unknown };

/** The built-in downlink converter names: no custom class then (upstream's defaults). */
const BUILT_IN = new Set(["JsonRequestDownlinkConverter", "JsonRESTDownlinkConverter", "JsonRestDownlinkConverter"]);

export function isCustomDownlink(name: string | undefined): name is string {
  return !!name && !BUILT_IN.has(name);
}

export async function loadDownlinkConverter(name: string, ruleConfig: Record<string, unknown>, configDir: string, connectorType: string, log: Logger): Promise<CustomRender> {
  const Cls = await findConverterClass<DownlinkClass>(name, extensionsDir(configDir, connectorType));
  const instance = new Cls(ruleConfig, log.child(name));
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom downlink converter ${name} has no convert method`);
  return async (content) => {
    const r = (await instance.convert(ruleConfig, content)) as { url?: unknown; data?: unknown } | null | undefined;
    if (!r || typeof r !== "object" || typeof r.url !== "string") throw new Error(`custom downlink converter ${name} returned no {url, data}`);
    const body = r.data === undefined || r.data === null ? "" : typeof r.data === "string" ? r.data : JSON.stringify(r.data);
    return { url: r.url, body };
  };
}
