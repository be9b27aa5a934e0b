#!/usr/bin/env bun
// tb-gw command line. Each subcommand lives in its own file and imports its implementation
// lazily inside its action, so `tb-gw --version` and `--help` stay fast.

import { Command } from "commander";
import { versionText } from "../src/build-info.ts";
import { errorText } from "../src/observe/logger.ts";

const subcommands: Array<() => Promise<{ register(program: Command): void | Promise<void> }>> = [
  () => import("./run.ts"),
  () => import("./validate.ts"),
  () => import("./schema.ts"),
  () => import("./scan.ts"),
  () => import("./tail.ts"),
  () => import("./bench.ts"),
  () => import("./new.ts"),
];

export async function main(argv: string[]): Promise<void> {
  // The binary starts with JIT thresholds raised to keep an idle gateway small (build.ts); only
  // `run` benefits, the other commands get the normal policy at once.
  if (argv[2] !== "run") (await import("../src/run/jit-policy.ts")).useNormalJitPolicy();
  const program = new Command("tb-gw")
    .description(
      "IoT gateway for ThingsBoard: connects field devices (Modbus, MQTT, OPC-UA, BACnet, SNMP, ...) to the platform.\n" +
        "Reads the Python ThingsBoard IoT Gateway's tb_gateway.json and connector files unchanged.",
    )
    .version(versionText(), "-V, --version", "print the version and the target it was built for, and exit")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      "\nExamples:\n  tb-gw run --demo                      try it: simulated device + local platform endpoint\n" +
        "  tb-gw run --config /etc/tb-gw/tb_gateway.json\n",
    );
  // Exit code 2 for usage errors (unknown option, missing argument), as scripts expect. Set before
  // the subcommands are added so that they inherit it.
  program.exitOverride((err) => {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") process.exit(0);
    process.exit(2);
  });
  for (const load of subcommands) await (await load()).register(program);
  await program.parseAsync(argv);
}

if (import.meta.main) {
  main(process.argv).catch((e: unknown) => {
    process.stderr.write(`tb-gw: ${errorText(e)}\n`);
    process.exit(1);
  });
}
