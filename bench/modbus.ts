// Modbus master throughput against the pymodbus peer (Debian python3-pymodbus, separate process) on
// loopback: N slaves × 50 holding registers (50 keys of 16uint each) at pollPeriod 100 ms through the
// real connector, in two topologies: every slave behind one TCP connection (one unit id each, as
// behind a serial gateway: requests are serialised) and one connection per slave (127.0.0.x aliases of
// the same peer). Also the peer's own limit (a bare client sending back-to-back reads, no connector),
// and the time `tb-gw scan modbus` takes for 247 unit ids at 115200 baud over a socat pty pair.
// Usage: bun bench/modbus.ts [seconds=10] [slaves=1,10,100] [scanTimeoutsMs=50,200]
// Prints a table, then one JSON line with every figure.

import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../test/support/context.ts";
import { freePort } from "../test/support/ports.ts";
import { cpuSeconds, peakRssMb } from "./proc.ts";
import { startProcess, type Started } from "../test/support/process.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { ModbusConnector } from "../src/connectors/modbus/connector.ts";
import { ModbusConfigSchema } from "../src/connectors/modbus/schema.ts";
import { startPeer, startPtyPair } from "../src/connectors/modbus/test/peer.ts";

const seconds = Number(process.argv[2] ?? 10);
const slaveCounts = String(process.argv[3] ?? "1,10,100").split(",").map(Number);
const scanTimeouts = String(process.argv[4] ?? "50,200").split(",").filter(Boolean).map(Number);
const REGS = 50;
const PERIOD = 100;
setStderrLogging(process.env.BENCH_VERBOSE === "1");

const procCpuSeconds = cpuSeconds;
const procPeakRssMB = (pid: number) => Math.round(peakRssMb(pid));
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]! : NaN);

interface RunResult {
  slaves: number;
  connections: number;
  readsPerSecond: number;
  datapointsPerSecond: number;
  targetReadsPerSecond: number;
  pollIntervalP50Ms: number;
  pollIntervalP99Ms: number;
  pollIntervalMaxMs: number;
  skippedSlots: number;
  gatewayCpuPercent: number;
  gatewayPeakRssMB: number;
  peerCpuPercent: number;
  peerPeakRssMB: number;
}

async function runConnector(peer: Started, port: number, slaves: number, perSlaveConnection: boolean): Promise<RunResult> {
  const ctx = recordingContext({ type: "modbus" });
  let points = 0;
  let measuring = false;
  const lastAt = new Map<string, number>();
  const intervals: number[] = [];
  ctx.sendData = async (data) => {
    const now = performance.now();
    for (const d of Array.isArray(data) ? data : [data]) {
      const prev = lastAt.get(d.deviceName);
      lastAt.set(d.deviceName, now);
      if (!measuring) continue;
      if (prev !== undefined) intervals.push(now - prev);
      for (const e of d.telemetry ?? []) points += Object.keys(e.values).length;
    }
    return "SUCCESS";
  };
  const cfg = ModbusConfigSchema.parse({
    master: {
      slaves: Array.from({ length: slaves }, (_, i) => ({
        deviceName: `bench-${i + 1}`, type: "tcp", method: "socket", port, unitId: i + 1,
        // 127.0.0.x are all loopback: a distinct host gives the slave its own link (connection).
        host: perSlaveConnection ? `127.0.0.${i + 1}` : "127.0.0.1",
        pollPeriod: PERIOD, timeout: 2, retries: 0, byteOrder: "BIG", wordOrder: "BIG",
        timeseries: Array.from({ length: REGS }, (_, r) => ({ tag: `r${r}`, type: "16uint", functionCode: 3, objectsCount: 1, address: r })),
      })),
    },
  });
  const conn = new ModbusConnector(cfg, ctx);
  try {
    await conn.start();
    const warmupUntil = performance.now() + 10_000;
    while (lastAt.size < slaves && performance.now() < warmupUntil) await Bun.sleep(20);
    if (lastAt.size < slaves) throw new Error(`only ${lastAt.size}/${slaves} slaves answered within 10 s`);
    await Bun.sleep(2 * PERIOD); // let the start-up jitter settle
    const reads0 = conn.polled.reduce((s, p) => s + p.polls * p.blocks.length, 0);
    const skipped0 = conn.polled.reduce((s, p) => s + p.skipped, 0);
    const cpu0 = process.cpuUsage();
    const peer0 = procCpuSeconds(peer.proc.pid!);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    measuring = true;
    const t0 = performance.now();
    await Bun.sleep(seconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    measuring = false;
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpu0);
    const reads = conn.polled.reduce((s, p) => s + p.polls * p.blocks.length, 0) - reads0;
    return {
      slaves,
      connections: perSlaveConnection ? slaves : 1,
      readsPerSecond: Math.round(reads / wall),
      datapointsPerSecond: Math.round(points / wall),
      targetReadsPerSecond: Math.round((slaves * 1000) / PERIOD),
      pollIntervalP50Ms: Math.round(pct(intervals, 0.5)),
      pollIntervalP99Ms: Math.round(pct(intervals, 0.99)),
      pollIntervalMaxMs: Math.round(Math.max(...intervals)),
      skippedSlots: conn.polled.reduce((s, p) => s + p.skipped, 0) - skipped0,
      gatewayCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
      gatewayPeakRssMB: Math.round(peakRss / 1e6),
      peerCpuPercent: Math.round(((procCpuSeconds(peer.proc.pid!) - peer0) / wall) * 100),
      peerPeakRssMB: procPeakRssMB(peer.proc.pid!),
    };
  } finally {
    await conn.stop();
  }
}

