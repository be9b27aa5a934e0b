// Under Bun, the ICMP "port unreachable" left by a datagram sent to a closed port surfaces as the
// error of the NEXT send on the same socket, and that next datagram is dropped (found on BACnet, see
// ../bacnet/transport.ts). Here a dead agent (closed port) and a live snmpd are polled in the same
// period, without retries, and every poll of the live agent must be answered: a request to the live
// agent lost right after one to the dead agent would show up as a timeout of the live device.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { recordingContext } from "../../../test/support/context.ts";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { SnmpConnector } from "./connector.ts";
import { SnmpConfigSchema } from "./schema.ts";
import { startSnmpd, type Snmpd } from "./snmpd.testutil.ts";

const SYS_DESCR = "1.3.6.1.2.1.1.1.0";
const SYS_UPTIME = "1.3.6.1.2.1.1.3.0";
const SYS_NAME = "1.3.6.1.2.1.1.5.0";

let agent: Snmpd;
beforeAll(async () => {
  agent = await startSnmpd();
});
afterAll(async () => {
  await agent?.stop();
});

test("a dead agent polled in the same period does not make the live agent lose requests", async () => {
  const deadPort = await freeUdpPort();
  const items = [
    { key: "descr", method: "get", oid: SYS_DESCR },
    { key: "uptime", method: "get", oid: SYS_UPTIME },
    { key: "name", method: "get", oid: SYS_NAME },
  ];
  const base = { deviceType: "snmp", ip: "127.0.0.1", community: "public", retries: 0, attributes: [] };
  const ctx = recordingContext({ type: "snmp" });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  // Dead agents first and more of them, polled fast, so their datagrams (and ICMP answers) sit
  // between the live agent's requests all the time.
  const dead = [0, 1, 2].map((i) => ({ ...base, deviceName: `dead-${i}`, port: deadPort, timeout: 0.2, pollPeriod: 10, telemetry: items }));
  const live = { ...base, deviceName: "live", port: agent.port, timeout: 1.5, pollPeriod: 10, telemetry: items };
  const c = new SnmpConnector(SnmpConfigSchema.parse({ devices: [...dead, live] }), ctx);
  try {
    await c.start();
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "live").length >= 40, 20000, "40 polls of the live agent");
    const liveProblems = logs.filter((l) => l.level === "ERROR" && l.message.includes("live"));
    expect(liveProblems.map((l) => l.message)).toEqual([]);
    for (const d of ctx.sent.filter((x) => x.deviceName === "live")) expect(Object.keys(d.telemetry![0]!.values).sort()).toEqual(["descr", "name", "uptime"]);
    // The dead agents were really polled (and timed out) meanwhile.
    expect(logs.filter((l) => l.level === "ERROR" && /dead-\d/.test(l.message)).length).toBeGreaterThanOrEqual(3);
    expect(ctx.sent.some((d) => d.deviceName.startsWith("dead"))).toBe(false);
  } finally {
    await c.stop();
    off();
  }
}, 30000);
