// `tb-gw schema [kind]`: the JSON Schema of each config kind, for editors and documentation.

import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("schema")
    // Usage errors exit 2 (subcommands do not inherit the program's exitOverride set after them).
    .exitOverride((err) => process.exit(err.code.startsWith("commander.help") || err.code === "commander.version" ? 0 : 2))
    .argument("[kind]", '"main" for tb_gateway.json, or a connector type such as "modbus"; default: all')
    .description("print the JSON Schema of a config kind (editors use it to complete and check configs)")
    .option("--out <dir>", "write one file per kind, <kind>.schema.json, into this folder instead of printing")
    .option("--types", "print the TypeScript types of custom connectors and converters (tb-gw-extension.d.ts) instead")
    .addHelpText(
      "after",
      `
Editors such as VS Code complete and check a config while you type when the file names its schema:
  { "$schema": "./schemas/main.schema.json", "thingsboard": { ... } }

Examples:
  tb-gw schema main                         print the main config's schema
  tb-gw schema --out config-templates/schemas    write main.schema.json, modbus.schema.json, ...
  tb-gw schema                              list the kinds
  tb-gw schema --types > extensions/tb-gw-extension.d.ts    types for writing a custom connector
`,
    )
    .action(async (kind: string | undefined, opts: { out?: string; types?: boolean }) => {
      if (opts.types) {
        process.stdout.write((await import("../src/connectors/custom/skeleton.ts")).EXTENSION_TYPES);
        return;
      }
      const { schemaKinds, jsonSchemaFor, schemaFileText } = await import("../src/config/json-schema.ts");
      const kinds = schemaKinds();
      if (kind && !kinds.includes(kind.toLowerCase())) {
        process.stderr.write(`tb-gw schema: unknown kind "${kind}"; kinds: ${kinds.join(", ")}\n`);
        process.exitCode = 2;
        return;
      }
      if (opts.out) {
        const { mkdirSync, writeFileSync } = await import("node:fs");
        const { join } = await import("node:path");
        mkdirSync(opts.out, { recursive: true });
        for (const k of kind ? [kind.toLowerCase()] : kinds) {
          const file = join(opts.out, `${k}.schema.json`);
          writeFileSync(file, schemaFileText((await jsonSchemaFor(k))!));
          process.stdout.write(`wrote ${file}\n`);
        }
        return;
      }
      if (!kind) {
        process.stdout.write(`config kinds: ${kinds.join(", ")}\nrun \`tb-gw schema <kind>\` to print one, or --out DIR to write all\n`);
        return;
      }
      process.stdout.write(schemaFileText((await jsonSchemaFor(kind.toLowerCase()))!));
    });
}
