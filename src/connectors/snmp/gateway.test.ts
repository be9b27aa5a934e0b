// The whole gateway (`tb-gw run`, own process; from source and from the compiled binary) with the
// upstream sample snmp.json against a real snmpd and Mosquitto playing the platform: the sample's
// reads reach the platform (answers checked with the Net-SNMP tools), its getData RPC answers.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { FROM_BOTH, gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { deviceRpcReply, platformForEachTest } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";
import { snmpSample, upstreamMain } from "../../../test/support/upstream.ts";
import { snmpTool, startSnmpd, type Snmpd } from "./snmpd.testutil.ts";

const DEVICE = "SNMP router";
let agent: Snmpd;

beforeAll(async () => {
  gatewayBinary();
  agent = await startSnmpd();
}, 240000);

afterAll(async () => {
  await agent?.stop();
});

const platform = platformForEachTest();

for (const from of FROM_BOTH) {
  test(`upstream snmp.json in the gateway (${from}): polled values, getData RPC`, async () => {
    let gw: Started | undefined;
    try {
      const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "snmp", name: "SNMP Connector", configuration: "snmp.json" }]), { "snmp.json": snmpSample(agent.port) });
      gw = await startGatewayFrom(from, files.configPath);
      const descr = snmpTool("snmpget", agent.port, ["1.3.6.1.2.1.1.1.0"]).trim().replace(/^"|"$/g, "");
      const attr = (key: string) => platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.[key] !== undefined)?.body[DEVICE][key], 20000, key);
      expect(await attr("ReceivedFromGet")).toBe(descr);
      expect(await attr("ReceivedFromGetWithCustomConverter")).toBe(descr);
      const keys = (h: typeof platform.harness) => new Set(h.telemetry().filter((r) => r.device === DEVICE).map((r) => r.key));
      await platform.harness.waitFor((h) => ["ReceivedFromWalk", "ReceivedFromTable", "ReceivedFromTableWithCustomConverter"].every((k) => keys(h).has(k)), 20000, "the three telemetry keys");
      const walk = platform.harness.telemetry().find((r) => r.device === DEVICE && r.key === "ReceivedFromWalk")!;
      expect(walk.value).toEqual({ "1.3.6.1.2.1.1.1.0": descr });

      await platform.harness.sendDeviceRpc(DEVICE, 31, "getData", null);
      const reply = await platform.harness.waitFor((h) => deviceRpcReply(h, 31), 15000, "getData reply");
      expect(reply.body).toEqual({ device: DEVICE, id: 31, data: descr });
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await gw?.stop();
    }
  }, 60000);
}
