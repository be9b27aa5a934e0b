// `tb-gw new connector NAME`: write a working custom connector skeleton into a config folder.

import type { Command } from "commander";

export function register(program: Command): void {
  const cmd = program
    .command("new")
    .exitOverride((err) => process.exit(err.code.startsWith("commander.help") || err.code === "commander.version" ? 0 : 2))
    .description("write a starting point for your own code (see `tb-gw new connector --help`)");
  cmd
    .command("connector")
    .exitOverride((err) => process.exit(err.code.startsWith("commander.help") || err.code === "commander.version" ? 0 : 2))
    .argument("<name>", "connector type and folder name: lower-case letters, digits, - and _ (e.g. my-sensor)")
    .description("write a custom connector skeleton (TypeScript) that runs as it is: module, config file and a test")
    .option("--dir <folder>", "the config folder (where tb_gateway.json is)", ".")
    .option("--config <file>", "main config to add the connector to (default: tb_gateway.json in --dir, when there is one)")
    .addHelpText(
      "after",
      `
It writes, in the config folder:
  extensions/<name>/<name>_connector.ts        the connector class (sends a counter every 5 s, answers RPC "ping")
  extensions/<name>/<name>_connector.test.ts   a test: BUN_BE_BUN=1 tb-gw test extensions/<name>/<name>_connector.test.ts
  extensions/tb-gw-extension.d.ts              the types of the connector contract, for your editor
  <name>.json                                  the connector's config file
and adds { "type": "<name>", "class": "<Name>Connector", "configuration": "<name>.json" } to tb_gateway.json.
Then \`tb-gw run\` starts it. Existing files are never overwritten.

Example:
  cd /etc/tb-gw && tb-gw new connector my-sensor
`,
    )
    .action(async (name: string, opts: { dir: string; config?: string }) => {
      const { join } = await import("node:path");
      const { knownConnectorTypes } = await import("../src/connectors/index.ts");
      const { checkName, writeSkeleton } = await import("../src/connectors/custom/skeleton.ts");
      const bad = checkName(name, knownConnectorTypes());
      if (bad) {
        process.stderr.write(`tb-gw new connector: ${bad}\n`);
        process.exitCode = 2;
        return;
      }
      const r = writeSkeleton(name, opts.dir, opts.config ?? join(opts.dir, "tb_gateway.json"));
      for (const f of r.written) process.stdout.write(`wrote ${f}\n`);
      if (r.addedTo) process.stdout.write(`added connector "${r.entry.name}" to ${r.addedTo}\n`);
      else process.stdout.write(`add this entry to "connectors" in tb_gateway.json:\n  ${JSON.stringify(r.entry)}\n`);
      process.stdout.write(`test it:  ${r.testCommand}\nrun it:   tb-gw run\n`);
    });
}
