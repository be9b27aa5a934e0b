// The editor schemas in config-templates/schemas/ are generated (`bun cli/main.ts schema --out
// config-templates/schemas`); this fails when a schema changed and the files were not regenerated.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDiagnostics } from "../../src/config/diagnostics.ts";
import { jsonSchemaFor, schemaFileText, schemaKinds } from "../../src/config/json-schema.ts";
import { checkGatewayConfig } from "../../src/config/load.ts";

const TEMPLATES = join(import.meta.dir, "../../config-templates");
const DIR = join(TEMPLATES, "schemas");
const REGENERATE = "regenerate with: node_modules/.bin/bun cli/main.ts schema --out config-templates/schemas";

describe("committed JSON Schemas", () => {
  for (const kind of schemaKinds()) {
    test(`${kind}.schema.json is up to date`, async () => {
      const file = join(DIR, `${kind}.schema.json`);
      if (!existsSync(file)) throw new Error(`${file} is missing; ${REGENERATE}`);
      const fresh = schemaFileText((await jsonSchemaFor(kind))!);
      if (readFileSync(file, "utf8") !== fresh) throw new Error(`${file} is out of date; ${REGENERATE}`);
    });
  }

  test("no schema file for a kind that no longer exists", () => {
    const kinds = new Set(schemaKinds());
    const stale = readdirSync(DIR).filter((f) => !kinds.has(f.replace(/\.schema\.json$/, "")));
    expect(stale).toEqual([]);
  });

  test("config-templates/tb_gateway.json names its schema and validates clean", async () => {
    const file = join(TEMPLATES, "tb_gateway.json");
    const text = JSON.parse(readFileSync(file, "utf8"));
    expect(existsSync(join(TEMPLATES, text.$schema))).toBe(true);
    const r = await checkGatewayConfig(file, { env: {} });
    expect(formatDiagnostics(r.diagnostics)).toBe("");
  });

  // Each connector template beside the main template, its type taken from the schema it names.
  for (const f of readdirSync(TEMPLATES).filter((f) => f.endsWith(".json") && f !== "tb_gateway.json")) {
    test(`config-templates/${f} names its schema and validates clean`, async () => {
      const ref = JSON.parse(readFileSync(join(TEMPLATES, f), "utf8")).$schema as string;
      expect(existsSync(join(TEMPLATES, ref))).toBe(true);
      const type = ref.replace(/^.*\/|\.schema\.json$/g, "");
      const dir = mkdtempSync(join(tmpdir(), "tbgw-template-"));
      try {
        const main = JSON.parse(readFileSync(join(TEMPLATES, "tb_gateway.json"), "utf8"));
        main.connectors = [{ name: `${type} template`, type, configuration: join(TEMPLATES, f) }];
        // a grpc connector's key and the server switch live in the main config (as its template's comment says)
        if (type === "grpc") Object.assign(main, { connectors: [{ ...main.connectors[0], key: "auto" }], grpc: { ...main.grpc, enabled: true } });
        writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
        const r = await checkGatewayConfig(join(dir, "tb_gateway.json"), { env: {} });
        expect(formatDiagnostics(r.diagnostics)).toBe("");
        expect(r.connectors[0]?.config).toBeDefined();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
