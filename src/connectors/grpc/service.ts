// The gRPC connector server as a gateway service: started by the gateway when `grpc.enabled` is
// true in tb_gateway.json, before the connectors, so connectors of type grpc find it.

import type { ServiceDescriptor } from "../../core/connector.ts";
import { GrpcSchema, type GrpcConfig } from "../../config/main-schema.ts";
import type { GrpcServer } from "./server.ts";

export const service: ServiceDescriptor<GrpcServer> = {
  enabled: (section) => !!section && typeof section === "object" && (section as { enabled?: unknown }).enabled === true,
  async start(section, env) {
    const cfg: GrpcConfig = GrpcSchema.parse(section);
    const { GrpcServer } = await import("./server.ts");
    return GrpcServer.start(cfg, env.log);
  },
};
