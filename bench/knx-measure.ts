// The measuring body of the KNX benches (bench/knx.ts: tunnelling; bench/knx-routing.ts: routing,
// the connector in a network namespace of its own). Each bench brings the client config and the
// bus side (knxd and its responder, which may live in another process); this runs the connector
// with 10 devices and measures one mode:
//  uplink: the responder sends a burst of GroupValueWrite telegrams, which knxd passes on to the
//          connector (tunnelled or routed); counted as the connector hands the values on;
//  poll:   devices polling their group addresses as fast as they can, the responder answering:
//          GroupValueRead out, GroupValueResponse in, values handed on;
//  write:  RPC writes: GroupValueWrite telegrams out, counted as the responder sees them on the bus.

import { recordingContext } from "../test/support/context.ts";
import { KnxConnector } from "../src/connectors/knx/connector.ts";
import { KnxConfigSchema } from "../src/connectors/knx/schema.ts";

export type KnxBenchMode = "uplink" | "poll" | "write";

/** The group addresses the devices poll; the responder answers each with this value. */
export const BENCH_ADDRESSES = Array.from({ length: 10 }, (_, i) => `4/0/${i + 1}`);
export const BENCH_VALUE = "0c33";

/** The bus side as the connector's process sees it (it may be another process, see knx-routing.ts). */
export interface KnxBus {
  /** Have the responder send `count` GroupValueWrite telegrams to `address` as fast as knxd takes them. */
  burst(count: number, address: string, hex: string): void | Promise<void>;
  /** GroupValueWrite telegrams the responder has seen on the bus so far. */
  writesSeen(): number | Promise<number>;
}

export interface KnxBenchOptions {
  mode: KnxBenchMode;
  /** Telegrams to burst (uplink) or write (write). */
  count: number;
  /** The connector's `client` section as a config file has it (the schema fills in the rest). */
  client: Record<string, unknown>;
  bus: KnxBus;
  /** Added to the mode in the printed line, e.g. " (routing)". */
  label?: string;
}

/** No new value or telegram for this long: the rest is lost, the figure is taken as it stands. */
const IDLE_MS = 5_000;

/** Run the connector, measure `mode`, print one line of figures; stops the connector. */
export async function measureKnx({ mode, count: n, client, bus, label = "" }: KnxBenchOptions): Promise<void> {
  const ctx = recordingContext({ type: "knx" });
  let values = 0;
  let last = 0;
  ctx.sendData = async (d) => {
    for (const x of Array.isArray(d) ? d : [d]) values += Object.keys(x.telemetry?.[0]?.values ?? {}).length;
    last = performance.now();
    return "SUCCESS";
  };
  const config = KnxConfigSchema.parse({
    client,
    devices: BENCH_ADDRESSES.map((a, i) => ({
      deviceInfo: { deviceNameExpression: `bench ${i}` },
      pollPeriod: mode === "poll" ? 1 : 3_600_000,
      timeseries: [{ key: "t", type: "temperature", groupAddress: a }],
    })),
    serverSideRpc: [{ method: "setT", deviceNameFilter: ".*", requestType: "write", dataType: "temperature", groupAddress: "4/1/1" }],
  });
  const c = new KnxConnector(config, ctx);
  await c.start();
  try {
    // connected and every device named by its first poll
    while (values < BENCH_ADDRESSES.length) await Bun.sleep(20);
    const base = values;
    const started = performance.now();
    if (mode === "uplink") {
      await bus.burst(n, BENCH_ADDRESSES[0]!, "0c1a");
      await untilIdle(() => values - base, n, 10);
      const got = values - base;
      console.log(`uplink${label}: ${got}/${n} bus writes reported in ${(last - started).toFixed(0)} ms = ${Math.round((got / (last - started)) * 1000)} telegrams/s; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
    } else if (mode === "poll") {
      await Bun.sleep(10_000);
      const got = values - base;
      const s = (performance.now() - started) / 1000;
      console.log(`poll${label}: ${got} values read (GroupValueRead + Response each) in ${s.toFixed(1)} s = ${Math.round(got / s)} reads/s over ${BENCH_ADDRESSES.length} devices`);
    } else {
      const before = await bus.writesSeen();
      for (let i = 0; i < n; i++) await c.onRpc({ device: "bench 0", id: i, method: "setT", params: 20 + (i % 10) });
      const got = await untilIdle(async () => (await bus.writesSeen()) - before, n, 20);
      const ms = performance.now() - started;
      console.log(`write${label}: ${got}/${n} GroupValueWrite telegrams on the bus in ${ms.toFixed(0)} ms = ${Math.round((got / ms) * 1000)} telegrams/s`);
    }
  } finally {
    await c.stop();
  }
}

/** Wait until `count()` reaches `n` or stops growing for IDLE_MS; its last value. */
async function untilIdle(count: () => number | Promise<number>, n: number, everyMs: number): Promise<number> {
  let seen = await count();
  let idleSince = performance.now();
  while (seen < n && performance.now() - idleSince < IDLE_MS) {
    await Bun.sleep(everyMs);
    const now = await count();
    if (now !== seen) (seen = now), (idleSince = performance.now());
  }
  return seen;
}
