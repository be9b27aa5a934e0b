// KNX through knxd's tunnelling server (in a network namespace of its own, reached over a veth pair;
// see src/connectors/knx/test/netns.ts): telegrams/s the connector takes in and sends.
//  uplink: the responder (a client on knxd's unix socket) sends a burst of GroupValueWrite
//          telegrams; knxd tunnels each to the connector, which decodes and hands it on;
//  poll:   devices polling their group addresses as fast as they can, the responder answering:
//          GroupValueRead out, GroupValueResponse in, values handed on;
//  write:  RPC writes: GroupValueWrite telegrams out, counted as the responder sees them.
// Usage: bun bench/knx.ts [uplink|poll|write] [count=2000]

import { recordingContext } from "../test/support/context.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { KnxConnector } from "../src/connectors/knx/connector.ts";
import { KnxConfigSchema } from "../src/connectors/knx/schema.ts";
import { startKnxd } from "../src/connectors/knx/test/knxd.ts";

const mode = process.argv[2] ?? "uplink";
const n = Number(process.argv[3] ?? 2000);
setStderrLogging(false);

const addresses = Array.from({ length: 10 }, (_, i) => `4/0/${i + 1}`);
const knxd = await startKnxd(Object.fromEntries(addresses.map((a) => [a, "0c33"])));
const ctx = recordingContext({ type: "knx" });
let values = 0;
let last = 0;
ctx.sendData = async (d) => {
  for (const x of Array.isArray(d) ? d : [d]) values += Object.keys(x.telemetry?.[0]?.values ?? {}).length;
  last = performance.now();
  return "SUCCESS";
};
const devices = addresses.map((a, i) => ({
  deviceInfo: { deviceNameExpression: `bench ${i}` },
  pollPeriod: mode === "poll" ? 1 : 3_600_000,
  timeseries: [{ key: "t", type: "temperature", groupAddress: a }],
}));
const config = KnxConfigSchema.parse({
  client: { type: "TUNNELING", gatewayIp: knxd.host, gatewayPort: knxd.port },
  devices,
  serverSideRpc: [{ method: "setT", deviceNameFilter: ".*", requestType: "write", dataType: "temperature", groupAddress: "4/1/1" }],
});
const c = new KnxConnector(config, ctx);
await c.start();
try {
  // connected and every device named by its first poll
  while (values < addresses.length) await Bun.sleep(20);
  const base = values;
  const started = performance.now();
  if (mode === "uplink") {
    knxd.burst(n, addresses[0]!, "0c1a");
    let seen = base;
    let idleSince = performance.now();
    while (values - base < n && performance.now() - idleSince < 5_000) {
      await Bun.sleep(10);
      if (values !== seen) (seen = values), (idleSince = performance.now());
    }
    const got = values - base;
    console.log(`uplink: ${got}/${n} bus writes reported in ${(last - started).toFixed(0)} ms = ${Math.round((got / (last - started)) * 1000)} telegrams/s; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  } else if (mode === "poll") {
    await Bun.sleep(10_000);
    const got = values - base;
    const s = (performance.now() - started) / 1000;
    console.log(`poll: ${got} values read (GroupValueRead + Response each) in ${s.toFixed(1)} s = ${Math.round(got / s)} reads/s over ${addresses.length} devices`);
  } else {
    const before = knxd.telegrams().filter((t) => t.kind === "write").length;
    for (let i = 0; i < n; i++) await c.onRpc({ device: "bench 0", id: i, method: "setT", params: 20 + (i % 10) });
    while (knxd.telegrams().filter((t) => t.kind === "write").length - before < n && performance.now() - started < 120_000) await Bun.sleep(20);
    const got = knxd.telegrams().filter((t) => t.kind === "write").length - before;
    const ms = performance.now() - started;
    console.log(`write: ${got}/${n} GroupValueWrite telegrams on the bus in ${ms.toFixed(0)} ms = ${Math.round((got / ms) * 1000)} telegrams/s`);
  }
} finally {
  await c.stop();
  await knxd.stop();
}
