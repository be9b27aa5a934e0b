// `tb-gw run`: run the gateway on a config, or the built-in demo.

import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("run")
    .description("run the gateway: connectors read devices, data is buffered in storage and sent to the platform")
    .option("-c, --config <path>", "main config file (tb_gateway.json or .yaml); default: ./tb_gateway.json, ./config/, /etc/tb-gw/")
    .option("--demo", "start the built-in demo: a simulated device and a local platform endpoint, no ThingsBoard needed")
    .option("--demo-port <port>", "port of the demo's local broker", "18830")
    .option("--log-level <level>", "TRACE, DEBUG, INFO, WARNING or ERROR", "INFO")
    .option("--check", "load and check the config as run does and build every connector (converters, expressions, mapping plans) without starting any: nothing is connected, opened or written; exit code 0 when all is well, 1 on errors")
    .option("--instance <id>", "run as instance <id> of several on one config (default: $TB_GW_INSTANCE): ${instance} in the main config, storage folder, status socket and broker client ids get the id")
    .addHelpText(
      "after",
      `
Examples:
  tb-gw run --demo                              try tb-gw in one command
  tb-gw run --config /etc/tb-gw/tb_gateway.json  run on an existing Python-gateway config
  tb-gw run --config /etc/tb-gw/tb_gateway.json --instance 2
                                                the second of several gateways sharing one config
                                                (README "Scaling out"; systemd: tb-gw@2)

Stops gracefully on Ctrl-C / SIGTERM: connectors stop first, in-flight data is flushed, storage is
closed. A config with errors is refused with file:line:col messages (exit code 1).

Check before you run (CI, before a restart, after editing a connector file):
  tb-gw validate --config tb_gateway.json       the schema and cross-file checks only
  tb-gw run --check --config tb_gateway.json    the same checks, then each connector built as run
                                                builds it: custom converter classes looked up,
                                                expressions compiled, register and key plans made.
                                                It finds what validate cannot (a converter class
                                                missing from extensions/, an expression that does not
                                                compile) without touching a device or the platform.
  Prints one line per connector (ok / ERRORS / FAILED), problems as file:line:col; exit code 0
  when run would start every connector cleanly, 1 otherwise.`,
    )
    .action(async (opts: { config?: string; demo?: boolean; demoPort: string; logLevel: string; instance?: string; check?: boolean }) => {
      if (opts.check) {
        if (opts.demo) {
          process.stderr.write("tb-gw: --check checks a config of yours; it does not go with --demo\n");
          process.exit(2);
        }
        const { checkGatewayForRun } = await import("../src/run/check-gateway.ts");
        process.exit(await checkGatewayForRun(opts));
      }
      const { runGateway } = await import("../src/run/run-gateway.ts");
      // Exit explicitly: a library handle left open must not keep a stopped gateway alive.
      process.exit(await runGateway(opts));
    });
}
