// One outgoing HTTP request for the HTTP connectors (Request polls and downlink, REST downlink),
// over fetch: basic auth, per-call timeout, redirects on or off, TLS verification with a CA (on
// unless switched off) and client certificates. Failures come back as HttpCallError with a kind,
// so callers can log "timeout" and "connection refused" as states, not as stack traces.

import { errorText } from "../../observe/logger.ts";

export interface HttpTls {
  /** Verify the server certificate (chain and host name). */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface HttpCall {
  url: string;
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array | FormData | URLSearchParams;
  basic?: { username: string; password: string };
  timeoutMs: number;
  followRedirects: boolean;
  tls?: HttpTls;
}

export interface HttpResult {
  status: number;
  statusText: string;
  /** 2xx and 3xx, as Python requests' `ok` (a redirect not followed is not a failure). */
  ok: boolean;
  headers: Headers;
  body: Uint8Array;
  text(): string;
  /** The body as JSON, or `undefined` when it is not JSON. */
  json(): unknown;
}

export type HttpErrorKind = "timeout" | "connect" | "tls" | "request";

export class HttpCallError extends Error {
  constructor(
    readonly kind: HttpErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export function basicAuthHeader(username: string, password: string): string {
  return "Basic " + Buffer.from(`${username}:${password}`, "utf8").toString("base64");
}

const NOT_JSON = Symbol("not json");

function classify(e: unknown, call: HttpCall): HttpCallError {
  const name = (e as { name?: string })?.name;
  const code = String((e as { code?: string })?.code ?? "");
  if (name === "TimeoutError" || name === "AbortError") return new HttpCallError("timeout", `no answer from ${call.url} within ${call.timeoutMs / 1000} s`);
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/i.test(code)) return new HttpCallError("tls", `TLS with ${call.url} failed: ${code}${call.tls?.verify ? " (the server certificate is verified; give the CA that signed it)" : ""}`);
  if (/ConnectionRefused|ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|FailedToOpenSocket|ConnectionClosed/i.test(code + " " + errorText(e)))
    return new HttpCallError("connect", `cannot connect to ${call.url}: ${code || errorText(e)}`);
  return new HttpCallError("request", `request to ${call.url} failed: ${errorText(e)}`);
}

export async function httpCall(call: HttpCall): Promise<HttpResult> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.basic) headers.Authorization = basicAuthHeader(call.basic.username, call.basic.password);
  const method = call.method.toUpperCase();
  // fetch cannot send a body with GET or HEAD (Python requests can); it is left out.
  const body = method === "GET" || method === "HEAD" ? undefined : call.body;
  const init: RequestInit & { tls?: Record<string, unknown> } = {
    method,
    headers,
    body,
    redirect: call.followRedirects ? "follow" : "manual",
    signal: AbortSignal.timeout(Math.max(1, call.timeoutMs)),
  };
  if (call.tls && call.url.toLowerCase().startsWith("https:")) {
    init.tls = { rejectUnauthorized: call.tls.verify, ca: call.tls.ca, cert: call.tls.cert, key: call.tls.key };
  }
  let res: Response;
  let bytes: Uint8Array;
  try {
    res = await fetch(call.url, init);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw classify(e, call);
  }
  let parsed: unknown = NOT_JSON;
  return {
    status: res.status,
    statusText: res.statusText,
    ok: res.status < 400,
    headers: res.headers,
    body: bytes,
    text: () => Buffer.from(bytes).toString("utf8"),
    json() {
      if (parsed === NOT_JSON) {
        try {
          parsed = bytes.length ? JSON.parse(Buffer.from(bytes).toString("utf8")) : undefined;
        } catch {
          parsed = undefined;
        }
      }
      return parsed;
    },
  };
}
