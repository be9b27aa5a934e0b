// Request `subRequests`: for each item of an answer, one more request per key, whose answer enriches
// the item before conversion. A JSON object answer is merged as it is; with a `processingFunction`
// (Python `def process_data(data, key): ... return {...}`, run by the safe evaluator's statement
// layer instead of upstream's exec) the returned dict is merged instead. A sub-request that fails
// (HTTP error, bad answer, the function raising) leaves that item without its enrichment — the
// key's datapoint is then missing, the rest of the item is sent — and is logged once per change.

import { compileFunction, ExpressionSyntaxError, type PythonFunction } from "../../common/expressions/python/index.ts";
import { compileTemplate, KEEP_EXPRESSION, renderTemplate } from "../../common/expressions/index.ts";
import type { HttpResult } from "../../common/http/client.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { PollMapping } from "./schema.ts";

/** How upstream calls the function: `process_data(<the sub-request's answer>, <the subRequests key>)`. */
export const PROCESSING_FUNCTION = { name: "process_data", params: ["data", "key"], returns: "dict" } as const;

export interface SubRequest {
  key: string;
  url: ReturnType<typeof compileTemplate>;
  fn?: PythonFunction;
  /** The problem logged last (undefined: working), so each is logged once per change. */
  problem?: string;
}

/** Line and column (1-based) of `offset` in `text`, for errors inside a multi-line function. */
export function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split(/\r\n|\r|\n/);
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/** The mapping's sub-requests; one whose function does not compile is logged and left out. */
export function compileSubRequests(m: PollMapping, where: string, log: Logger): SubRequest[] {
  const out: SubRequest[] = [];
  for (const [key, sub] of Object.entries(m.subRequests ?? {})) {
    let fn: PythonFunction | undefined;
    if (sub.processingFunction !== undefined && sub.processingFunction.trim() !== "") {
      try {
        fn = compileFunction(sub.processingFunction, PROCESSING_FUNCTION);
      } catch (e) {
        const at = e instanceof ExpressionSyntaxError ? `${e.reason} (${lineCol(sub.processingFunction, e.offset)} of the function)` : errorText(e);
        log.error(`${where} subRequests.${key}.processingFunction: ${at}; this sub-request is not made (tb-gw validate shows the place in the file)`);
        continue;
      }
    }
    out.push({ key, url: compileTemplate(sub.url), fn });
  }
  return out;
}

/** Own enumerable data properties, `__proto__` included as a plain key (never a prototype change). */
function mergeInto(item: Record<string, unknown>, extra: Record<string, unknown>): void {
  for (const k of Object.keys(extra)) Object.defineProperty(item, k, { value: extra[k], enumerable: true, writable: true, configurable: true });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);

type Enrichment = { ok: true; value: Record<string, unknown> } | { ok: false; problem: string };

/** What the answer gives the item, or a problem (text without item-specific details, so it repeats exactly). */
function enrichment(sub: SubRequest, res: HttpResult): Enrichment {
  if (!res.ok) return { ok: false, problem: `answered ${res.status} ${res.statusText}` };
  const json = res.json();
  if (!sub.fn) return isObject(json) ? { ok: true, value: json } : { ok: false, problem: "the answer is not a JSON object (a processingFunction can turn other answers into one)" };
  try {
    // a JSON answer as its value; any other answer as its text (Python's response.text)
    return { ok: true, value: sub.fn.call(json === undefined ? res.text() : json, sub.key) as Record<string, unknown> };
  } catch (e) {
    return { ok: false, problem: `processingFunction failed: ${errorText(e)}` };
  }
}

/**
 * Make each sub-request for each object item (in order, one at a time: the parent's concurrency
 * limit holds) and merge what it gives. Problems are summed per poll and logged when they change.
 */
export async function enrichItems(items: Array<Record<string, unknown>>, subs: SubRequest[], parentUrl: string, send: (url: string) => Promise<HttpResult>, where: string, log: Logger, stopped: () => boolean): Promise<void> {
  for (const sub of subs) {
    let failed = 0;
    let first: { problem: string; url: string } | undefined;
    for (const item of items) {
      if (stopped()) return;
      const path = String(renderTemplate(sub.url, item, KEEP_EXPRESSION));
      const url = /^https?:\/\//i.test(path) ? path : parentUrl.replace(/\/+$/, "") + "/" + path.replace(/^\/+/, "");
      let got: Enrichment;
      try {
        got = enrichment(sub, await send(url));
      } catch (e) {
        got = { ok: false, problem: errorText(e) };
      }
      if (got.ok) mergeInto(item, got.value);
      else {
        failed++;
        first ??= { problem: got.problem, url };
      }
    }
    const problem = first?.problem;
    if (problem === sub.problem) continue;
    if (problem) log.error(`${where} sub-request ${sub.key}: ${problem} (${failed} of ${items.length} item(s), e.g. ${first!.url}); those items are sent without ${sub.key}`);
    else log.info(`${where} sub-request ${sub.key}: working again`);
    sub.problem = problem;
  }
}
