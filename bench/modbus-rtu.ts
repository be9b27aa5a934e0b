// Modbus RTU at 115200 baud 8N1 over a socat pty pair against the pymodbus serial server (Debian
// python3-pymodbus): back-to-back FC 3 reads of 10 registers through the connector's link
// (ModbusLink: our RTU framing on the serial device file), reads/s against the line's ceiling.
// Ceiling: request 8 bytes (unit, FC, address, count, CRC), answer 5 + 2 × 10 = 25 bytes, 11 bits per
// character (start, 8 data, stop, and the parity-or-second-stop slot the spec counts) and a 3.5-character
// silence after each frame: (8 + 25 + 2 × 3.5) × 11 = 440 bit times = 3.82 ms → 262 reads/s.
// A pty has no baud rate: bytes move as fast as the two processes copy them, so the figure says
// whether the software (framing, end-of-frame detection, turnaround on both sides) keeps up with
// what a real 115200-baud line would allow, not that the line was driven at 115200.
// Usage: bun bench/modbus-rtu.ts [seconds=10]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger, setStderrLogging } from "../src/observe/logger.ts";
import { linkOptionsOf } from "../src/connectors/modbus/connector.ts";
import { readRaw } from "../src/connectors/modbus/device.ts";
import { ModbusLink } from "../src/connectors/modbus/link.ts";
import { ModbusConfigSchema } from "../src/connectors/modbus/schema.ts";
import { startPeer, startPtyPair } from "../src/connectors/modbus/test/peer.ts";
import type { Started } from "../test/support/process.ts";
import { cpuSeconds } from "./proc.ts";

const seconds = Number(process.argv[2] ?? 10);
const BAUD = 115200;
const REGS = 10;
setStderrLogging(process.env.BENCH_VERBOSE === "1");

const bitsPerRead = (8 + (5 + 2 * REGS) + 2 * 3.5) * 11;
const ceiling = BAUD / bitsPerRead;

const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-rtu-"));
const started: Started[] = [];
let link: ModbusLink | undefined;
try {
  const pty = await startPtyPair(dir);
  started.push(pty.proc);
  const peer = await startPeer({ transport: "serial", framer: "rtu", port: pty.b, baudrate: BAUD, units: [1], hr: { 0: 1, 9: 9 } });
  started.push(peer);
  const cfg = ModbusConfigSchema.parse({
    master: { slaves: [{ deviceName: "rtu", type: "serial", port: pty.a, method: "rtu", unitId: 1, baudrate: BAUD, parity: "N", timeout: 1, retries: 0, pollPeriod: 1000, timeseries: [] }] },
  });
  link = new ModbusLink(linkOptionsOf(cfg.master!.slaves[0]!), new Logger("bench"));
  for (let i = 0; i < 20; i++) await readRaw(link, 1, 3, 0, REGS); // warm-up
  const cpu0 = process.cpuUsage();
  const peer0 = cpuSeconds(peer.proc.pid!);
  const t0 = performance.now();
  let reads = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const r = await readRaw(link, 1, 3, 0, REGS);
    if (r.kind !== "regs" || r.regs.length !== REGS || r.regs[9] !== 9) throw new Error(`unexpected answer ${JSON.stringify(r)}`);
    reads++;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rate = reads / wall;
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  console.log(
    JSON.stringify({
      baud: BAUD, registers: REGS, bitTimesPerRead: bitsPerRead, ceilingReadsPerS: Math.round(ceiling),
      readsPerS: Math.round(rate), ofCeilingPct: Math.round((rate / ceiling) * 1000) / 10,
      meanRoundTripMs: Math.round((1000 / rate) * 100) / 100,
      gatewayCpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 1000) / 10,
      peerCpuPct: Math.round(((cpuSeconds(peer.proc.pid!) - peer0) / wall) * 1000) / 10,
      loadavg: load,
    }),
  );
} finally {
  await link?.close();
  for (const p of started.reverse()) await p.stop();
  rmSync(dir, { recursive: true, force: true });
}
