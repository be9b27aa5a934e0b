// The downlink side of a custom SNMP converter (upstream's `devices[].converter`, built for both
// directions) against Debian's snmpd, read back with Net-SNMP's snmpget: a class with
// `convertDownlink(rule, content)` decides the value every SET writes (attribute update, configured
// RPC, reserved `set`); a GET RPC does not go through it; a throwing or unusable result fails that
// update / RPC with the reason and the agent keeps its value; a class with only convertDownlink
// leaves the polls to the built-in conversion; an uplink-only class leaves SETs as they are.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startMosquitto } from "../../../test/support/mosquitto.ts";
import { deviceRpcReply, startPlatformHarness } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";
import { snmpSample, upstreamMain } from "../../../test/support/upstream.ts";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { SnmpConnector } from "./connector.ts";
import { SnmpConfigSchema } from "./schema.ts";
import { snmpTool, startSnmpd, type Snmpd } from "./snmpd.testutil.ts";

const SYS_CONTACT = "1.3.6.1.2.1.1.4.0";
const SYS_LOCATION = "1.3.6.1.2.1.1.6.0";
const SYS_NAME = "1.3.6.1.2.1.1.5.0";

let agent: Snmpd;
beforeAll(async () => {
  gatewayBinary();
  agent = await startSnmpd();
}, 240_000);
afterAll(async () => {
  await agent?.stop();
});

const CONVERTERS = `
export class TaggingSnmpConverter {
  constructor(config) { this.site = config.deviceType; }
  convert([section, key], response) { return { telemetry: [{ [key.key]: "seen:" + response }] }; }
  convertDownlink(rule, content) {
    const v = "params" in content.data ? content.data.params : Object.values(content.data)[0];
    if (v === "boom") throw new Error("refused by " + content.device);
    if (v === "nothing") return null;
    if (v === "function") return () => 1;
    return "[" + this.site + " " + rule.method + "] " + String(v).toUpperCase();
  }
}
export class OnlyDownlinkSnmpConverter {
  async convertDownlink(rule, content) { return "only:" + content.data.params; }
}
export class OnlyUplinkSnmpConverter {
  convert([section, key], response) { return { telemetry: [{ [key.key]: "up:" + response }] }; }
}
`;

const unquote = (s: string) => s.trim().replace(/^"|"$/g, "");
const get = (oid: string) => unquote(snmpTool("snmpget", agent.port, [oid]));

test("devices[].converter with convertDownlink: the value of every SET comes from it; failures are RPC errors and leave the agent's value; GETs and uplink-only classes untouched", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-snmp-dl-"));
  mkdirSync(join(dir, "extensions", "snmp"), { recursive: true });
  writeFileSync(join(dir, "extensions", "snmp", "tagging.js"), CONVERTERS);
  const device = (deviceName: string, converter: string) => ({
    deviceName, deviceType: "lab", ip: "127.0.0.1", port: agent.port, community: "private", pollPeriod: 200, timeout: 2, converter,
    telemetry: [{ key: "name", method: "get", oid: SYS_NAME }],
    attributeUpdateRequests: [{ attributeFilter: "^location$", method: "set", oid: SYS_LOCATION }],
    serverSideRpcRequests: [
      { requestFilter: "setContact", method: "set", oid: SYS_CONTACT },
      { requestFilter: "getContact", method: "get", oid: SYS_CONTACT },
    ],
  });
  const ctx = recordingContext({ type: "snmp", name: "SNMP downlink", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("SNMP downlink") && logs.push(r));
  const c = new SnmpConnector(
    SnmpConfigSchema.parse({ devices: [device("tagged", "TaggingSnmpConverter"), device("only-down", "OnlyDownlinkSnmpConverter"), device("only-up", "OnlyUplinkSnmpConverter")] }),
    ctx,
  );
  const rpc = (dev: string, id: number, method: string, params: unknown) => c.onRpc({ device: dev, id, method, params });
  try {
    await c.start();
    const suffix = Math.random().toString(36).slice(2, 8);
    await c.onAttributeUpdate({ device: "tagged", data: { location: `rack-${suffix}` } });
    expect(get(SYS_LOCATION)).toBe(`[lab set] RACK-${suffix.toUpperCase()}`);
    expect(await rpc("tagged", 1, "setContact", `ops-${suffix}`)).toEqual({ result: `[lab set] OPS-${suffix.toUpperCase()}` });
    expect(get(SYS_CONTACT)).toBe(`[lab set] OPS-${suffix.toUpperCase()}`);
    // a GET is not a write: the class is not asked
    expect(await rpc("tagged", 2, "getContact", "anything")).toEqual({ result: `[lab set] OPS-${suffix.toUpperCase()}` });
    // the reserved set: the class gets the RPC's params text and the rule parsed from it
    expect(await rpc("tagged", 3, "set", `method=set;oid=${SYS_LOCATION};value=x;`)).toEqual({ result: `[lab set] METHOD=SET;OID=${SYS_LOCATION};VALUE=X;` });

    // refusals: the reply says why, the agent keeps the last good value
    const before = get(SYS_CONTACT);
    expect(await rpc("tagged", 4, "setContact", "boom")).toEqual({ success: false, error: "custom downlink converter TaggingSnmpConverter failed: refused by tagged" });
    expect(await rpc("tagged", 5, "setContact", "nothing")).toEqual({ success: false, error: "custom downlink converter TaggingSnmpConverter returned null, which cannot be written: no value to set" });
    expect(await rpc("tagged", 6, "setContact", "function")).toEqual({ success: false, error: "custom downlink converter TaggingSnmpConverter returned a function, which cannot be written: a function is not a value SNMP can set" });
    await c.onAttributeUpdate({ device: "tagged", data: { location: "boom" } });
    expect(get(SYS_CONTACT)).toBe(before);

    // a class with only convertDownlink: SETs through it, polls through the built-in conversion
    expect(await rpc("only-down", 7, "setContact", suffix)).toEqual({ result: `only:${suffix}` });
    expect(get(SYS_CONTACT)).toBe(`only:${suffix}`);
    // an uplink-only class: SETs write the value as it came
    expect(await rpc("only-up", 8, "setContact", `plain-${suffix}`)).toEqual({ result: `plain-${suffix}` });
    expect(get(SYS_CONTACT)).toBe(`plain-${suffix}`);

    const sysName = get(SYS_NAME);
    await ctx.waitFor((s) => ["tagged", "only-down", "only-up"].every((n) => s.some((d) => d.deviceName === n)), 10_000, "a poll of each device");
    const polled = (n: string) => ctx.sent.find((d) => d.deviceName === n)!.telemetry![0]!.values.name;
    expect([polled("tagged"), polled("only-down"), polled("only-up")]).toEqual([`seen:${sysName}`, sysName, `up:${sysName}`]);

    await waitUntil(() => logs.some((l) => l.message.includes('for attribute "location" failed')), 10_000, "the failed attribute update's log line");
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toEqual(['tagged: set for attribute "location" failed: custom downlink converter TaggingSnmpConverter failed: refused by tagged']);
  } finally {
    off();
    await c.stop();
  }
}, 40_000);

