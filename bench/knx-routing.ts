// KNX routing (multicast 224.0.23.12:3671) against knxd as a KNX/IP router: telegrams/s the
// connector takes in and sends. As in routing.test.ts, knxd runs in one network namespace and the
// connector in a second one, joined only by a veth pair, so the multicast never reaches a host
// interface; this script runs itself again inside the second namespace for the connector side
// (KNX_BENCH_ROUTING_CHILD set), and talks to that child over its stdin/stdout.
//  uplink: the responder (a client on knxd's unix socket) sends a burst of GroupValueWrite
//          telegrams; knxd routes each to the group, the connector decodes and hands it on;
//  poll:   10 devices polling as fast as they can, the responder answering through knxd;
//  write:  RPC writes as ROUTING_INDICATIONs, counted as the responder sees them on knxd's bus.
// Usage: bun bench/knx-routing.ts [uplink|poll|write] [count=2000]

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { recordingContext } from "../test/support/context.ts";
import { BUN } from "../test/support/paths.ts";
import { setStderrLogging } from "../src/observe/logger.ts";

const mode = process.argv[2] ?? "uplink";
const n = Number(process.argv[3] ?? 2000);
const addresses = Array.from({ length: 10 }, (_, i) => `4/0/${i + 1}`);
setStderrLogging(false);

if (process.env.KNX_BENCH_ROUTING_CHILD) await connectorSide();
else await routerSide();

/** The host side: namespaces, knxd routing, the responder; the connector runs in the child. */
async function routerSide(): Promise<void> {
  const { createTestNetns } = await import("../src/connectors/knx/test/netns.ts");
  const { startKnxd } = await import("../src/connectors/knx/test/knxd.ts");
  const netns = createTestNetns({ peerNamespace: true });
  try {
    const knxd = await startKnxd(Object.fromEntries(addresses.map((a) => [a, "0c33"])), { netns, routing: true });
    const child = spawn(...netns.peer!.exec(BUN, [import.meta.path, mode, String(n)]), { env: { ...process.env, KNX_BENCH_ROUTING_CHILD: "1" }, stdio: ["pipe", "pipe", "inherit"] });
    try {
      const lines = createInterface({ input: child.stdout! });
      let writesFrom = 0;
      let started = 0;
      for await (const line of lines) {
        if (line === "READY" && mode === "uplink") knxd.burst(n, addresses[0]!, "0c1a");
        else if (line === "START") {
          writesFrom = knxd.telegrams().filter((t) => t.kind === "write").length;
          started = performance.now();
        } else if (line === "SENT") {
          // the child sent them all; count them on knxd's bus
          const count = () => knxd.telegrams().filter((t) => t.kind === "write").length - writesFrom;
          let seen = -1;
          let last = performance.now();
          while (count() < n && performance.now() - last < 5_000) {
            if (count() !== seen) (seen = count()), (last = performance.now());
            await Bun.sleep(10);
          }
          const ms = performance.now() - started;
          console.log(`write (routing): ${count()}/${n} GroupValueWrite telegrams on knxd's bus in ${ms.toFixed(0)} ms = ${Math.round((count() / ms) * 1000)} telegrams/s`);
          child.stdin!.end();
        } else if (line.startsWith("RESULT ")) console.log(line.slice(7));
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGTERM");
      await knxd.stop();
    }
  } finally {
    netns.destroy();
  }
}

/** In the gateway's namespace: the connector routing, measured where it can be. */
async function connectorSide(): Promise<void> {
  const { KnxConnector } = await import("../src/connectors/knx/connector.ts");
  const { KnxConfigSchema } = await import("../src/connectors/knx/schema.ts");
  const ctx = recordingContext({ type: "knx" });
  let values = 0;
  let last = 0;
  ctx.sendData = async (d) => {
    for (const x of Array.isArray(d) ? d : [d]) values += Object.keys(x.telemetry?.[0]?.values ?? {}).length;
    last = performance.now();
    return "SUCCESS";
  };
  const config = KnxConfigSchema.parse({
    client: { type: "ROUTING", individualAddress: "1.1.250" },
    devices: addresses.map((a, i) => ({ deviceInfo: { deviceNameExpression: `bench ${i}` }, pollPeriod: mode === "poll" ? 1 : 3_600_000, timeseries: [{ key: "t", type: "temperature", groupAddress: a }] })),
    serverSideRpc: [{ method: "setT", deviceNameFilter: ".*", requestType: "write", dataType: "temperature", groupAddress: "4/1/1" }],
  });
  const c = new KnxConnector(config, ctx);
  await c.start();
  try {
    while (values < addresses.length) await Bun.sleep(20);
    const base = values;
    const started = performance.now();
    console.log("READY");
    if (mode === "uplink") {
      let seen = base;
      let idleSince = performance.now();
      while (values - base < n && performance.now() - idleSince < 5_000) {
        await Bun.sleep(10);
        if (values !== seen) (seen = values), (idleSince = performance.now());
      }
      const got = values - base;
      console.log(`RESULT uplink (routing): ${got}/${n} bus writes reported in ${(last - started).toFixed(0)} ms = ${Math.round((got / (last - started)) * 1000)} telegrams/s`);
    } else if (mode === "poll") {
      await Bun.sleep(10_000);
      const got = values - base;
      const s = (performance.now() - started) / 1000;
      console.log(`RESULT poll (routing): ${got} values read in ${s.toFixed(1)} s = ${Math.round(got / s)} reads/s over ${addresses.length} devices`);
    } else {
      console.log("START");
      for (let i = 0; i < n; i++) await c.onRpc({ device: "bench 0", id: i, method: "setT", params: 20 + (i % 10) });
      console.log("SENT");
      // the host side counts them on the bus, then closes our stdin
      await new Promise<void>((resolve) => process.stdin.on("end", resolve).resume());
    }
  } finally {
    await c.stop();
  }
}
