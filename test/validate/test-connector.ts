// A tiny connector descriptor for config tests, so they do not depend on which real connectors
// are registered. Its schema uses every tb-gw role and its converter maps a JSON sample 1:1.

import { z } from "../../src/config/zod.ts";
import type { ConnectorDescriptor } from "../../src/core/connector.ts";
import type { ConvertedData } from "../../src/core/model.ts";

const DeviceSchema = z.object({
  deviceName: z.string().check(z.minLength(1), z.meta({ tbgw: "deviceName" })),
  deviceType: z._default(z.string(), "default"),
  pollPeriod: z._default(z.number().check(z.int(), z.minimum(100)), 5000),
  timeseries: z._default(z.array(z.string()), []),
  attributes: z._default(z.array(z.string()), []),
});

export const TestConfigSchema = z.object({
  name: z.string(),
  listenPort: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(65535), z.meta({ tbgw: "listenPort" }))),
  caFile: z.optional(z.string().check(z.meta({ tbgw: "file" }))),
  devices: z._default(z.array(DeviceSchema), []),
});
type TestConfig = z.infer<typeof TestConfigSchema>;

export const testDescriptor: ConnectorDescriptor<TestConfig> = {
  type: "testdev",
  title: "test connector",
  schema: TestConfigSchema,
  async create() {
    throw new Error("the test connector does not run");
  },
  async convertSample(config, sample) {
    const payload = JSON.parse(new TextDecoder().decode(sample)) as Record<string, unknown>;
    const out: ConvertedData[] = [];
    for (const d of config.devices) {
      const pick = (keys: string[]) => Object.fromEntries(keys.filter((k) => k in payload).map((k) => [k, payload[k]]));
      const values = pick(d.timeseries);
      const attributes = pick(d.attributes);
      if (!Object.keys(values).length && !Object.keys(attributes).length) continue;
      out.push({ deviceName: d.deviceName, deviceType: d.deviceType, attributes, telemetry: Object.keys(values).length ? [{ ts: 1700000000000, values }] : [] });
    }
    return out;
  },
};

/** Same connector without an offline converter. */
export const noSampleDescriptor: ConnectorDescriptor<TestConfig> = { ...testDescriptor, type: "nosample", convertSample: undefined };

export const testDescriptors = { testdev: testDescriptor, nosample: noSampleDescriptor };
