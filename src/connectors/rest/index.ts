// REST connector descriptor: the schema loads eagerly, the server code only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { RestConfigSchema, type RestConfig } from "./schema.ts";
import { errorText } from "../../observe/logger.ts";

export const descriptor: ConnectorDescriptor<RestConfig> = {
  type: "rest",
  schema: RestConfigSchema,
  title: "REST: an HTTP(S) server devices push JSON, form or text data to; downlink as HTTP requests",
  async create(config, ctx) {
    const { RestConnector } = await import("./connector.ts");
    return new RestConnector(config, ctx);
  },
  /** run --check: downlink converters, each mapping's uplink converter and route, the TLS files, as start() builds them. */
  async prepare(config, ctx) {
    const { RestDownlink } = await import("./downlink.ts");
    const { createRestConverter } = await import("./converter.ts");
    const { compileRoute } = await import("./routes.ts");
    const r = config.requestsMapping;
    await new RestDownlink(r.attributeUpdates, r.serverSideRpc, ctx.configDir, ctx.log).loadConverters();
    for (const [i, m] of config.mapping.entries()) {
      try {
        await createRestConverter(m, ctx.configDir, ctx.log);
      } catch (e) {
        ctx.log.error(`mapping[${i}] (${m.endpoint}): converter not loaded, the endpoint answers 500: ${errorText(e)}`);
      }
      compileRoute(m.endpoint, m.HTTPMethods, undefined);
    }
    for (const rule of r.attributeRequests) compileRoute(rule.endpoint, rule.HTTPMethods, undefined);
    const s = config.server;
    if (s.SSL) {
      if (!s.security?.cert || !s.security.key) throw new Error("server.SSL is true: give server.security.cert and server.security.key (PEM files)");
      const { resolveConfigPath } = await import("../../common/tls/index.ts");
      const { accessSync, constants } = await import("node:fs");
      for (const [what, p] of [["certificate", s.security.cert], ["private key", s.security.key]] as const) {
        const full = resolveConfigPath(p, ctx.configDir);
        try {
          accessSync(full, constants.R_OK);
        } catch (e) {
          throw new Error(`cannot read the server ${what} ${full}: ${errorText(e)}`);
        }
      }
    }
  },
  async convertSample(config, sample, opts) {
    const { convertSample } = await import("./sample.ts");
    return convertSample(config, Buffer.from(sample), opts.topic, opts.configDir) as Promise<ConvertedData[]>;
  },
};
