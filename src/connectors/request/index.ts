// Request connector descriptor: the schema loads eagerly, the polling code only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { RequestConfigSchema, type RequestConfig } from "./schema.ts";
import { errorText } from "../../observe/logger.ts";

export const descriptor: ConnectorDescriptor<RequestConfig> = {
  type: "request",
  schema: RequestConfigSchema,
  title: "Request: polls HTTP(S) endpoints and converts their JSON answers; downlink as HTTP requests",
  async create(config, ctx) {
    const { RequestConnector } = await import("./connector.ts");
    return new RequestConnector(config, ctx);
  },
  /** run --check: each mapping's URL and uplink converter, as start() builds them (downlink rules: in create). */
  async prepare(config, ctx) {
    const { hostUrl } = await import("./connector.ts");
    const { absoluteUrl } = await import("../../common/http/downlink.ts");
    const { createRequestConverter } = await import("./converter.ts");
    const host = hostUrl(config.host);
    for (const [index, mapping] of config.mapping.entries()) {
      const url = absoluteUrl(mapping.url, host);
      try {
        await createRequestConverter(mapping, ctx.configDir, ctx.log);
      } catch (e) {
        ctx.log.error(`mapping[${index}] (${url}) not polled: converter not loaded: ${errorText(e)}`);
      }
    }
  },
  async convertSample(config, sample, opts) {
    const { convertSample } = await import("./sample.ts");
    return convertSample(config, Buffer.from(sample), opts.topic, opts.configDir) as Promise<ConvertedData[]>;
  },
};
