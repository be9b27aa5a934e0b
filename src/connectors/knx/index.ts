// KNX connector descriptor: the schema loads eagerly, knxultimate only when a config uses it.

import type { ConnectorDescriptor, PollTarget } from "../../core/connector.ts";
import { isObj, list, text, type Obj } from "../../core/raw-config.ts";
import { KnxConfigSchema, type KnxConfig } from "./schema.ts";

/** KNX: one target per device (the interface and the device's name expression). */
function pollTargets(raw: Obj): PollTarget[] {
  const client = isObj(raw.client) ? raw.client : {};
  const iface = `${text(client.gatewayIp) || text(client.gatewayIP) || text(client.multicastGroup, "224.0.23.12")}:${text(client.gatewayPort, "3671")}`;
  return list(raw.devices).flatMap((d, i) => (isObj(d) && isObj(d.deviceInfo) ? [{ path: ["devices", i], target: `knx ${iface} ${text(d.deviceInfo.deviceNameExpression)}` }] : []));
}

export const descriptor: ConnectorDescriptor<KnxConfig> = {
  type: "knx",
  schema: KnxConfigSchema,
  title: "KNX over KNXnet/IP (tunnelling, routing): polls group addresses with their datapoint types, writes for attribute updates and RPC",
  pollTargets,
  async create(config, ctx) {
    const { KnxConnector } = await import("./connector.ts");
    return new KnxConnector(config, ctx);
  },
};
