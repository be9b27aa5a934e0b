// `tb-gw validate --sample`: run the mapping(s) whose filter matches the topic on one payload,
// offline, with the connector's own converters.
import type { ConvertedData } from "../../core/model.ts";
import { Logger } from "../../observe/logger.ts";
import { createConverter } from "./converters/index.ts";
import type { MqttConfig } from "./schema.ts";
import { compileFilter } from "./topic.ts";

export async function convertSample(config: MqttConfig, payload: Buffer, topic: string | undefined, configDir: string): Promise<ConvertedData[]> {
  const log = new Logger("mqtt-sample");
  const matching = config.mapping.map((m, i) => ({ m, i })).filter(({ m }) => topic === undefined || compileFilter(m.topicFilter)(topic));
  if (matching.length === 0) {
    const filters = config.mapping.map((m) => m.topicFilter).join(", ");
    throw new Error(topic === undefined ? "the config has no mapping" : `no mapping matches topic ${topic} (filters: ${filters})`);
  }
  const out: ConvertedData[] = [];
  const reasons: string[] = [];
  for (const { m, i } of matching) {
    const conv = await createConverter(m, `mapping[${i}]`, configDir, log);
    const r = await conv.convert(topic ?? m.topicFilter, payload, Date.now());
    if (typeof r === "string") reasons.push(`mapping[${i}] (${m.topicFilter}): ${r}`);
    else out.push(...r);
  }
  if (out.length === 0) throw new Error(`sample dropped: ${reasons.join("; ")}`);
  return out;
}
