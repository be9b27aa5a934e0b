// REST connector descriptor: the schema loads eagerly, the server code only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { RestConfigSchema, type RestConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<RestConfig> = {
  type: "rest",
  schema: RestConfigSchema,
  title: "REST: an HTTP(S) server devices push JSON, form or text data to; downlink as HTTP requests",
  async create(config, ctx) {
    const { RestConnector } = await import("./connector.ts");
    return new RestConnector(config, ctx);
  },
  /** run --check: what start() builds before it listens (downlink converters, each route with its uplink converter, the TLS files), with start()'s own function. */
  async prepare(config, ctx) {
    const { prepareServer, restDownlink } = await import("./connector.ts");
    await prepareServer(config, ctx, restDownlink(config, ctx));
  },
  async convertSample(config, sample, opts) {
    const { convertSample } = await import("./sample.ts");
    return convertSample(config, Buffer.from(sample), opts.topic, opts.configDir) as Promise<ConvertedData[]>;
  },
};
