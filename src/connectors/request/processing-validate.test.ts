// `tb-gw validate` on processingFunction: the upstream sample's function compiles; a broken one is
// an error at its character inside the JSON string (escapes such as \n and \" counted as written).

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkGatewayConfig } from "../../config/load.ts";
import { SAMPLES } from "../../../test/support/paths.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-request-validate-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function errors(requestText: string): Promise<string[]> {
  writeFileSync(join(work, "request.json"), requestText);
  const main = { thingsboard: { host: "127.0.0.1", port: 1883, security: { accessToken: "abc" } }, storage: { type: "memory" }, connectors: [{ name: "Request", type: "request", configuration: "request.json" }] };
  writeFileSync(join(work, "tb_gateway.json"), JSON.stringify(main));
  const r = await checkGatewayConfig(join(work, "tb_gateway.json"), { env: {} });
  return r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line}:${d.col} ${d.path}: ${d.message}`);
}

/** 1-based line:col in `text` of the first `needle` after `after`. */
function place(text: string, after: string, needle: string): string {
  const at = text.indexOf(needle, text.indexOf(after));
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const sample = () => JSON.parse(readFileSync(join(SAMPLES, "request.json"), "utf8"));

test("the upstream sample's processingFunction validates clean", async () => {
  expect(await errors(readFileSync(join(SAMPLES, "request.json"), "utf8"))).toEqual([]);
});

test("an empty processingFunction is no function (the answer is merged as it is), as upstream", async () => {
  const raw = sample();
  raw.mapping[2].subRequests.cumPwr.processingFunction = "";
  expect(await errors(JSON.stringify(raw, null, 2))).toEqual([]);
});

test("errors point inside the string, on the line of the function where they are", async () => {
  const cases: Array<[string, string, string]> = [
    ['def process_data(data, key):\n    v = data["values"][0]["avg"]\n    return {key: float(vv) / 1000.0}', "vv", 'unknown name "vv"; the variables here are data, key, v'],
    ["def process_data(data, key):\n    for v in data: pass\n    return {}", "for", '"for" statements are not supported; use a comprehension such as sum(x for x in xs) or [f(x) for x in xs]'],
    ["def handle(data, key): return {}", "handle", "the function must be named process_data (the gateway calls process_data), not handle"],
    ["def process_data(data, key):\n  x = 1\n   y = 2\n  return {}", "y = 2", "unexpected indent"],
  ];
  for (const [fn, needle, message] of cases) {
    const raw = sample();
    raw.mapping[2].subRequests.cumPwr.processingFunction = fn;
    const text = JSON.stringify(raw, null, 2);
    const escaped = JSON.stringify(fn).slice(1, -1);
    const col = place(text, '"processingFunction"', escaped.slice(escaped.indexOf(JSON.stringify(needle).slice(1, -1))));
    expect(await errors(text)).toEqual([`${col} mapping[2].subRequests.cumPwr.processingFunction: connector "Request": Python function process_data: ${message}`]);
  }
});
