// gRPC connector descriptor: a connectors[] entry of type "grpc" is a connector running as its own
// process (e.g. an existing Python gRPC connector) that registers with the gateway's gRPC server
// (service.ts) by the entry's `key`.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import { GrpcConnectorConfigSchema, type GrpcConnectorConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<GrpcConnectorConfig> = {
  type: "grpc",
  schema: GrpcConnectorConfigSchema,
  title: "gRPC: a connector running as its own process (upstream's gRPC connector protocol), registered by its key",
  async create(config, ctx) {
    const { createGrpcConnector } = await import("./connector.ts");
    return createGrpcConnector(config, ctx);
  },
};
