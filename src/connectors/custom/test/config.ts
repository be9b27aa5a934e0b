// Config folders for the custom connector tests: the main config, upstream's custom_serial.json
// pointed at a pty, and the shipped example extension (config-templates/extensions/) copied in.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, ROOT, writeGatewayConfig, type GatewayFiles } from "../../../../test/support/gateway.ts";
import { SAMPLES } from "../../../../test/support/paths.ts";

export const SERIAL_ENTRY = { type: "serial", class: "CustomSerialConnector", name: "Custom serial connector", configuration: "custom_serial.json" };

/** Copies the shipped example extensions (and the types file) into `dir/extensions/`. */
export function copyExampleExtensions(dir: string): void {
  const from = join(ROOT, "config-templates", "extensions");
  mkdirSync(join(dir, "extensions", "serial"), { recursive: true });
  copyFileSync(join(from, "tb-gw-extension.d.ts"), join(dir, "extensions", "tb-gw-extension.d.ts"));
  for (const f of readdirSync(join(from, "serial"))) copyFileSync(join(from, "serial", f), join(dir, "extensions", "serial", f));
}

/** Upstream's custom_serial.json with only the device's port changed. */
export function serialSample(port: string): Record<string, any> {
  const c = JSON.parse(readFileSync(join(SAMPLES, "custom_serial.json"), "utf8"));
  c.devices[0].port = port;
  return c;
}

/** A config folder: tb_gateway.json listing `connectors`, the files given, the example extensions. */
export function customWorld(platformPort: number, connectors: unknown[], files: Record<string, unknown>, extra?: (dir: string) => void): GatewayFiles {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-custom-"));
  copyExampleExtensions(dir);
  extra?.(dir);
  return writeGatewayConfig(mainConfig(platformPort, { type: "memory" }, connectors), files, dir);
}

export function writeExtension(dir: string, type: string, file: string, source: string): void {
  mkdirSync(join(dir, "extensions", type), { recursive: true });
  writeFileSync(join(dir, "extensions", type, file), source);
}
