// SNMP connector descriptor: the schema loads eagerly, net-snmp only when a config uses it.

import type { ConnectorDescriptor, PollTarget } from "../../core/connector.ts";
import { SnmpConfigSchema, type SnmpConfig } from "./schema.ts";
import { isObj, list, text, type Obj } from "../../core/raw-config.ts";

/** SNMP: one target per agent (ip:port). */
function pollTargets(raw: Obj): PollTarget[] {
  return list(raw.devices).flatMap((d, i) => (isObj(d) && text(d.ip) ? [{ path: ["devices", i], target: `snmp ${text(d.ip)}:${text(d.port, "161")}` }] : []));
}

export const descriptor: ConnectorDescriptor<SnmpConfig> = {
  type: "snmp",
  schema: SnmpConfigSchema,
  title: "SNMP manager: polls agents (v1, v2c, v3) with get/walk/bulk/table, writes with SET",
  pollTargets,
  async create(config, ctx) {
    const { SnmpConnector } = await import("./connector.ts");
    return new SnmpConnector(config, ctx);
  },
  /** run --check: each device's converter class (both directions), as start() loads it (the SNMP sessions are not opened). */
  async prepare(config, ctx) {
    const { loadDeviceConverter } = await import("./connector.ts");
    for (const d of config.devices) await loadDeviceConverter(d, ctx);
  },
};
