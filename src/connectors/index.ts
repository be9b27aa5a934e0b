// The connector registry: one line per connector. Each entry loads only the connector's
// descriptor module (schema + a lazy `create`), so protocol libraries load only when used.

import type { ConnectorDescriptor } from "../core/connector.ts";

type Loader = () => Promise<{ descriptor: ConnectorDescriptor<any> }>;

export const connectorRegistry: Record<string, Loader> = {
  opcua: () => import("./opcua/index.ts"),
  modbus: () => import("./modbus/index.ts"),
  bacnet: () => import("./bacnet/index.ts"),
  mqtt: () => import("./mqtt/index.ts"),
  snmp: () => import("./snmp/index.ts"),
  ble: () => import("./ble/index.ts"),
  socket: () => import("./socket/index.ts"),
  can: () => import("./can/index.ts"),
};

export function knownConnectorTypes(): string[] {
  return Object.keys(connectorRegistry).sort();
}

export async function loadDescriptor(type: string): Promise<ConnectorDescriptor<any> | undefined> {
  const load = connectorRegistry[type.toLowerCase()];
  return load ? (await load()).descriptor : undefined;
}
