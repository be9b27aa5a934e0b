// The connector registry: one line per connector. Each entry loads only the connector's
// descriptor module (schema + a lazy `create`), so protocol libraries load only when used.

import { buildTarget, odbcInThisBuild } from "../build-info.ts";
import type { ConnectorDescriptor, ServiceDescriptor } from "../core/connector.ts";

type Loader = () => Promise<{ descriptor: ConnectorDescriptor<any> }>;

export const connectorRegistry: Record<string, Loader> = {
  opcua: () => import("./opcua/index.ts"),
  modbus: () => import("./modbus/index.ts"),
  bacnet: () => import("./bacnet/index.ts"),
  mqtt: () => import("./mqtt/index.ts"),
  snmp: () => import("./snmp/index.ts"),
  ble: () => import("./ble/index.ts"),
  socket: () => import("./socket/index.ts"),
  rest: () => import("./rest/index.ts"),
  request: () => import("./request/index.ts"),
  can: () => import("./can/index.ts"),
  ocpp: () => import("./ocpp/index.ts"),
  xmpp: () => import("./xmpp/index.ts"),
  ftp: () => import("./ftp/index.ts"),
  knx: () => import("./knx/index.ts"),
  grpc: () => import("./grpc/index.ts"),
  ...(odbcInThisBuild ? { odbc: () => import("./odbc/index.ts") } : {}), // native binding: absent from a build that could not compile it
};

/** Gateway services by the main-config section that enables them (started before the connectors). */
export const serviceRegistry: Record<string, () => Promise<{ service: ServiceDescriptor<any> }>> = {
  grpc: () => import("./grpc/service.ts"),
};

/**
 * Upstream connector types this build cannot run, and why: said instead of "unknown connector
 * type" so that a user moving a Python gateway config knows it is not a typo.
 */
const NOT_IN_THIS_BUILD: Record<string, string> = odbcInThisBuild
  ? {}
  : { odbc: `ODBC is not available in this build of tb-gw (${buildTarget}): it was built where the ODBC binding could not be cross-compiled (build.ts needs g++-aarch64-linux-gnu and unixodbc-dev:arm64 for that)` };

export function notInThisBuild(type: string): string | undefined {
  return NOT_IN_THIS_BUILD[type.toLowerCase()];
}

export function knownConnectorTypes(): string[] {
  return Object.keys(connectorRegistry).sort();
}

export async function loadDescriptor(type: string): Promise<ConnectorDescriptor<any> | undefined> {
  const load = connectorRegistry[type.toLowerCase()];
  return load ? (await load()).descriptor : undefined;
}

/** Whether `type` is one of upstream's built-in connector types (in this build or not), i.e. one `useGRPCForce` applies to. */
export function isBuiltInType(type: string): boolean {
  const t = type.toLowerCase();
  return t !== "grpc" && (t in connectorRegistry || notInThisBuild(t) !== undefined);
}

/**
 * The descriptor for a `connectors[]` entry: the built-in type's (or, with `"useGRPCForce": true`,
 * its Python gRPC twin run as a process: src/connectors/grpc/forced.ts), else (as upstream: any
 * other type with a `class`) a custom connector from `<configDir>/extensions/<type>/` (src/connectors/custom/).
 */
export async function descriptorForEntry(entry: { type: string; class?: unknown; useGRPCForce?: unknown }, configDir: string): Promise<ConnectorDescriptor<any> | undefined> {
  if (entry.useGRPCForce === true && isBuiltInType(entry.type)) return (await import("./grpc/forced.ts")).forcedGrpcDescriptor(entry.type.toLowerCase());
  const builtIn = await loadDescriptor(entry.type);
  if (builtIn || typeof entry.class !== "string" || entry.class === "") return builtIn;
  const { customDescriptor } = await import("./custom/index.ts");
  return customDescriptor(entry.type, entry.class, configDir);
}
