// Upstream's rest.json for the end-to-end tests, adapted only in host and port, and the config
// folder's extensions/rest/ holding the JS converter the sample's /anon2 endpoint names.

import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SAMPLES } from "../../../../test/support/paths.ts";

const SAMPLE = join(SAMPLES, "rest.json");

/** rest.json with only hosts and ports changed: the server's port, and the device's in URLs. */
export function adaptedRestSample(restPort: number, devicePort: number): Record<string, any> {
  const text = readFileSync(SAMPLE, "utf8").replaceAll("127.0.0.1:5001", `127.0.0.1:${devicePort}`).replaceAll("127.0.0.1:5000", `127.0.0.1:${restPort}`);
  const raw = JSON.parse(text);
  raw.server.port = String(restPort);
  return raw;
}

export function withExtension(folder: string): string {
  mkdirSync(join(folder, "extensions/rest"), { recursive: true });
  copyFileSync(join(import.meta.dir, "extension.ts"), join(folder, "extensions/rest/custom_rest_uplink_converter.ts"));
  return folder;
}
