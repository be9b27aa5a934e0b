// Custom downlink converters of the HTTP connectors (Request: attributeUpdates[].converter and
// serverSideRpc[].converter; REST: requestsMapping.attributeUpdates[] / serverSideRpc[] `extension`),
// from `<config folder>/extensions/<type>/` through the one extensions loader. As upstream: built
// with the rule's config and a logger; `convert(config, content)` gets upstream's content
// (`{device, data: {key: value}}` for an attribute update, `{device, data: {id, method, params}}`
// for an RPC) and returns `{url, data}`: the URL (relative to the host for Request) and the body
// (text as it is, anything else as JSON).

import { describe, loadCustomDownlink } from "../converters/custom-downlink.ts";
import type { Logger } from "../../observe/logger.ts";

/** The rendered request of one attribute update or RPC. */
export interface RenderedRequest {
  url: string;
  body: string;
}

export type CustomRender = (content: { device: string | undefined; data: Record<string, unknown> }) => Promise<RenderedRequest>;

/** The built-in downlink converter names: no custom class then (upstream's defaults). */
const BUILT_IN = new Set(["JsonRequestDownlinkConverter", "JsonRESTDownlinkConverter", "JsonRestDownlinkConverter"]);

export function isCustomDownlink(name: string | undefined): name is string {
  return !!name && !BUILT_IN.has(name);
}

/**
 * The rule's class through the shared loader (src/common/converters/custom-downlink.ts): a render
 * that rejects with a text naming the class when it throws, never settles, or returns no
 * `{url, data}`; nothing is sent then.
 */
export async function loadDownlinkConverter(name: string, ruleConfig: Record<string, unknown>, configDir: string, connectorType: string, log: Logger): Promise<CustomRender> {
  const converter = await loadCustomDownlink({ extension: name, connectorType, configDir, ctorConfig: ruleConfig, log });
  return async (content) => {
    const r = await converter.convert(ruleConfig, content, requestOf);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
}

/** `{url, data}` as upstream's HTTP connectors read it: the body text as is, anything else as JSON. */
function requestOf(r: unknown): RenderedRequest {
  const o = r as { url?: unknown; data?: unknown } | null | undefined;
  if (!o || typeof o !== "object" || typeof o.url !== "string" || o.url === "") throw new Error("give {url, data} with the URL as text");
  if (typeof o.data === "function" || typeof o.data === "bigint") throw new Error(`data is ${describe(o.data)}; give text or a JSON value`);
  const body = o.data === undefined || o.data === null ? "" : typeof o.data === "string" ? o.data : JSON.stringify(o.data);
  return { url: o.url, body };
}
