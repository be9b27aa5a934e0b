// CAN over slcan: how many frames/s the connector reads, decodes and hands on. Two device sides on a
// socat pty pair: `line` writes prepared slcan lines with dd (the fastest a serial line could feed
// us), `python` sends them through python-can's slcan interface (Debian python3-can).
// Usage: bun bench/can.ts [frames=100000] [line|python]

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../test/support/context.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { CanConnector } from "../src/connectors/can/connector.ts";
import { CanConfigSchema } from "../src/connectors/can/schema.ts";
import { startPtyPair } from "../src/connectors/modbus/test/peer.ts";
import { startCanPeer } from "../src/connectors/can/test/peer.ts";

const n = Number(process.argv[2] ?? 100_000);
const mode = process.argv[3] ?? "line";
setStderrLogging(false);

const dir = mkdtempSync(join(tmpdir(), "tbgw-can-bench-"));
const pty = mode === "line" ? await startPtyPair(dir) : undefined;
const peer = mode === "python" ? await startCanPeer(dir) : undefined;
const ctx = recordingContext({ type: "can" });
let count = 0;
let last = 0;
ctx.sendData = async (d) => {
  count += Array.isArray(d) ? d.length : 1;
  last = performance.now();
  return "SUCCESS";
};
const config = CanConfigSchema.parse({
  interface: "slcan",
  channel: pty?.a ?? peer!.gatewayPath,
  devices: [{ name: "bench", timeseries: [{ key: "seq", nodeId: 0x123, value: "4:4:big:int" }, { key: "tag", nodeId: 0x123, value: "0:4:raw" }] }],
});
const c = new CanConnector(config, ctx);
await c.start();
const started = performance.now();
try {
  if (pty) {
    let lines = "";
    for (let i = 0; i < n; i++) lines += `t1238DEADBEEF${i.toString(16).toUpperCase().padStart(8, "0")}\r`;
    const file = join(dir, "lines");
    writeFileSync(file, lines, "latin1");
    await Bun.spawn(["dd", `if=${file}`, `of=${pty.b}`, "bs=4096", "status=none"]).exited;
  } else await peer!.burst(n, 0x123, false, "deadbeef00000000", 300_000);
  const sentBy = performance.now();
  while (count < n && performance.now() - sentBy < 20_000) await Bun.sleep(5);
  const ms = last - started;
  console.log(
    `${mode}: ${count}/${n} frames converted in ${ms.toFixed(0)} ms = ${Math.round((count / ms) * 1000)} frames/s ` +
      `(device side done after ${(sentBy - started).toFixed(0)} ms); counters ${JSON.stringify(c.counters)}; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
  );
} finally {
  await c.stop();
  await pty?.proc.stop();
  await peer?.stop();
}
