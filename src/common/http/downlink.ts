// Attribute updates and RPC turned into HTTP requests, the same way for REST and Request:
// full-match filters, URL and body templates, and upstream's body rule (the rendered text is read
// as a literal and sent as JSON when it is one).

import { attributeText, fillPlaceholders, plainText } from "../expressions/index.ts";
import type { RpcRequest } from "../../core/model.ts";

/** Python's re.fullmatch as a RegExp; an invalid pattern matches itself literally. */
export function fullMatch(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch {
    return new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  }
}

const urlText = (v: unknown) => encodeURIComponent(attributeText(v));

/** `${deviceName}`, `${attributeKey}`, `${attributeValue}` (URL-encoded in the URL, as text in the body). */
export function renderAttributeUpdate(urlTemplate: string, bodyTemplate: string, device: string, key: string, value: unknown): { url: string; body: string } {
  const vars = { deviceName: device, attributeKey: key, attributeValue: value };
  return {
    url: fillPlaceholders(urlTemplate, vars, { encodeVar: urlText }),
    body: fillPlaceholders(bodyTemplate, vars, { encodeVar: attributeText }),
  };
}

/**
 * `${deviceName}`, `${methodName}`, the id under `idName` (`restId` for REST, `requestId` for
 * Request), `${params}` / `${params.x}`; in the URL, other `${x}` are top-level fields of params.
 */
export function renderRpc(urlTemplate: string, bodyTemplate: string, req: RpcRequest, idName: string): { url: string; body: string } {
  const vars: Record<string, unknown> = { deviceName: req.device ?? "", methodName: req.method, [idName]: req.id };
  const rpcData = { id: req.id, method: req.method, params: req.params };
  const params = req.params !== null && typeof req.params === "object" && !Array.isArray(req.params) ? (req.params as Record<string, unknown>) : {};
  return {
    url: fillPlaceholders(urlTemplate, { ...params, ...vars }, { rpcData, encodeVar: urlText, encodeParams: (v) => encodeURIComponent(plainText(v)) }),
    // string params as they are (upstream's str()), objects as JSON
    body: fillPlaceholders(bodyTemplate, vars, { rpcData, encodeVar: plainText, encodeParams: plainText }),
  };
}

/** `url` as given when it has a scheme; else joined to `base` (Request) or given `http://` (REST). */
export function absoluteUrl(url: string, base?: string): string {
  if (/^https?:\/\//i.test(url)) return url;
  if (base === undefined) return "http://" + url;
  return base.replace(/\/+$/, "") + "/" + url.replace(/^\/+/, "");
}

function headerName(headers: Record<string, string>, name: string): string | undefined {
  return Object.keys(headers).find((h) => h.toLowerCase() === name);
}

/**
 * Upstream's downlink body: the rendered text is parsed as a literal. multipart/form-data sends an
 * object's fields as parts; application/json sends the parsed value as JSON (the text when it does
 * not parse); otherwise objects and arrays go as JSON (content type added) and anything else as text.
 */
export function downlinkBody(text: string, headers: Record<string, string>): { body: string | FormData; headers: Record<string, string> } {
  let parsed: unknown;
  let isLiteral = true;
  try {
    parsed = JSON.parse(text);
  } catch {
    isLiteral = false;
  }
  const out = { ...headers };
  const ctName = headerName(out, "content-type");
  const ct = ctName ? out[ctName]!.toLowerCase() : "";
  const isObject = isLiteral && parsed !== null && typeof parsed === "object";
  if (ct.startsWith("multipart/form-data") && isObject && !Array.isArray(parsed)) {
    const form = new FormData();
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) form.append(k, typeof v === "string" ? v : JSON.stringify(v));
    delete out[ctName!]; // fetch writes the boundary
    return { body: form, headers: out };
  }
  if (ct.includes("json")) return { body: isLiteral ? JSON.stringify(parsed) : text, headers: out };
  if (isObject) {
    if (!ctName) out["Content-Type"] = "application/json";
    return { body: JSON.stringify(parsed), headers: out };
  }
  return { body: text, headers: out };
}

/** Request's polled `data`: an object goes form-encoded (`a=1&b=2`), a string as it is. */
export function formBody(data: unknown): string | URLSearchParams | undefined {
  if (data === undefined || data === null) return undefined;
  if (typeof data === "string") return data === "" ? undefined : data;
  if (typeof data === "object") {
    const entries = Object.entries(data as Record<string, unknown>);
    if (entries.length === 0) return undefined;
    const form = new URLSearchParams();
    for (const [k, v] of entries) {
      for (const one of Array.isArray(v) ? v : [v]) form.append(k, typeof one === "string" ? one : plainText(one));
    }
    return form;
  }
  return String(data);
}
