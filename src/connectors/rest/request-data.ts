// Reading one incoming request into the data the converters see, with the size limit enforced
// while reading (413 before the whole body is in memory) and JSON errors answered with where they
// are. Body kinds follow upstream: JSON (by content type, or text that starts like JSON), form
// fields (url-encoded or multipart; file parts ignored), else the text as {"text": ...}.

import { parse, printParseErrorCode, type ParseError } from "jsonc-parser";
import type { RestRequestData } from "./converter.ts";
import type { RequestTarget } from "./routes.ts";

export type ReadResult = { ok: true; data: RestRequestData; empty: boolean } | { ok: false; status: number; message: string };

export class BodyTooLarge extends Error {}

/** Read a body of at most `max` bytes; rejects with BodyTooLarge as soon as it is over. */
export function readBody(req: Request, max: number): Promise<Buffer> {
  const length = req.headers.get("content-length");
  const declared = length === null ? NaN : Number(length);
  if (declared > max) return Promise.reject(new BodyTooLarge());
  // A declared length within the limit is read in one go (the server holds the body to that length);
  // streaming chunk by chunk cost ~10 % of the gateway's CPU under load. Chunked bodies stream.
  // `req.body` is not touched on this path: it builds a ReadableStream (~3 % of the CPU), and no
  // async function wraps it (one promise less per request).
  if (Number.isFinite(declared)) return req.arrayBuffer().then(asBuffer);
  return streamBody(req, max);
}

const asBuffer = (b: ArrayBuffer): Buffer => Buffer.from(b);

async function streamBody(req: Request, max: number): Promise<Buffer> {
  if (!req.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength) : Buffer.concat(chunks);
}

const parseErrorWords: Record<string, string> = {
  InvalidSymbol: "unexpected character",
  InvalidNumberFormat: "bad number",
  PropertyNameExpected: "property name expected",
  ValueExpected: "value expected",
  ColonExpected: "colon expected",
  CommaExpected: "comma expected",
  CloseBraceExpected: "} expected",
  CloseBracketExpected: "] expected",
  EndOfFileExpected: "text after the end of the JSON value",
  InvalidCommentToken: "comments are not JSON",
  UnexpectedEndOfString: "unterminated string",
  UnexpectedEndOfNumber: "unterminated number",
  InvalidUnicode: "bad \\u escape",
  InvalidEscapeCharacter: "bad escape",
  InvalidCharacter: "control character in a string",
};

/** `malformed JSON at line 1, column 9 (byte 8): InvalidSymbol` for a body that does not parse. */
export function jsonError(text: string): string {
  const errors: ParseError[] = [];
  try {
    parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  } catch (e) {
    // the locating parser recurses per level: a body nested deeper than the stack allows is its own answer
    if (e instanceof RangeError) return "malformed JSON: nested too deeply";
    throw e;
  }
  const e = errors[0];
  if (!e) return "malformed JSON";
  const before = text.slice(0, e.offset);
  const line = before.split("\n").length;
  const column = e.offset - before.lastIndexOf("\n");
  const what = parseErrorWords[printParseErrorCode(e.error)] ?? printParseErrorCode(e.error);
  return `malformed JSON at line ${line}, column ${column} (byte ${e.offset}): ${what}`;
}

function looksLikeJson(text: string): boolean {
  const m = /^\s*([[{])/.exec(text);
  return m !== null;
}

async function formFields(raw: Buffer, contentType: string): Promise<Record<string, unknown>> {
  const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
  const out: Record<string, unknown> = {};
  for (const [k, v] of form.entries()) {
    if (typeof v !== "string") {
      // a part with a JSON content type is a field; other file parts are ignored (as upstream)
      if (v.type.includes("json")) {
        try {
          out[k] = JSON.parse(await v.text());
        } catch {
          out[k] = await v.text();
        }
      }
      continue;
    }
    out[k] = v;
  }
  return out;
}

/** Turn the request into converter items: path params ∪ body fields ∪ query (the query wins). */
export async function readRequestData(req: Request, target: RequestTarget, pathParams: Record<string, string>, maxBytes: number): Promise<ReadResult> {
  let raw: Buffer;
  try {
    raw = await readBody(req, maxBytes);
  } catch (e) {
    if (e instanceof BodyTooLarge) return { ok: false, status: 413, message: `body larger than ${maxBytes} bytes` };
    throw e;
  }
  let query: Record<string, string> | undefined;
  if (target.search !== "") {
    query = {};
    for (const [k, v] of new URLSearchParams(target.search)) query[k] = v;
  }
  let body: unknown = undefined;
  if (raw.length > 0 && req.method !== "GET" && req.method !== "HEAD") {
    const contentType = (req.headers.get("content-type") ?? "").toLowerCase();
    const text = raw.toString("utf8");
    if (contentType.includes("json") || looksLikeJson(text)) {
      try {
        body = JSON.parse(text);
      } catch {
        return { ok: false, status: 400, message: jsonError(text) };
      }
    } else if (contentType.startsWith("application/x-www-form-urlencoded") || contentType.startsWith("multipart/form-data")) {
      try {
        body = await formFields(raw, contentType);
      } catch {
        return { ok: false, status: 400, message: "malformed form data" };
      }
    } else body = { text };
  }
  const items: Array<Record<string, unknown>> = [];
  let empty = true;
  if (Array.isArray(body)) for (const el of body) empty = addItem(items, el, pathParams, query) && empty;
  else empty = addItem(items, body, pathParams, query);
  const headers = req.headers;
  return {
    ok: true,
    empty,
    data: {
      items,
      raw,
      method: req.method,
      path: target.pathname,
      // Only custom converters read the headers: copied on first use, not for every request.
      get headers(): Record<string, string> {
        const copy: Record<string, string> = {};
        headers.forEach((v, k) => (copy[k] = v));
        Object.defineProperty(this, "headers", { value: copy, enumerable: true, writable: true, configurable: true });
        return copy;
      },
      set headers(value: Record<string, string>) {
        Object.defineProperty(this, "headers", { value, enumerable: true, writable: true, configurable: true });
      },
    },
  };
}

/** One converter item from a body element (path params, then its fields, then the query); true when it is empty. */
function addItem(items: Array<Record<string, unknown>>, el: unknown, pathParams: Record<string, string>, query: Record<string, string> | undefined): boolean {
  const fields = el !== null && typeof el === "object" && !Array.isArray(el) ? (el as Record<string, unknown>) : el === undefined ? undefined : { text: typeof el === "string" ? el : JSON.stringify(el) };
  const item: Record<string, unknown> = query ? { ...pathParams, ...fields, ...query } : { ...pathParams, ...fields };
  items.push(item);
  for (const _ in item) return false;
  return true;
}
