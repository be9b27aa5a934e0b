// CAN connector descriptor: the schema loads eagerly, the bus code only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import { CanConfigSchema, type CanConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<CanConfig> = {
  type: "can",
  schema: CanConfigSchema,
  title: "CAN bus (slcan serial adapters; SocketCAN): frames by arbitration id and command to typed values, polling, writes",
  async create(config, ctx) {
    const { CanConnector } = await import("./connector.ts");
    return new CanConnector(config, ctx);
  },
};
