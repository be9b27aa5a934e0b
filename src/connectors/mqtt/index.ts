// MQTT connector descriptor: schema and a lazy `create` (the connector's code loads only when a config uses it).
import type { ConnectorDescriptor } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { lintMqtt } from "./lint.ts";
import { MqttConfigSchema, type MqttConfig } from "./schema.ts";
import { errorText } from "../../observe/logger.ts";

export const descriptor: ConnectorDescriptor<MqttConfig> = {
  type: "mqtt",
  title: "MQTT: subscribe to a device broker and convert JSON, bytes or custom payloads",
  schema: MqttConfigSchema,
  lint: (raw) => lintMqtt(raw),
  async create(config, ctx) {
    const { MqttConnector } = await import("./connector.ts");
    return new MqttConnector(config, ctx);
  },
  /** run --check: each mapping's uplink converter and the broker's client options, as start() builds them. */
  async prepare(config, ctx) {
    const { createConverter } = await import("./converters/index.ts");
    const { clientOptions } = await import("./client-options.ts");
    for (const [i, m] of config.mapping.entries()) {
      try {
        await createConverter(m, `mapping[${i}]`, ctx.configDir, ctx.log);
      } catch (e) {
        ctx.log.error(`mapping[${i}] (${m.topicFilter}) skipped: ${errorText(e)}`);
      }
    }
    clientOptions(config.broker, ctx.configDir, ctx.log, ctx.instance);
  },
  async convertSample(config, sample, opts) {
    const { convertSample } = await import("./sample.ts");
    return convertSample(config, Buffer.from(sample), opts.topic, opts.configDir) as Promise<ConvertedData[]>;
  },
};
