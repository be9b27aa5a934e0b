// KNX routing (multicast 224.0.23.12:3671) against knxd as a KNX/IP router: telegrams/s the
// connector takes in and sends. As in routing.test.ts, knxd runs in one network namespace and the
// connector in a second one, joined only by a veth pair, so the multicast never reaches a host
// interface; this script runs itself again inside the second namespace for the connector side
// (KNX_BENCH_ROUTING_CHILD set). The child measures with the same body as bench/knx.ts
// (bench/knx-measure.ts, which says what each mode counts); the bus is on this side, so the child
// asks for it by lines on its stdout ("BURST count address hex", "WRITES?") and reads the answers
// to "WRITES?" on its stdin; every other line it prints is a figure, printed here.
// Usage: bun bench/knx-routing.ts [uplink|poll|write] [count=2000]

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { BUN } from "../test/support/paths.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { BENCH_ADDRESSES, BENCH_VALUE, measureKnx, type KnxBenchMode } from "./knx-measure.ts";

const mode = (process.argv[2] ?? "uplink") as KnxBenchMode;
const n = Number(process.argv[3] ?? 2000);
setStderrLogging(false);

if (process.env.KNX_BENCH_ROUTING_CHILD) await connectorSide();
else await routerSide();

/** The host side: namespaces, knxd routing, the responder; the connector runs in the child. */
async function routerSide(): Promise<void> {
  const { createTestNetns } = await import("../src/connectors/knx/test/netns.ts");
  const { startKnxd } = await import("../src/connectors/knx/test/knxd.ts");
  const netns = createTestNetns({ peerNamespace: true });
  try {
    const knxd = await startKnxd(Object.fromEntries(BENCH_ADDRESSES.map((a) => [a, BENCH_VALUE])), { netns, routing: true });
    const child = spawn(...netns.peer!.exec(BUN, [import.meta.path, mode, String(n)]), { env: { ...process.env, KNX_BENCH_ROUTING_CHILD: "1" }, stdio: ["pipe", "pipe", "inherit"] });
    try {
      for await (const line of createInterface({ input: child.stdout! })) {
        const burst = /^BURST (\d+) (\S+) (\S+)$/.exec(line);
        if (burst) knxd.burst(Number(burst[1]), burst[2]!, burst[3]!);
        else if (line === "WRITES?") child.stdin!.write(`${knxd.telegrams().filter((t) => t.kind === "write").length}\n`);
        else console.log(line);
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
  const answers = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  try {
    await measureKnx({
      mode,
      count: n,
      client: { type: "ROUTING", individualAddress: "1.1.250" },
      label: " (routing)",
      bus: {
        burst: (count, address, hex) => void console.log(`BURST ${count} ${address} ${hex}`),
        writesSeen: async () => {
          console.log("WRITES?");
          return Number((await answers.next()).value);
        },
      },
    });
  } finally {
    await answers.return?.();
    process.stdin.destroy();
  }
}
