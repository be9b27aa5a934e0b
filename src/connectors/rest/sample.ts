// `tb-gw validate --sample FILE --connector NAME [--topic /endpoint]`: one request body through
// the converter of the endpoint named (or of every endpoint), offline, as a POST would go.

import type { ConvertedData } from "../../core/model.ts";
import { Logger } from "../../observe/logger.ts";
import { createRestConverter } from "./converter.ts";
import { readRequestData } from "./request-data.ts";
import { compileRoute, matchRoute } from "./routes.ts";
import type { RestConfig } from "./schema.ts";

export async function convertSample(config: RestConfig, body: Buffer, endpoint: string | undefined, configDir: string): Promise<ConvertedData[]> {
  const log = new Logger("rest-sample");
  const url = new URL(endpoint ?? "/", "http://sample");
  const candidates = config.mapping.map((m, i) => ({ m, i, route: compileRoute(m.endpoint, ["POST"], m) }));
  const matching = endpoint === undefined ? candidates : candidates.filter((c) => matchRoute([c.route], "POST", url.pathname));
  if (matching.length === 0) throw new Error(endpoint === undefined ? "the config has no mapping" : `no mapping matches endpoint ${url.pathname} (endpoints: ${config.mapping.map((m) => m.endpoint).join(", ")})`);
  const out: ConvertedData[] = [];
  const reasons: string[] = [];
  for (const { m, i, route } of matching) {
    const found = matchRoute([route], "POST", url.pathname);
    const params = found && "params" in found ? found.params : {};
    const read = await readRequestData(new Request(url.href, { method: "POST", body }), { pathname: url.pathname, search: url.search.slice(1) }, params, config.server.maxBodySize);
    if (!read.ok) throw new Error(`${read.status}: ${read.message}`);
    const r = await (await createRestConverter(m, configDir, log)).convert(read.data);
    if (typeof r === "string") reasons.push(`mapping[${i}] (${m.endpoint}): ${r}`);
    else out.push(...r);
  }
  if (out.length === 0) throw new Error(`sample dropped: ${reasons.join("; ")}`);
  return out;
}
