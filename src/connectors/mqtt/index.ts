// MQTT connector descriptor: schema and a lazy `create` (the connector's code loads only when a config uses it).
import type { ConnectorDescriptor } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { lintMqtt } from "./lint.ts";
import { MqttConfigSchema, type MqttConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<MqttConfig> = {
  type: "mqtt",
  title: "MQTT: subscribe to a device broker and convert JSON, bytes or custom payloads",
  schema: MqttConfigSchema,
  lint: (raw) => lintMqtt(raw),
  async create(config, ctx) {
    const { MqttConnector } = await import("./connector.ts");
    return new MqttConnector(config, ctx);
  },
  /** run --check: each mapping's route and uplink converter and the broker's client options, with start()'s own functions. */
  async prepare(config, ctx) {
    const { mappingRoutes } = await import("./connector.ts");
    const { clientOptions } = await import("./client-options.ts");
    await mappingRoutes(config, ctx);
    clientOptions(config.broker, ctx.configDir, ctx.log, ctx.instance);
  },
  async convertSample(config, sample, opts) {
    const { convertSample } = await import("./sample.ts");
    return convertSample(config, Buffer.from(sample), opts.topic, opts.configDir) as Promise<ConvertedData[]>;
  },
};
