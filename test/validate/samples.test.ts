// The upstream gateway's own sample configs must validate clean: they are what users start from.
// Connector types not registered yet can only be checked for syntax; the test name says so.

import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDiagnostics } from "../../src/config/diagnostics.ts";
import { checkGatewayConfig } from "../../src/config/load.ts";
import { parseSource } from "../../src/config/source.ts";
import { knownConnectorTypes } from "../../src/connectors/index.ts";
import { SAMPLES } from "../support/paths.ts";

const REF = SAMPLES;
const NOT_CONNECTORS = new Set(["tb_gateway.json", "logs.json", "list.json"]);
// Sample file → connector type where the file name is not the type.
const typeOf = (file: string) => ({ "modbus_serial.json": "modbus", "custom_serial.json": "custom (see the custom_serial.json test)" })[file] ?? file.replace(/\.json$/, "");

const work = mkdtempSync(join(tmpdir(), "tbgw-samples-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A main config (the upstream sample) in its own folder listing `connectors`. */
function mainWith(name: string, connectors: object[], extra: (m: any) => void = () => {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const main = JSON.parse(readFileSync(join(REF, "tb_gateway.json"), "utf8"));
  main.connectors = connectors;
  extra(main);
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  return join(dir, "tb_gateway.json");
}

describe("upstream samples", () => {
  test("tb_gateway.json validates with no errors and no warnings", async () => {
    const r = await checkGatewayConfig(join(REF, "tb_gateway.json"), { env: {} });
    expect(formatDiagnostics(r.diagnostics)).toBe("");
    expect(r.config?.thingsboard.host).toBe("thingsboard.cloud");
  });

  test("tb_gateway.json with device filtering and custom statistics files enabled", async () => {
    const path = mainWith("with-files", [], (m) => {
      m.thingsboard.deviceFiltering.enable = true;
      m.thingsboard.statistics.enableCustom = true;
      m.thingsboard.statistics.configuration = "statistics/statistics_linux.json";
    });
    copyFileSync(join(REF, "list.json"), join(path, "../list.json"));
    mkdirSync(join(path, "../statistics"));
    copyFileSync(join(REF, "statistics/statistics_linux.json"), join(path, "../statistics/statistics_linux.json"));
    const r = await checkGatewayConfig(path, { env: {} });
    expect(formatDiagnostics(r.diagnostics)).toBe("");
  });

  for (const f of ["logs.json", "list.json", ...readdirSync(join(REF, "statistics")).map((s) => `statistics/${s}`)]) {
    test(`${f} parses cleanly`, () => {
      const doc = parseSource(join(REF, f), new Uint8Array(readFileSync(join(REF, f))));
      expect(formatDiagnostics(doc.diagnostics)).toBe("");
      expect(doc.value).toBeObject();
    });
  }

  // Upstream's snmp.json polls "SNMP router" from two device entries on purpose (one device, two
  // agents' worth of keys). Duplicate device names are therefore a warning, never an error.
  test("snmp.json: its repeated device name is a warning naming both places", async () => {
    const path = mainWith("snmp-duplicate", [{ name: "snmp sample", type: "snmp", configuration: join(REF, "snmp.json") }]);
    const r = await checkGatewayConfig(path, { env: {} });
    const dup = r.diagnostics.filter((d) => d.message.includes('device name "SNMP router"'));
    expect(dup.map((d) => [d.severity, d.line])).toEqual([["warning", 116]]);
    expect(dup[0]!.message).toContain("another device of this connector");
    expect(dup[0]!.message).toContain("snmp.json:4:21");
  });

  // upstream's custom connector sample, as upstream's docs plug it in: type "serial" (its folder
  // under extensions/) with class CustomSerialConnector; validate runs no user code, so the missing
  // extension is a warning, never an error
  test("custom_serial.json validates as a custom connector (type serial, class CustomSerialConnector)", async () => {
    const path = mainWith("custom-serial", [{ name: "Custom serial connector", type: "serial", class: "CustomSerialConnector", configuration: join(REF, "custom_serial.json") }]);
    const r = await checkGatewayConfig(path, { env: {} });
    expect(formatDiagnostics(r.diagnostics.filter((d) => d.severity === "error"))).toBe("");
    expect(r.connectors[0]?.config).toMatchObject({ name: "Custom serial connector", devices: [{ name: "SerialDevice1" }] });
    expect(r.diagnostics.map((d) => d.message)).toEqual([expect.stringContaining("custom connector class CustomSerialConnector: folder")]);
  });

  const known = new Set(knownConnectorTypes());
  for (const file of readdirSync(REF).filter((f) => f.endsWith(".json") && !NOT_CONNECTORS.has(f))) {
    const type = typeOf(file);
    if (known.has(type)) {
      test(`${file} validates as a ${type} connector with no errors`, async () => {
        const path = mainWith(file, [{ name: `${type} sample`, type, configuration: join(REF, file) }]);
        const r = await checkGatewayConfig(path, { env: {} });
        const errors = r.diagnostics.filter((d) => d.severity === "error");
        expect(formatDiagnostics(errors)).toBe("");
        expect(r.connectors[0]?.config).toBeDefined();
        const warnings = r.diagnostics.filter((d) => d.severity === "warning");
        if (warnings.length) console.warn(`${file}: ${warnings.length} warning(s)\n${formatDiagnostics(warnings)}`);
      });
    } else {
      test(`${file} parses as JSON (type ${type} not registered: schema check skipped)`, () => {
        const doc = parseSource(join(REF, file), new Uint8Array(readFileSync(join(REF, file))));
        expect(formatDiagnostics(doc.diagnostics)).toBe("");
        expect(doc.value).toBeObject();
      });
    }
  }
});
