// A grpc connector's file is the configuration of a connector running as its own process: tb-gw
// does not read it, only hands it over (as JSON text) when that process registers.

import { z } from "../../config/zod.ts";

export const GrpcConnectorConfigSchema = z
  .looseObject({})
  .check(z.describe("Settings of an out-of-process connector: sent as JSON text (connectorConfigurationMsg) when it registers with its key"));

export type GrpcConnectorConfig = z.infer<typeof GrpcConnectorConfigSchema>;
