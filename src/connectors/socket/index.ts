// Socket connector descriptor: schema eagerly, the connector's code only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { SocketConfigSchema, type SocketConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<SocketConfig> = {
  type: "socket",
  schema: SocketConfigSchema,
  title: "Socket: TCP (server or client) and UDP devices sending bytes, converted by byte positions",
  async create(config, ctx) {
    const { SocketConnector } = await import("./connector.ts");
    return new SocketConnector(config, ctx);
  },
  /** run --check: each device's custom converter, as start() loads it (rules and transport: in create, nothing opened). */
  async prepare(config, ctx) {
    const { loadDeviceConverter } = await import("./connector.ts");
    for (const d of config.devices) await loadDeviceConverter(d, ctx);
  },
  /** `--topic` is the sender's "ip:port" (picks the devices by address); without it every device converts the sample. */
  async convertSample(config, sample, opts) {
    const { sampleData } = await import("./converter.ts");
    return sampleData(config.devices, Buffer.from(sample), opts.topic);
  },
};
