// OPC-UA subscription throughput: the test peer (separate process) exposes N Double variables that all
// change every 100 ms; the real connector browses them by path and subscribes. Reports the time to
// browse + subscribe at start-up (until every key has delivered a value), datapoints/s afterwards,
// gateway CPU and RSS.
// Usage: bun bench/opcua.ts [nodes=10000] [seconds=10] [changePeriodMs=100] [peers=1]
// With peers > 1 the nodes are split over that many peer processes (one connector each, as a
// gateway with one connector per server would run): one node-opcua server process saturates its
// core sampling ~5,000 items every 100 ms, so a single peer cannot feed 10,000.

import { cpuSeconds } from "./proc.ts";
import { recordingContext } from "../test/support/context.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { OpcuaConnector } from "../src/connectors/opcua/connector.ts";
import { startOpcuaPeer } from "../src/connectors/opcua/peer/start.ts";
import { OpcuaConfigSchema } from "../src/connectors/opcua/schema.ts";

const nodes = Number(process.argv[2] ?? 10000);
const seconds = Number(process.argv[3] ?? 10);
const period = Number(process.argv[4] ?? 100);
const peerCount = Math.max(1, Number(process.argv[5] ?? 1));
const perPeer = Math.ceil(nodes / peerCount);

setStderrLogging(process.env.BENCH_VERBOSE === "1");
const peers = await Promise.all(Array.from({ length: peerCount }, () => startOpcuaPeer({ OPCUA_BENCH_NODES: String(perPeer), OPCUA_BENCH_PERIOD: String(period) })));
const ctx = recordingContext({ type: "opcua" });
let points = 0;
const seen = new Set<string>();
let allSeenAt = 0;
ctx.sendData = async (data) => {
  for (const d of Array.isArray(data) ? data : [data]) {
    for (const e of d.telemetry ?? []) {
      for (const k of Object.keys(e.values)) {
        points++;
        if (!allSeenAt) {
          seen.add(`${d.deviceName}/${k}`);
          if (seen.size === nodes) allSeenAt = performance.now();
        }
      }
    }
  }
  return "SUCCESS";
};
const connectors = peers.map((peer, p) => {
  const count = Math.min(perPeer, nodes - p * perPeer);
  const config = OpcuaConfigSchema.parse({
    server: { url: peer.url, enableSubscriptions: true, subCheckPeriodInMillis: 100, timeoutInMillis: 30000 },
    mapping: [
      {
        deviceNodePattern: "Root\\.Objects\\.Bench",
        deviceInfo: { deviceNameExpression: `bench${p}` },
        timeseries: Array.from({ length: count }, (_, i) => ({ key: `v${i}`, type: "path", value: `\${V${i}}` })),
      },
    ],
  });
  return new OpcuaConnector(config, ctx);
});
/** CPU seconds used so far by the peer processes (Linux /proc), to show which side is saturated. */
const peerCpuSeconds = () => peers.reduce((sum, peer) => sum + cpuSeconds(peer.proc.proc.pid!), 0);
try {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(connectors.map((c) => c.start()));
  while (!allSeenAt && performance.now() - t0 < 120_000) await Bun.sleep(20);
  if (!allSeenAt) throw new Error(`only ${seen.size}/${nodes} keys delivered within 120 s`);
  const startup = allSeenAt - t0;
  const p0 = points;
  const t1 = performance.now();
  const peer0 = peerCpuSeconds();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  await Bun.sleep(seconds * 1000);
  clearInterval(sampler);
  const rate = ((points - p0) * 1000) / (performance.now() - t1);
  const peerCpu = Math.round(((peerCpuSeconds() - peer0) / ((performance.now() - t1) / 1000)) * 100);
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      nodes,
      changePeriodMs: period,
      peers: peerCount,
      startupBrowseAndSubscribeMs: Math.round(startup),
      datapointsPerSecond: Math.round(rate),
      expectedPerSecond: Math.round((nodes * 1000) / period),
      gatewayCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
      peakRssMB: Math.round(peakRss / 1e6),
      peerCpuPercent: peerCpu,
    }),
  );
} finally {
  await Promise.all(connectors.map((c) => c.stop()));
  await Promise.all(peers.map((p) => p.stop()));
}
