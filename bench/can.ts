// CAN over slcan: how many frames/s the connector reads, decodes and hands on. Two device sides on a
// socat pty pair: `line` writes prepared slcan lines with dd (the fastest a serial line could feed
// us), `python` sends them through python-can's slcan interface (Debian python3-can).
// `socketcan` reads a SocketCAN interface (CAN_BENCH_IF, default vcan0) fed by can-utils' cangen,
// at a fixed gap (CAN_BENCH_GAP_MS, default 0.1 = 10,000 frames/s) or as fast as it writes (gap 0),
// and reports the process's CPU over 10 s of an idle bus first (after 5 s to settle). It needs a kernel with vcan; on a
// machine without one, `socketcan-vm` boots the test VM (src/connectors/can/test/vm.ts) and runs the
// `socketcan` mode inside it (under TCG when KVM does not work: figures are then much lower than on
// real hardware).
// `dgram` measures the SocketCAN reader (worker thread, poll, batches, decoding) on any Linux: the
// bus is one end of a Unix datagram socketpair, fed with 16-byte can_frames by a python3 child
// writing as fast as it can (a socketpair blocks the writer when full, so nothing is lost: this is
// the most the reader takes, not a CAN bus).
// Usage: bun bench/can.ts [frames=100000] [line|python|socketcan|socketcan-vm|dgram]

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

if (mode === "socketcan-vm") {
  const { startCanVm } = await import("../src/connectors/can/test/vm.ts");
  const vm = await startCanVm(1);
  try {
    const bun = process.execPath;
    for (const gap of ["0.1", "0"]) {
      const out = await vm.run(`CAN_BENCH_GAP_MS=${gap} ${bun} ${import.meta.dir}/can.ts ${n} socketcan`, 600_000);
      console.log(`[VM, ${vm.kvm ? "KVM" : "TCG"}] ${out.trim()}`);
    }
  } finally {
    await vm.stop();
  }
  process.exit(0);
}

const dgram = mode === "dgram";
const socketcan = mode === "socketcan" || dgram;
const iface = process.env.CAN_BENCH_IF ?? "vcan0";
const gapMs = process.env.CAN_BENCH_GAP_MS ?? "0.1";
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
  interface: socketcan ? "socketcan" : "slcan",
  channel: socketcan ? iface : (pty?.a ?? peer!.gatewayPath),
  devices: [{ name: "bench", timeseries: [{ key: "seq", nodeId: 0x123, value: "4:4:big:int" }, { key: "tag", nodeId: 0x123, value: "0:4:raw" }] }],
});
let pairFd: number | undefined;
if (dgram) {
  // the connector opens a bus that is then handed one end of a socketpair instead of a CAN socket
  const { SocketCanBus } = await import("../src/connectors/can/socketcan.ts");
  const { dlopen, FFIType, ptr } = await import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  });
  const fds = new Int32Array(2);
  if (libc.symbols.socketpair(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */, 0, ptr(fds)) !== 0) throw new Error("socketpair failed");
  libc.symbols.fcntl(fds[0]!, 4 /* F_SETFL */, 0o4002 /* O_NONBLOCK|O_RDWR */);
  pairFd = fds[1]!;
  SocketCanBus.prototype.open = async function (this: InstanceType<typeof SocketCanBus>) {
    this.attach(fds[0]!);
  };
}
const c = new CanConnector(config, ctx);
await c.start();
let idle = "";
if (socketcan) {
  await Bun.sleep(5000); // start-up work (JIT compiler threads, GC) settles first
  const cpu0 = process.cpuUsage();
  await Bun.sleep(10_000);
  const cpu = process.cpuUsage(cpu0);
  idle = `; idle bus: ${((cpu.user + cpu.system) / 1000 / 10_000 * 100).toFixed(2)}% CPU over 10 s`;
}
const started = performance.now();
try {
  if (dgram) {
    const py = "import os,struct\nf=struct.Struct('<IB3x8s')\nfor i in range(N): os.write(0, f.pack(0x123, 8, b'\\xde\\xad\\xbe\\xef'+i.to_bytes(4,'big')))\n".replace("N", String(n));
    await Bun.spawn(["python3", "-c", py], { stdio: [pairFd!, "inherit", "inherit"] }).exited;
  } else if (socketcan) {
    await Bun.spawn(["cangen", iface, "-g", gapMs, "-n", String(n), "-I", "123", "-L", "8", "-D", "i"]).exited;
  } else if (pty) {
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
    `${mode}${socketcan ? ` (${dgram ? "socketpair, python3 writing flat out" : `cangen gap ${gapMs} ms`})` : ""}: ${count}/${n} frames converted in ${ms.toFixed(0)} ms = ${Math.round((count / ms) * 1000)} frames/s ` +
      `(device side done after ${(sentBy - started).toFixed(0)} ms); counters ${JSON.stringify(c.counters)}; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB${idle}`,
  );
} finally {
  await c.stop();
  await pty?.proc.stop();
  await peer?.stop();
}