/**
 * The peer's own limit: `connections` bare Modbus/TCP clients, each sending the next FC 3 read of
 * 50 registers the moment the previous answer arrives. No connector, no decoding.
 */
async function peerLimit(peer: Started, port: number, units: number, connections: number, ms: number): Promise<{ connections: number; readsPerSecond: number; peerCpuPercent: number }> {
  let reads = 0;
  const until = performance.now() + ms;
  const peer0 = procCpuSeconds(peer.proc.pid!);
  const t0 = performance.now();
  const one = (c: number) =>
    new Promise<void>((resolve, reject) => {
      const s = connect({ host: `127.0.0.${c + 1}`, port });
      let tid = 0;
      let buf = Buffer.alloc(0);
      const send = () => {
        tid = (tid + 1) & 0xffff;
        const unit = ((c + tid) % units) + 1;
        // MBAP: transaction id, protocol 0, length 6, unit; PDU: FC 3, address 0, count 50
        s.write(Buffer.from([tid >> 8, tid & 0xff, 0, 0, 0, 6, unit, 3, 0, 0, 0, REGS]));
      };
      s.setNoDelay(true);
      s.on("connect", send);
      s.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 6 && buf.length >= 6 + buf.readUInt16BE(4)) {
          // unit + FC + byte count + 50 registers; anything else (an exception) is not a read
          if (buf.readUInt16BE(4) !== 3 + 2 * REGS) return reject(new Error(`peer answered ${buf.subarray(0, 9).toString("hex")}`));
          buf = buf.subarray(6 + buf.readUInt16BE(4));
          reads++;
          if (performance.now() >= until) {
            s.destroy();
            return resolve();
          }
          send();
        }
      });
      s.on("error", reject);
    });
  await Promise.all(Array.from({ length: connections }, (_, c) => one(c)));
  const wall = (performance.now() - t0) / 1000;
  return { connections, readsPerSecond: Math.round(reads / wall), peerCpuPercent: Math.round(((procCpuSeconds(peer.proc.pid!) - peer0) / wall) * 100) };
}

async function scanTime(timeoutMs: number): Promise<{ timeoutMs: number; seconds: number; found: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-scan-"));
  const started: Started[] = [];
  try {
    const pty = await startPtyPair(dir);
    started.push(pty.proc);
    started.push(await startPeer({ transport: "serial", framer: "rtu", port: pty.b, baudrate: 115200, units: [1, 17, 247] }));
    const cli = join(import.meta.dir, "../cli/main.ts");
    const t0 = performance.now();
    const scan = await startProcess(process.execPath, [cli, "scan", "modbus", pty.a, "--units", "1-247", "--bauds", "115200", "--parities", "N", "--timeout", String(timeoutMs), "--json"], {
      ready: /"aborted": (true|false)/,
      timeoutMs: 247 * timeoutMs * 3 + 30_000,
    });
    started.push(scan);
    if (scan.proc.exitCode === null) await new Promise((r) => scan.proc.once("exit", r));
    const secs = (performance.now() - t0) / 1000;
    const out = scan.output();
    const json = JSON.parse(out.slice(out.indexOf('{\n'), out.lastIndexOf("}") + 1));
    return { timeoutMs, seconds: Math.round(secs * 10) / 10, found: json.found.map((f: { unitId: number }) => f.unitId) };
  } finally {
    for (const p of started.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs: RunResult[] = [];
const limits: Array<{ slaves: number; connections: number; readsPerSecond: number; peerCpuPercent: number }> = [];
for (const n of slaveCounts) {
  const port = await freePort();
  const hosts = Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
  const peer = await startPeer({ port, hosts, units: Array.from({ length: n }, (_, i) => i + 1) });
  try {
    for (const c of new Set([1, n])) limits.push({ slaves: n, ...(await peerLimit(peer, port, n, c, 3000)) });
    runs.push(await runConnector(peer, port, n, false));
    if (n > 1) runs.push(await runConnector(peer, port, n, true));
  } finally {
    await peer.stop();
  }
}
const scans = [];
for (const t of scanTimeouts) scans.push(await scanTime(t));

const row = (cells: unknown[]) => cells.map((c, i) => String(c).padStart(i === 0 ? 6 : 9)).join(" ");
console.log(`Modbus/TCP, ${REGS} registers per slave (one FC 3 read each), pollPeriod ${PERIOD} ms, ${seconds} s per run`);
console.log(row(["slaves", "conns", "target/s", "reads/s", "dp/s", "int.p50", "int.p99", "int.max", "skipped", "gw CPU%", "gw MB", "peer CPU%", "peer MB", "peer max/s"]));
for (const r of runs) {
  const lim = limits.find((l) => l.slaves === r.slaves && l.connections === r.connections);
  console.log(row([r.slaves, r.connections, r.targetReadsPerSecond, r.readsPerSecond, r.datapointsPerSecond, r.pollIntervalP50Ms, r.pollIntervalP99Ms, r.pollIntervalMaxMs, r.skippedSlots, r.gatewayCpuPercent, r.gatewayPeakRssMB, r.peerCpuPercent, r.peerPeakRssMB, lim?.readsPerSecond ?? "-"]));
}
console.log("peer max/s: bare client, back-to-back reads on that many connections, no connector");
for (const s of scans) console.log(`scan 247 unit ids, RTU 115200 8N1 over a socat pty, timeout ${s.timeoutMs} ms: ${s.seconds} s (found ${s.found.join(",")})`);
console.log(JSON.stringify({ seconds, registers: REGS, pollPeriodMs: PERIOD, runs, peerLimits: limits, scans }));