// Both directions in one TypeScript class, as upstream configures it (`converter` on the device).
const ROUTER_CONVERTER = `
type Key = { key: string };
type Content = { device: string; data: Record<string, unknown> };
export class RouterSnmpConverter {
  convert([section, key]: [string, Key], response: unknown) {
    return section === "attributes" ? { attributes: [{ [key.key]: response }] } : { telemetry: [{ [key.key]: response }] };
  }
  convertDownlink(rule: { method: string }, content: Content): string {
    const v = "params" in content.data ? content.data.params : Object.values(content.data)[0];
    if (v === "refuse") throw new Error(content.device + " refuses " + rule.method);
    return String(v).toUpperCase() + " (via " + content.device + ")";
  }
}
`;

test("upstream snmp.json with a TypeScript converter's convertDownlink through the compiled binary: the attribute update and setData write its values, a refusal is the RPC reply", async () => {
  const platform = await startMosquitto();
  const harness = await startPlatformHarness(platform.url);
  let gw: Started | undefined;
  try {
    const config = snmpSample(agent.port);
    const router = config.devices[0];
    router.converter = "RouterSnmpConverter";
    // snmpd's sysDescr (the sample's SET target) is read-only, and "public" may not write: point
    // the SETs at the writable sysLocation / sysContact with the read-write community
    router.community = "private";
    router.attributeUpdateRequests.find((r: { attributeFilter: string }) => r.attributeFilter === "dataToSet").oid = SYS_LOCATION;
    router.serverSideRpcRequests.find((r: { requestFilter: string }) => r.requestFilter === "setData").oid = SYS_CONTACT;
    const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "snmp", name: "SNMP Connector", configuration: "snmp.json" }]), { "snmp.json": config });
    mkdirSync(join(files.dir, "extensions", "snmp"), { recursive: true });
    writeFileSync(join(files.dir, "extensions", "snmp", "router.ts"), ROUTER_CONVERTER);
    gw = await startGatewayFrom("binary", files.configPath);
    const descr = get("1.3.6.1.2.1.1.1.0");
    // the uplink side of the same class
    await harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body["SNMP router"]?.ReceivedFromGet === descr), 20_000, "a polled attribute");

    const suffix = Math.random().toString(36).slice(2, 8);
    await harness.sendAttributeUpdate("SNMP router", { dataToSet: `hall-${suffix}` });
    await waitUntil(() => get(SYS_LOCATION) === `HALL-${suffix.toUpperCase()} (via SNMP router)`, 15_000, "the converted location on the agent");

    await harness.sendDeviceRpc("SNMP router", 41, "setData", `noc-${suffix}`);
    const expected = `NOC-${suffix.toUpperCase()} (via SNMP router)`;
    expect((await harness.waitFor((h) => deviceRpcReply(h, 41), 15_000, "setData reply")).body.data).toBe(expected);
    expect(get(SYS_CONTACT)).toBe(expected);

    await harness.sendDeviceRpc("SNMP router", 42, "setData", "refuse");
    expect((await harness.waitFor((h) => deviceRpcReply(h, 42), 15_000, "the refused reply")).body.data).toEqual({
      success: false,
      error: "custom downlink converter RouterSnmpConverter failed: SNMP router refuses set",
    });
    expect(get(SYS_CONTACT)).toBe(expected);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await harness.close().catch(() => undefined);
    await platform.dispose();
  }
}, 120_000);
