// Example custom MQTT uplink converter: upstream's CustomMqttUplinkConverter
// (extensions/mqtt/custom_mqtt_uplink_converter.py) ported line by line. Upstream's mqtt.json maps
// topic "custom/sensors/+" to it with extensionConfig {temperature: 2, humidity: 2, batteryLevel: 1}:
// the payload is hex text ("0x00fa012c63"), each key reads that many bytes, big-endian.
// Like upstream, it is built with the whole mapping entry and gets the payload decoded to text.

import type { ConvertedDeviceData, ExtensionLogger } from "../tb-gw-extension.d.ts";

export class CustomMqttUplinkConverter {
  private readonly config: { extensionConfig?: Record<string, number>; "extension-config"?: Record<string, number> };

  constructor(config: { converter?: Record<string, any> }, private readonly log: ExtensionLogger) {
    this.config = config.converter ?? {};
  }

  convert(topic: string, data: unknown): ConvertedDeviceData | undefined {
    try {
      const result: ConvertedDeviceData & { telemetry: Array<Record<string, number>> } = {
        deviceName: topic.split("/").pop()!,
        deviceType: "Thermostat",
        telemetry: [],
      };
      const bytes = [...Buffer.from(String(data).replace("0x", ""), "hex")];
      const sizes = this.config.extensionConfig ?? this.config["extension-config"];
      for (const [key, size] of Object.entries(sizes ?? {})) {
        let value = 0;
        for (let i = 0; i < size; i++) value = value * 256 + (bytes.shift() ?? 0);
        result.telemetry.push({ [key.replace("Bytes", "")]: value });
      }
      return result;
    } catch (e) {
      this.log.exception(`cannot convert the message on ${topic}`, e);
      return undefined;
    }
  }
}
