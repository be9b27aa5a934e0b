// useGRPCForce: a connectors[] entry of a built-in type with `"useGRPCForce": true` runs the
// connector's Python gRPC twin as a separate process (spec grpc.md §4.1) instead of tb-gw's own
// connector. src/connectors/index.ts picks this descriptor for such entries.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import { z } from "../../config/zod.ts";

/** The file belongs to the Python process: tb-gw hands it over as it is and does not check it against its own connector's schema. */
export const ForcedConnectorConfigSchema = z
  .looseObject({})
  .check(z.describe("Settings of a built-in connector run as a Python gRPC process (useGRPCForce): passed to the process as they are"));

export type ForcedConnectorConfig = z.infer<typeof ForcedConnectorConfigSchema>;

export function forcedGrpcDescriptor(type: string): ConnectorDescriptor<ForcedConnectorConfig> {
  return {
    type,
    schema: ForcedConnectorConfigSchema,
    title: `${type} connector run as a separate Python gRPC process (useGRPCForce)`,
    async create(config, ctx) {
      const { createForcedConnector } = await import("./forced-connector.ts");
      return createForcedConnector(type, config, ctx);
    },
  };
}
