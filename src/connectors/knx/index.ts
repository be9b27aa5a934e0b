// KNX connector descriptor: the schema loads eagerly, knxultimate only when a config uses it.

import type { ConnectorDescriptor, ConnectorWarning, PollTarget } from "../../core/connector.ts";
import { misspelledDpt } from "./dpt.ts";
import { isObj, list, text, type Obj } from "../../core/raw-config.ts";
import { KnxConfigSchema, type KnxConfig } from "./schema.ts";

/** KNX: one target per device (the interface and the device's name expression). */
function pollTargets(raw: Obj): PollTarget[] {
  const client = isObj(raw.client) ? raw.client : {};
  const iface = `${text(client.gatewayIp) || text(client.gatewayIP) || text(client.multicastGroup, "224.0.23.12")}:${text(client.gatewayPort, "3671")}`;
  return list(raw.devices).flatMap((d, i) => (isObj(d) && isObj(d.deviceInfo) ? [{ path: ["devices", i], target: `knx ${iface} ${text(d.deviceInfo.deviceNameExpression)}` }] : []));
}

/** Type names that are upstream's misspellings: accepted, with a note of what they are read as. */
function lint(raw: Obj): ConnectorWarning[] {
  const warnings: ConnectorWarning[] = [];
  const check = (value: unknown, path: Array<string | number>) => {
    const meant = typeof value === "string" ? misspelledDpt(value) : undefined;
    if (meant) warnings.push({ path, message: `"${value}" is not an xknx type name (upstream cannot write it); read as "${meant}": write "${meant}"` });
  };
  list(raw.attributeUpdates).forEach((r, i) => isObj(r) && check(r.dataType, ["attributeUpdates", i, "dataType"]));
  list(raw.serverSideRpc).forEach((r, i) => isObj(r) && check(r.dataType, ["serverSideRpc", i, "dataType"]));
  list(raw.devices).forEach((d, i) => {
    if (!isObj(d)) return;
    for (const section of ["attributes", "timeseries"]) list(d[section]).forEach((k, j) => isObj(k) && check(k.type, ["devices", i, section, j, "type"]));
  });
  return warnings;
}

export const descriptor: ConnectorDescriptor<KnxConfig> = {
  type: "knx",
  schema: KnxConfigSchema,
  title: "KNX over KNXnet/IP (tunnelling, routing): polls group addresses with their datapoint types, writes for attribute updates and RPC",
  pollTargets,
  lint,
  async create(config, ctx) {
    const { KnxConnector } = await import("./connector.ts");
    return new KnxConnector(config, ctx);
  },
  /** run --check: the bus options, each device's plan and custom uplink converter, as start() builds them. */
  async prepare(config, ctx) {
    const { busOptions, loadDeviceUplink } = await import("./connector.ts");
    const { planDevice } = await import("./converter.ts");
    busOptions(config.client);
    for (const [index, d] of config.devices.entries()) {
      planDevice(d);
      await loadDeviceUplink(d, index, ctx);
    }
  },
};
