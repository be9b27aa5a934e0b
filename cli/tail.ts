// `tb-gw tail`: watch a running gateway's live telemetry, attribute updates and RPC.

import type { Command } from "commander";

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  program
    .command("tail")
    .description("show live telemetry and downlink traffic of a running gateway (attaches to its local status socket)")
    .option("--socket <path>", "status socket of the gateway; default: found automatically")
    .option("-c, --config <path>", "attach to the gateway running on this config file or folder")
    .option("--instance <id>", "attach to instance <id> of several gateways on one config (default: $TB_GW_INSTANCE)")
    .option("--list", "list the running gateways (instance, pid, config, socket) and exit")
    .option("--device <glob>", "only devices matching the glob (* ? [..]); repeatable", collect)
    .option("--key <glob>", "only keys matching the glob; repeatable", collect)
    .option("--json", "one JSON object per line (the default when stdout is not a terminal)")
    .addHelpText(
      "after",
      `
Examples:
  tb-gw tail                                   live table in the terminal
  tb-gw tail --device 'boiler-*' --key 'temp*'   only some devices and keys
  tb-gw tail --json | jq 'select(.value > 80)'   JSON lines for scripts
  tb-gw tail --list                            which gateways run here (instances of tb-gw@N too)
  tb-gw tail --instance 2                      attach to instance 2 (tb-gw run --instance 2, tb-gw@2)

On a terminal: t telemetry, a attribute updates, r RPC, space pause, q quit.
JSON lines: {"type":"telemetry"|"attribute"|"attribute-update"|"rpc"|"rpc-reply","ts","device","key","value","connector"}.
The socket is found through --socket, else the gateway of --instance (and --config), else the gateway
of --config, else $XDG_RUNTIME_DIR/tb-gw.sock
(or /tmp/tb-gw-<uid>.sock), else the only running gateway. Exit code 0 on Ctrl-C or when the
gateway stops (a message on stderr says so), 1 when no gateway can be reached.`,
    )
    .action(async (opts: { socket?: string; config?: string; device?: string[]; key?: string[]; json?: boolean; instance?: string; list?: boolean }) => {
      const { runTail } = await import("../src/observe/tail/run-tail.ts");
      process.exit(await runTail(opts));
    });
}
