// SNMP connector descriptor: the schema loads eagerly, net-snmp only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import { SnmpConfigSchema, type SnmpConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<SnmpConfig> = {
  type: "snmp",
  schema: SnmpConfigSchema,
  title: "SNMP manager: polls agents (v1, v2c, v3) with get/walk/bulk/table, writes with SET",
  async create(config, ctx) {
    const { SnmpConnector } = await import("./connector.ts");
    return new SnmpConnector(config, ctx);
  },
};
