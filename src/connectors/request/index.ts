// Request connector descriptor: the schema loads eagerly, the polling code only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { RequestConfigSchema, type RequestConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<RequestConfig> = {
  type: "request",
  schema: RequestConfigSchema,
  title: "Request: polls HTTP(S) endpoints and converts their JSON answers; downlink as HTTP requests",
  async create(config, ctx) {
    const { RequestConnector } = await import("./connector.ts");
    return new RequestConnector(config, ctx);
  },
  /** run --check: what start() builds before its first request (downlink converters, each mapping's URL, sub-requests and uplink converter), with start()'s own function. */
  async prepare(config, ctx) {
    const { preparePolls, requestDownlink } = await import("./connector.ts");
    await preparePolls(config, ctx, requestDownlink(config, ctx));
  },
  async convertSample(config, sample, opts) {
    const { convertSample } = await import("./sample.ts");
    return convertSample(config, Buffer.from(sample), opts.topic, opts.configDir) as Promise<ConvertedData[]>;
  },
};
