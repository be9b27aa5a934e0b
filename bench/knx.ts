// KNX through knxd's tunnelling server (in a network namespace of its own, reached over a veth pair;
// see src/connectors/knx/test/netns.ts): telegrams/s the connector takes in and sends. The modes
// and what they count: bench/knx-measure.ts (shared with bench/knx-routing.ts).
// Usage: bun bench/knx.ts [uplink|poll|write] [count=2000]

import { setStderrLogging } from "../src/observe/logger.ts";
import { startKnxd } from "../src/connectors/knx/test/knxd.ts";
import { BENCH_ADDRESSES, BENCH_VALUE, measureKnx, type KnxBenchMode } from "./knx-measure.ts";

const mode = (process.argv[2] ?? "uplink") as KnxBenchMode;
const n = Number(process.argv[3] ?? 2000);
setStderrLogging(false);

const knxd = await startKnxd(Object.fromEntries(BENCH_ADDRESSES.map((a) => [a, BENCH_VALUE])));
try {
  await measureKnx({
    mode,
    count: n,
    client: { type: "TUNNELING", gatewayIp: knxd.host, gatewayPort: knxd.port },
    bus: { burst: (count, address, hex) => knxd.burst(count, address, hex), writesSeen: () => knxd.telegrams().filter((t) => t.kind === "write").length },
  });
} finally {
  await knxd.stop();
}
