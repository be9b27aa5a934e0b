// Descriptor of the OPC-UA connector. node-opcua loads only inside create() / the scan action.

import type { Command } from "commander";
import type { ConnectorDescriptor, PollTarget } from "../../core/connector.ts";
import { OpcuaConfigSchema, type OpcuaConfig } from "./schema.ts";
import { isObj, list, text, type Obj } from "../../core/raw-config.ts";
import { errorText } from "../../observe/logger.ts";

/** OPC-UA: one target per device node pattern on the server's endpoint. */
function pollTargets(raw: Obj): PollTarget[] {
  const server = isObj(raw.server) ? raw.server : {};
  const url = text(server.url);
  if (!url) return [];
  const endpoint = url.includes("://") ? url : `opc.tcp://${url}`;
  const current = Array.isArray(raw.mapping);
  return list(current ? raw.mapping : server.mapping).flatMap((m, i) =>
    isObj(m) && text(m.deviceNodePattern) ? [{ path: current ? ["mapping", i] : ["server", "mapping", i], target: `opcua ${endpoint} node ${text(m.deviceNodePattern)}` }] : [],
  );
}

export const descriptor: ConnectorDescriptor<OpcuaConfig> = {
  type: "opcua",
  schema: OpcuaConfigSchema as unknown as ConnectorDescriptor<OpcuaConfig>["schema"],
  title: "OPC-UA client: browses devices, subscribes or polls variables, writes values and calls methods",
  pollTargets,
  async create(config, ctx) {
    const { OpcuaConnector } = await import("./connector.ts");
    return new OpcuaConnector(config, ctx);
  },
  /**
   * run --check: each mapping's device node pattern and key node references parsed with
   * discovery's own functions (devices.ts deviceNodeTarget, makeKeys), which run after connecting;
   * a mapping that does not parse is logged as discovery logs it, that mapping skipped. A custom
   * `converter` class is looked up in extensions/opcua (built per device once connected).
   */
  async prepare(config, ctx) {
    const { deviceNodeTarget, makeKeys } = await import("./devices.ts");
    const { customConverterName } = await import("./custom.ts");
    const { checkCustomUplinkClass } = await import("../../common/converters/custom-uplink.ts");
    for (const [i, m] of config.mapping.entries()) {
      try {
        deviceNodeTarget(m);
        makeKeys(m);
      } catch (e) {
        ctx.log.error(`mapping "${m.deviceNodePattern}": ${errorText(e)}`);
      }
      const extension = customConverterName(m);
      if (extension) await checkCustomUplinkClass(extension, "opcua", ctx.configDir, ctx.log, `mapping[${i}] (${m.deviceNodePattern})`);
    }
  },
  registerScan(scan: Command) {
    scan
      .command("opcua")
      .description("browse an OPC-UA server and print its node tree (node ids, data types, values)")
      .argument("<endpoint>", "server endpoint, e.g. opc.tcp://127.0.0.1:4840")
      .option("--depth <n>", "maximum browse depth below the start node", "6")
      .option("--start <node>", "start node id or path", "i=85")
      .option("--json", "print the tree as JSON")
      .option("--emit-config <file>", "write an opcua.json skeleton with the variables found (or those matching --nodes)")
      .option("--nodes <regex>", "with --emit-config: only variables whose browse path matches")
      .option("--username <name>", "user name")
      .option("--password <password>", "password")
      .option("--mode <mode>", "None | Sign | SignAndEncrypt", "None")
      .option("--policy <policy>", "security policy, e.g. Basic256Sha256")
      .option("--timeout <ms>", "request timeout", "5000")
      .addHelpText("after", "\nExamples:\n  tb-gw scan opcua opc.tcp://127.0.0.1:4840 --depth 3\n  tb-gw scan opcua opc.tcp://plc:4840 --json > tree.json\n  tb-gw scan opcua opc.tcp://plc:4840 --emit-config opcua.json --nodes 'MyObject'\n")
      .action(async (endpoint: string, opts: Record<string, string | boolean | undefined>) => {
        const { runScan } = await import("./scan.ts");
        process.exitCode = await runScan(endpoint, opts);
      });
  },
};
