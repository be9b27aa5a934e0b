// The upstream samples name custom uplink converter classes (mqtt.json CustomMqttUplinkConverter,
// request.json, rest.json, snmp.json) that upstream ships as Python files. These stand-ins let a
// copy of the samples build cleanly (`run --check`, the config fuzz), so that what is left to
// report is what a test changed.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const CLASSES: Record<string, string> = {
  mqtt: "CustomMqttUplinkConverter",
  request: "CustomRequestUplinkConverter",
  rest: "CustomRestUplinkConverter",
  snmp: "CustomSNMPConverter",
};

/** Writes `<configDir>/extensions/<type>/sample-converters.js` for each class the samples name. */
export function writeSampleExtensions(configDir: string): void {
  for (const [type, cls] of Object.entries(CLASSES)) {
    mkdirSync(join(configDir, "extensions", type), { recursive: true });
    writeFileSync(join(configDir, "extensions", type, "sample-converters.js"), `export class ${cls} {\n  constructor(config) { this.config = config; }\n  convert(_config, _data) { return { deviceName: "stand-in", deviceType: "default", attributes: [], telemetry: [] }; }\n}\n`);
  }
}
