// `tb-gw validate [PATH]`: check the main config and every connector config before deploying.

import { type Command, Option } from "commander";

export function register(program: Command): void {
  program
    .command("validate")
    // Usage errors exit 2 (subcommands do not inherit the program's exitOverride set after them).
    .exitOverride((err) => process.exit(err.code.startsWith("commander.help") || err.code === "commander.version" ? 0 : 2))
    .argument("[paths...]", "main config file(s) (tb_gateway.json or .yaml); default: the same search as `run`. With several, a device two of them poll is a warning")
    .description("check the gateway config and every connector config it names, without starting anything")
    .addOption(new Option("--format <format>", "output as readable text or a JSON list for scripts").choices(["text", "json"]).default("text"))
    .option("--strict", "treat warnings as errors (exit 1 when there is any warning)")
    .option("-q, --quiet", "print errors only: no warnings, no summary line")
    .option("--sample <file>", "run a connector's converter on this sample payload and print what it would send")
    .option("--connector <name>", "with --sample: the connector (its name in the main config) whose converter to use")
    .option("--topic <topic>", "with --sample: the topic (or address) the sample arrived on, to pick the mapping")
    .option("--instance <ids>", "check the config as instance <id> would run it (default: $TB_GW_INSTANCE); a list (1,2,3) checks it as each, and warns about a device two instances poll")
    .addHelpText(
      "after",
      `
What it checks:
  JSON/YAML syntax (trailing commas, comments, unquoted names, duplicate keys, BOM, tabs in YAML),
  every field against the schema of its config kind (unknown fields with a "did you mean",
  wrong types, out-of-range values, missing required fields, unknown connector types),
  files that must exist (connector files, certificates), two connectors with one name, port
  clashes, duplicate device names, credentials with stray spaces, TLS settings vs port,
  whether the storage folder is writable and its size bound fits the disk, and connector advice
  (an MQTT shared subscription with a persistent session). Given several configs (paths, or
  --instance 1,2,3), a device that two of them poll (Modbus host:port and unit, OPC-UA endpoint
  and node, BACnet address and device id, SNMP agent) is a warning.
  Each problem is printed as  file:line:col: error|warning: message  with the line and a caret.
  Nothing is written and nothing is contacted over the network.

Exit codes:
  0  valid (warnings allowed unless --strict)
  1  errors found (or, with --sample, the converter produced nothing)
  2  usage error: no config found, bad option

Examples:
  tb-gw validate                                   check the config found like \`run\` finds it
  tb-gw validate /etc/tb-gw/tb_gateway.json --strict
  tb-gw validate config/tb_gateway.yaml --format json | jq '.diagnostics[]'
  tb-gw validate --sample payload.json --connector "MQTT Broker Connector" --topic sensor/data
  tb-gw validate /etc/tb-gw/tb_gateway.json --instance 1,2,3   one config run as tb-gw@1..3
  tb-gw validate site-a/tb_gateway.json site-b/tb_gateway.json  two gateways must not poll one device
`,
    )
    .action(async (path: string[], opts: Record<string, unknown>) => {
      const { runValidate } = await import("../src/config/validate-command.ts");
      const color = opts.format !== "json" && !!process.stdout.isTTY && !process.env.NO_COLOR;
      const code = await runValidate(path, {
        format: opts.format as "text" | "json",
        strict: !!opts.strict,
        quiet: !!opts.quiet,
        color,
        sample: opts.sample as string | undefined,
        connector: opts.connector as string | undefined,
        topic: opts.topic as string | undefined,
        instance: opts.instance as string | undefined,
      });
      process.exitCode = code;
    });
}
