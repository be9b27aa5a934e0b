// `tb-gw scan <protocol> ...`: device discovery. Each connector that can scan adds its own
// subcommand through its descriptor's registerScan, reusing the connector's protocol code.

import type { Command } from "commander";
import { connectorRegistry, loadDescriptor } from "../src/connectors/index.ts";

export async function register(program: Command): Promise<void> {
  const scan = program
    .command("scan")
    .description("discover devices on a bus or network (never writes to a device)")
    .addHelpText("after", "\nExamples:\n  tb-gw scan modbus /dev/ttyUSB0\n  tb-gw scan modbus 192.168.1.10:502 --units 1-10\n  tb-gw scan opcua opc.tcp://127.0.0.1:4840\n");
  // Loading every descriptor costs a little; do it only when `scan` is what was asked for.
  if (process.argv[2] !== "scan") return;
  for (const type of Object.keys(connectorRegistry)) {
    const d = await loadDescriptor(type);
    d?.registerScan?.(scan);
  }
}
