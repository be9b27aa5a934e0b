// `tb-gw validate --sample answer.json --connector NAME [--topic URL]`: one endpoint answer through
// the converter of the mapping whose url is given (or of every mapping), offline.

import type { ConvertedData } from "../../core/model.ts";
import { Logger } from "../../observe/logger.ts";
import { createRequestConverter } from "./converter.ts";
import type { RequestConfig } from "./schema.ts";

export async function convertSample(config: RequestConfig, answer: Buffer, url: string | undefined, configDir: string): Promise<ConvertedData[]> {
  const log = new Logger("request-sample");
  const norm = (u: string) => u.replace(/^\/+/, "");
  const matching = config.mapping.map((m, i) => ({ m, i })).filter(({ m }) => url === undefined || norm(m.url) === norm(url));
  if (matching.length === 0) throw new Error(`no mapping has url ${url} (urls: ${config.mapping.map((m) => m.url).join(", ")})`);
  let body: unknown = answer;
  try {
    body = JSON.parse(answer.toString("utf8"));
  } catch {
    // raw answer: only a custom converter can read it
  }
  const out: ConvertedData[] = [];
  const reasons: string[] = [];
  for (const { m, i } of matching) {
    const r = await (await createRequestConverter(m, configDir, log)).convert(body, Date.now());
    if (typeof r === "string") reasons.push(`mapping[${i}] (${m.url}): ${r}`);
    else out.push(...r);
  }
  if (out.length === 0) throw new Error(`sample dropped: ${reasons.join("; ")}`);
  return out;
}
