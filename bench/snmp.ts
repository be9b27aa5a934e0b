// SNMP polling throughput: N devices (concurrent sessions) against one local Debian snmpd, each
// polling as fast as it can through the real connector. Reports OIDs/s, gateway CPU and RSS.
// Usage: bun bench/snmp.ts [devices=100] [seconds=10] [method=get|walk]

import { runInProcess } from "./proc.ts";
import { recordingContext } from "../test/support/context.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { SnmpConnector } from "../src/connectors/snmp/connector.ts";
import { SnmpConfigSchema } from "../src/connectors/snmp/schema.ts";
import { startSnmpd } from "../src/connectors/snmp/snmpd.testutil.ts";

const devices = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
const method = process.argv[4] ?? "walk";

// "get": ten scalars per poll (one PDU); "walk": the interface table (several GetBulk PDUs).
const items =
  method === "get"
    ? [{ key: "sys", method: "multiget", oid: ["1", "2", "3", "4", "5", "6", "7", "8"].map((n) => `1.3.6.1.2.1.1.${n}.0`).concat(["1.3.6.1.2.1.2.1.0", "1.3.6.1.2.1.4.1.0"]) }]
    : [{ key: "ifTable", method: "bulkwalk", oid: ["1.3.6.1.2.1.2.2"], bulkSize: 25 }];

setStderrLogging(false);
const agent = await startSnmpd();
const ctx = recordingContext({ type: "snmp" });
let oids = 0;
const countOids = (v: unknown) => (typeof v === "string" ? v.split(",").length : v && typeof v === "object" ? Object.keys(v).length : 1);
const originalSend = ctx.sendData.bind(ctx);
ctx.sendData = async (data) => {
  for (const d of Array.isArray(data) ? data : [data]) for (const e of d.telemetry ?? []) for (const v of Object.values(e.values)) oids += countOids(v);
  ctx.sent.length = 0; // keep memory flat: only counts matter here
  return originalSend(data);
};
const config = SnmpConfigSchema.parse({
  devices: Array.from({ length: devices }, (_, i) => ({
    deviceName: `agent-${i}`,
    ip: "127.0.0.1",
    port: agent.port,
    community: "public",
    timeout: 5,
    pollPeriod: 1,
    attributes: [],
    telemetry: items,
  })),
});
const connector = new SnmpConnector(config, ctx);
try {
  const { elapsed, cpuPercent: cpuPct, peakRssMb } = await runInProcess(seconds, () => connector.start(), () => connector.stop());
  console.log(
    JSON.stringify({
      devices,
      method,
      seconds: +elapsed.toFixed(1),
      oids,
      oidsPerSecond: Math.round(oids / elapsed),
      gatewayCpuPercent: +cpuPct.toFixed(0),
      peakRssMB: +peakRssMb.toFixed(0),
    }),
  );
} finally {
  await agent.stop();
}
