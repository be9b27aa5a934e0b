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
  /** run --check: each device's custom downlink and uplink converters, with start()'s own functions (routes and polls: in create). */
  async prepare(config, ctx) {
    const { loadDeviceDownlink, loadDeviceUplink } = await import("./connector.ts");
    for (const d of config.devices) {
      await loadDeviceDownlink(d, ctx);
      await loadDeviceUplink(d, ctx);
    }
  },
  /** The sample is one frame's data bytes; `--topic` is its arbitration id (without it: every configured id). */
  async convertSample(config, sample, opts) {
    const { buildRoutes, convertFrame } = await import("./converter.ts");
    const routes = buildRoutes(config);
    const ids = opts.topic !== undefined ? [Number(opts.topic)] : [...routes.keys()];
    if (ids.some((id) => !Number.isInteger(id))) throw new Error(`--topic is the frame's arbitration id (a number), got "${opts.topic}"`);
    return ids.flatMap((id) => convertFrame(routes.get(id) ?? [], sample, Date.now()).data);
  },
};
