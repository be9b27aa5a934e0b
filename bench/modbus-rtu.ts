// Modbus RTU against the pymodbus serial server (Debian python3-pymodbus), reads/s against the line's
// ceiling, over one of two lines:
//  - default: a socat pty pair. A pty has no baud rate: bytes move as fast as the two processes copy
//    them, so this says whether the software (framing, end-of-frame detection, turnaround on both
//    sides) keeps up, not what a real line gives.
//  - `--paced BAUD`: our paced line (src/connectors/modbus/test/paced_line.py, checked by
//    bench/paced-line.ts): bytes no faster than BAUD at `--bits` bit times per character (11: 8E1/8N2,
//    what the Modbus spec counts for RTU), half duplex like a two-wire RS-485 bus (`--duplex full` for
//    RS-232). The exchange is then limited like a real wire, and the line reports each side's
//    wire-level turnaround (end of the other side's frame → start of its own).
// Two workloads:
//  1. back-to-back FC 3 reads of `--regs` (10) registers through the connector's link (ModbusLink: our
//     RTU framing on the serial device file, serial-file.ts + framed-port.ts), in the bench process.
//  2. the connector's normal polling of a bus: `--poll-slaves K` (default 10, 0 = skip) slaves, unit ids
//     1..K, each with `--poll-regs M` (50) `16uint` keys (merged into reads of ≤ 125 registers) every
//     `--poll-ms` (100) ms. 10 × 50 registers every 100 ms asks for 100 reads/s of 50 registers, more
//     than the 87/s a 115200 line carries, so the bus stays busy and polls queue on the link as on a
//     real saturated RS-485 bus: polls/s against the line's ceiling (or against what was asked for,
//     if that is lower).
//  3. `--whole source|<path of tb-gw>`: the same bus polled by the whole gateway (`tb-gw run` with
//     memory storage, Mosquitto as the platform), polls counted at the platform, the gateway's CPU.
// Ceiling of a read of R registers: request 8 bytes (unit, FC, address, count, CRC), answer 5 + 2 R,
// and a 3.5-character silence after each frame, each character `--bits` bit times. R = 10 at 115200,
// 11 bits: (8 + 25 + 2 × 3.5) × 11 = 440 bit times = 3.82 ms → 262 reads/s. (The spec recommends a
// fixed 1.75 ms silence above 19200 baud instead of 3.5 characters; the ceiling here uses 3.5
// characters, the stricter figure.)
// Usage: bun bench/modbus-rtu.ts [--paced 115200] [--seconds 10] [--regs 10] [--bits 11] [--duplex half|full]
//   [--poll-slaves 10] [--poll-regs 50] [--poll-ms 100] [--whole source|dist/tb-gw]
// Prints one JSON line per workload.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger, setStderrLogging } from "../src/observe/logger.ts";
import { linkOptionsOf, ModbusConnector } from "../src/connectors/modbus/connector.ts";
import { readRaw } from "../src/connectors/modbus/device.ts";
import { ModbusLink } from "../src/connectors/modbus/link.ts";
import { ModbusConfigSchema } from "../src/connectors/modbus/schema.ts";
import { startPacedLine, startPeer, startPtyPair, type PacedLine } from "../src/connectors/modbus/test/peer.ts";
import { recordingContext } from "../test/support/context.ts";
import type { Started } from "../test/support/process.ts";
import { mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { cpuSeconds } from "./proc.ts";
import { benchStorage } from "./storage-config.ts";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";

const paced = option("paced", "");
const BAUD = Number(paced || 115200);
const seconds = Number(option("seconds", "10"));
const REGS = Number(option("regs", "10"));
const BITS = Number(option("bits", "11"));
const duplex = option("duplex", "half") as "half" | "full";
const POLL_SLAVES = Number(option("poll-slaves", "10"));
const POLL_REGS = Number(option("poll-regs", "50"));
const POLL_MS = Number(option("poll-ms", "100"));
/** `--whole source` or `--whole <tb-gw binary>`: also poll the bus with the whole gateway */
const WHOLE = option("whole", "");
setStderrLogging(process.env.BENCH_VERBOSE === "1");

/** Bit times one read of `regs` registers takes on the wire, gaps included. */
const bitsPerRead = (regs: number) => (8 + (5 + 2 * regs) + 2 * 3.5) * BITS;
const loadavg = async () => (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-rtu-"));
const started: Started[] = [];
let line: PacedLine | undefined;
try {
  let master: string, device: string;
  if (paced) {
    line = await startPacedLine({ baudrate: BAUD, bitsPerChar: BITS, duplex });
    started.push(line.proc);
    ({ line: master, device } = line);
  } else {
    const pty = await startPtyPair(dir);
    started.push(pty.proc);
    ({ a: master, b: device } = pty);
  }
  const hr: Record<number, number> = {};
  for (let r = 0; r < Math.max(REGS, POLL_REGS); r++) hr[r] = r;
  const units = Array.from({ length: Math.max(1, POLL_SLAVES) }, (_, i) => i + 1);
  const peer = await startPeer({ transport: "serial", framer: "rtu", port: device, baudrate: BAUD, units, hr });
  started.push(peer);
  // The gateway's line settings match the paced characters (8N2 for 11 bits, so its 3.5-character
  // inter-frame silence is the one the ceiling counts; 8E1 would be the same length, but a pty drops
  // parity and then refuses it when the port is opened again).
  const stopbits = BITS === 11 ? 2 : 1;
  const slave = (extra: object) => ({ deviceName: "rtu", type: "serial", port: master, method: "rtu", unitId: 1, baudrate: BAUD, parity: "N", stopbits, timeout: 1, retries: 0, ...extra });
  const pollSlaves = () => Array.from({ length: POLL_SLAVES }, (_, i) => slave({
    deviceName: `rtu-${i + 1}`, unitId: i + 1, pollPeriod: POLL_MS, byteOrder: "BIG", wordOrder: "BIG",
    timeseries: Array.from({ length: POLL_REGS }, (_, r) => ({ tag: `r${r}`, type: "16uint", functionCode: 3, objectsCount: 1, address: r })),
  }));
  /** One poll = ceil(M / 125) reads; the line's ceiling for those reads, all slaves sharing it. */
  const pollCeiling = () => {
    const reads: number[] = [];
    for (let left = POLL_REGS; left > 0; left -= 125) reads.push(Math.min(125, left));
    const pollBits = reads.reduce((sum, r) => sum + bitsPerRead(r), 0);
    return { reads, pollBits, ceilingPolls: BAUD / pollBits };
  };
  const common = { line: paced ? `paced ${BAUD} baud, ${BITS} bits/char, ${duplex} duplex` : "socat pty (unpaced)", baud: BAUD };

  /** Figures over a measuring window: this process's CPU, the peer's, the line's own report. */
  const window = async () => {
    line?.resetStats();
    const cpu0 = process.cpuUsage(), peer0 = cpuSeconds(peer.proc.pid!), t0 = performance.now();
    const relay0 = line ? cpuSeconds(line.proc.proc.pid!) : 0;
    return async () => {
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const wire = line ? await line.stats() : undefined;
      return {
        wall,
        gatewayCpuPct: round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
        peerCpuPct: round(((cpuSeconds(peer.proc.pid!) - peer0) / wall) * 100),
        ...(line && wire
          ? {
              relayCpuPct: round(((cpuSeconds(line.proc.proc.pid!) - relay0) / wall) * 100),
              lineBusyPct: wire.lineBusyPct,
              gatewayTurnaroundUs: wire.masterTurnaround, peerTurnaroundUs: wire.deviceTurnaround,
              requestsSoonerThan3_5Chars: wire.requestsSoonerThan3_5Chars,
              relayLateMeanUs: wire.deliveryLateMeanUs, relayLateMaxUs: wire.deliveryLateMaxUs,
            }
          : {}),
        loadavg: await loadavg(),
      };
    };
  };

  // 1. back-to-back reads through the link
  {
    const cfg = ModbusConfigSchema.parse({ master: { slaves: [slave({ pollPeriod: 1000, timeseries: [] })] } });
    const link = new ModbusLink(linkOptionsOf(cfg.master!.slaves[0]!), new Logger("bench"));
    try {
      for (let i = 0; i < 20; i++) await readRaw(link, 1, 3, 0, REGS); // warm-up
      const end = await window();
      const t0 = performance.now();
      let reads = 0;
      while (performance.now() - t0 < seconds * 1000) {
        const r = await readRaw(link, 1, 3, 0, REGS);
        if (r.kind !== "regs" || r.regs.length !== REGS || r.regs[REGS - 1] !== REGS - 1) throw new Error(`unexpected answer ${JSON.stringify(r)}`);
        reads++;
      }
      const w = await end();
      const rate = reads / w.wall;
      const ceiling = BAUD / bitsPerRead(REGS);
      console.log(JSON.stringify({
        workload: "back-to-back reads", ...common, registers: REGS, bitTimesPerRead: bitsPerRead(REGS), ceilingReadsPerS: round(ceiling),
        readsPerS: round(rate), ofCeilingPct: round((rate / ceiling) * 100), meanRoundTripMs: round(1000 / rate, 3), ...w, wall: undefined,
      }));
    } finally {
      await link.close();
    }
  }

  // 2. the connector's own polling: K slaves (unit ids 1..K) on the one bus, M keys each
  if (POLL_SLAVES > 0 && POLL_REGS > 0) {
    const ctx = recordingContext({ type: "modbus" });
    let points = 0, messages = 0, measuring = false;
    ctx.sendData = async (data) => {
      if (!measuring) return "SUCCESS";
      for (const d of Array.isArray(data) ? data : [data]) {
        messages++;
        for (const e of d.telemetry ?? []) points += Object.keys(e.values).length;
      }
      return "SUCCESS";
    };
    const cfg = ModbusConfigSchema.parse({ master: { slaves: pollSlaves() } });
    const conn = new ModbusConnector(cfg, ctx);
    try {
      await conn.start();
      const warm = performance.now();
      while (performance.now() - warm < 2000) await Bun.sleep(50);
      const end = await window();
      measuring = true;
      await Bun.sleep(seconds * 1000);
      measuring = false;
      const w = await end();
      const { reads, pollBits, ceilingPolls } = pollCeiling();
      const asked = (POLL_SLAVES * 1000) / POLL_MS;
      const polls = messages / w.wall;
      console.log(JSON.stringify({
        workload: "connector polling", ...common, slaves: POLL_SLAVES, keysPerSlave: POLL_REGS, readsPerPoll: reads.length, pollPeriodMs: POLL_MS,
        askedPollsPerS: round(asked), bitTimesPerPoll: pollBits, ceilingPollsPerS: round(ceilingPolls), pollsPerS: round(polls),
        datapointsPerS: round(points / w.wall), ofCeilingPct: round((polls / Math.min(asked, ceilingPolls)) * 100), ...w, wall: undefined,
      }));
    } finally {
      await conn.stop();
    }
  }
  // 3. the same bus polled by the whole gateway (`tb-gw run`, from source or a compiled binary):
  //    Mosquitto as the platform, every telemetry message counted there, the gateway's own CPU.
  if (WHOLE && POLL_SLAVES > 0 && POLL_REGS > 0) {
    const platform = await startMosquitto();
    let counter: PlatformCounter | undefined;
    let gw: Started | undefined;
    try {
      let polls = 0, points = 0, measuring = false;
      counter = await countPlatform<Record<string, number>>(platform.url, "bench-platform", (body) => {
        if (!measuring) return;
        for (const entries of Object.values(body)) for (const e of entries) {
          polls++;
          for (const _ in e.values) points++;
        }
      });
      const connector = { master: { slaves: pollSlaves() } };
      const files = writeGatewayConfig(mainConfig(platform.port, benchStorage("memory"), [{ name: "Modbus RTU", type: "modbus", configuration: "modbus.json" }], { statistics: { enable: false } }), { "modbus.json": connector });
      gw = await startBenchGateway(files.configPath, { binary: WHOLE === "source" ? "" : WHOLE, env: { TB_GW_LOG_LEVEL: "WARNING" } });
      await Bun.sleep(3000);
      const pid = gw.proc.pid!;
      line?.resetStats();
      const cpu0 = cpuSeconds(pid), peer0 = cpuSeconds(peer.proc.pid!), relay0 = line ? cpuSeconds(line.proc.proc.pid!) : 0, t0 = performance.now();
      measuring = true;
      await Bun.sleep(seconds * 1000);
      measuring = false;
      const wall = (performance.now() - t0) / 1000;
      const wire = line ? await line.stats() : undefined;
      const { ceilingPolls, pollBits, reads } = pollCeiling();
      const asked = (POLL_SLAVES * 1000) / POLL_MS;
      console.log(JSON.stringify({
        workload: "gateway polling", from: WHOLE === "source" ? "source" : "binary", ...common, slaves: POLL_SLAVES, keysPerSlave: POLL_REGS, readsPerPoll: reads.length,
        pollPeriodMs: POLL_MS, askedPollsPerS: round(asked), bitTimesPerPoll: pollBits, ceilingPollsPerS: round(ceilingPolls), pollsPerS: round(polls / wall),
        datapointsPerS: round(points / wall), ofCeilingPct: round((polls / wall / Math.min(asked, ceilingPolls)) * 100),
        gatewayCpuPct: round(((cpuSeconds(pid) - cpu0) / wall) * 100), peerCpuPct: round(((cpuSeconds(peer.proc.pid!) - peer0) / wall) * 100),
        ...(line && wire ? {
          relayCpuPct: round(((cpuSeconds(line.proc.proc.pid!) - relay0) / wall) * 100), lineBusyPct: wire.lineBusyPct,
          gatewayTurnaroundUs: wire.masterTurnaround, peerTurnaroundUs: wire.deviceTurnaround, requestsSoonerThan3_5Chars: wire.requestsSoonerThan3_5Chars,
          relayLateMeanUs: wire.deliveryLateMeanUs, relayLateMaxUs: wire.deliveryLateMaxUs,
        } : {}),
        loadavg: await loadavg(),
      }));
    } finally {
      await gw?.stop();
      await counter?.close();
      await platform.dispose();
    }
  }
} finally {
  for (const p of started.reverse()) await p.stop();
  rmSync(dir, { recursive: true, force: true });
}
