// A custom SNMP uplink converter (upstream's `devices[].converter`) from
// <config folder>/extensions/snmp/, against Debian's snmpd (the existing helper): built with the
// device entry, called per answered key as upstream calls it (`[section, keyConfig]`, the
// response); results without a device name get the device's; a key it throws on is dropped and
// logged once (per key) while the other keys still arrive; a device whose class is missing is one
// error, and that device's values are sent as the built-in converter gives them.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { SnmpConnector } from "./connector.ts";
import { SnmpConfigSchema } from "./schema.ts";
import { snmpTool, startSnmpd, type Snmpd } from "./snmpd.testutil.ts";

let agent: Snmpd;
beforeAll(async () => {
  agent = await startSnmpd();
});
afterAll(async () => {
  await agent?.stop();
});

const CONVERTER = `
export class LengthSnmpConverter {
  constructor(config) { this.prefix = config.deviceType; }
  convert([section, key], response) {
    if (key.key === "broken") throw new Error("no use for " + key.oid);
    const value = typeof response === "string" ? response.length : response;
    return section === "attributes" ? { attributes: [{ [key.key]: this.prefix + ":" + response }] } : { telemetry: [{ [key.key + "Length"]: value }] };
  }
}
`;

test("devices[].converter names a class in extensions/snmp: each answered key through it; a failing key logs once; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-snmp-ext-"));
  mkdirSync(join(dir, "extensions", "snmp"), { recursive: true });
  writeFileSync(join(dir, "extensions", "snmp", "length.js"), CONVERTER);
  const base = { deviceType: "agent", ip: "127.0.0.1", port: agent.port, community: "public", timeout: 3, pollPeriod: 200 };
  const ctx = recordingContext({ type: "snmp", name: "SNMP custom", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("SNMP custom") && logs.push(r));
  const c = new SnmpConnector(
    SnmpConfigSchema.parse({
      devices: [
        {
          ...base,
          deviceName: "custom",
          converter: "LengthSnmpConverter",
          attributes: [{ key: "location", method: "get", oid: "1.3.6.1.2.1.1.6.0" }],
          telemetry: [
            { key: "descr", method: "get", oid: "1.3.6.1.2.1.1.1.0" },
            { key: "broken", method: "get", oid: "1.3.6.1.2.1.1.5.0" },
          ],
        },
        { ...base, deviceName: "ghost", converter: "NoSuchSnmpConverter", telemetry: [{ key: "descr", method: "get", oid: "1.3.6.1.2.1.1.1.0" }] },
      ],
    }),
    ctx,
  );
  try {
    await c.start();
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "custom").length >= 6, 20_000, "three polls through the class");
    // what net-snmp's own snmpget reads, for comparison
    const read = (oid: string) => snmpTool("snmpget", agent.port, [oid]).trim().replace(/^"(.*)"$/, "$1");
    const descr = read("1.3.6.1.2.1.1.1.0");
    const location = read("1.3.6.1.2.1.1.6.0");
    const sent = ctx.sent.filter((d) => d.deviceName === "custom");
    expect(sent.slice(0, 2)).toEqual([
      { deviceName: "custom", deviceType: "agent", attributes: { location: `agent:${location}` } },
      { deviceName: "custom", deviceType: "agent", telemetry: [{ values: { descrLength: descr.length } }] },
    ]);
    // a class that cannot be found: the device's values still arrive, converted the built-in way
    await ctx.waitFor((s) => s.some((d) => d.deviceName === "ghost"), 20_000, "the ghost device's built-in conversion");
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^ghost: converter NoSuchSnmpConverter cannot be used \(custom converter class NoSuchSnmpConverter not found in .*extensions\/snmp; the folder exports: LengthSnmpConverter \(length\.js\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/);
    expect(errors[1]).toBe("custom key broken: custom converter LengthSnmpConverter failed: no use for 1.3.6.1.2.1.1.5.0; this message is dropped, the connector goes on (logged again only when the error changes)");
    expect(logs.some((l) => l.message.includes("works again"))).toBe(false);
  } finally {
    off();
    await c.stop();
  }
}, 40_000);
