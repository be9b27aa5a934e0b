// Load generator for bench/socket.ts, in its own process: `connections` TCP connections to the
// Socket connector, each writing `frames` newline-ended frames "<connection>-<seq>" as fast as the
// connection takes them. `--idle`: open the connections, print, and hold them until stdin closes.
// Usage: bun bench/socket-load.ts <host> <port> <connections> <frames per connection> [--idle]

import type { Socket } from "bun";

const [host, portArg, connArg, framesArg, idleFlag] = process.argv.slice(2);
if (!host || !portArg || !connArg || !framesArg) {
  console.error("usage: bun bench/socket-load.ts <host> <port> <connections> <frames per connection> [--idle]");
  process.exit(2);
}
const connections = Number(connArg);
const frames = Number(framesArg);
const idle = idleFlag === "--idle";

const sockets: Socket<{ rest: Buffer; done: () => void }>[] = [];
const started = performance.now();
const flush = (s: Socket<{ rest: Buffer; done: () => void }>) => {
  const n = s.write(s.data.rest);
  if (n > 0) s.data.rest = s.data.rest.subarray(n);
  if (s.data.rest.length === 0) s.data.done();
};
const finished: Promise<void>[] = [];
for (let c = 0; c < connections; c++) {
  let done!: () => void;
  finished.push(new Promise<void>((r) => (done = r)));
  const rest = idle ? Buffer.alloc(0) : Buffer.from(Array.from({ length: frames }, (_, i) => `${c}-${i + 1}\n`).join(""));
  sockets.push(await Bun.connect({ hostname: host, port: Number(portArg), data: { rest, done }, socket: { open: idle ? () => {} : flush, drain: flush, data() {} } }));
}
if (idle) {
  console.log(JSON.stringify({ open: sockets.length }));
  for await (const _ of Bun.stdin.stream()) {
    // hold the connections until the bench closes stdin
  }
} else {
  await Promise.all(finished);
  const secs = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ frames: connections * frames, writeSeconds: secs, cpuSecs: (cpu.user + cpu.system) / 1e6 }));
  // keep the connections open until the bench is done counting (closing could race the reads)
  for await (const _ of Bun.stdin.stream()) {
    // wait
  }
}
for (const s of sockets) s.end();
