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
closed. A config with errors is refused with file:line:col messages (exit code 1); check one
without running it with \`tb-gw validate\`.`,
    )
    .action(async (opts: { config?: string; demo?: boolean; demoPort: string; logLevel: string; instance?: string }) => {
      const { runGateway } = await import("../src/run/run-gateway.ts");
      // Exit explicitly: a library handle left open must not keep a stopped gateway alive.
      process.exit(await runGateway(opts));
    });
}
