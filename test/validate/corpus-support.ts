// Runs the checker on one corpus folder and renders each diagnostic as an expected.txt line.

import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { checkGatewayConfig } from "../../src/config/load.ts";
import { testDescriptors } from "./test-connector.ts";

export async function actualLines(dir: string): Promise<string[]> {
  const main = ["tb_gateway.json", "tb_gateway.yaml"].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!main) throw new Error(`${dir}: no tb_gateway.json or tb_gateway.yaml`);
  const env = existsSync(join(dir, "env.json")) ? JSON.parse(readFileSync(join(dir, "env.json"), "utf8")) : {};
  const r = await checkGatewayConfig(main, { env, descriptors: testDescriptors });
  return r.diagnostics.map((d) => `${relative(dir, d.file)}:${d.line}:${d.col}: ${d.severity}: ${d.message.split(dir).join("<dir>")}`);
}
