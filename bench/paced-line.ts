// Self-check of the paced serial line (src/connectors/modbus/test/paced_line.py) that bench/modbus-rtu.ts
// --paced runs Modbus RTU over: does it carry bytes no faster, and not much slower, than the baud rate?
// Both ends are opened the way the gateway opens a serial port (serial-file.ts: stty, then the device
// file read through Bun), so the figures include the same pty and process hops the Modbus bench has.
//  1. burst: N bytes written at once from the master's end; time until the last arrives at the device's
//     end against N × bits/baud, and the most any byte arrived ahead of the earliest a wire allows
//     (must be ≤ 0 characters; the relay only ever delivers late).
//  2. both ends write N bytes at once: half duplex must take 2 N characters, full duplex N.
//  3. ping-pong: one byte each way, back to back: per hop, the character time plus the relay's and the
//     two processes' own latency — what a Modbus exchange pays on top of the line twice per read.
// Usage: bun bench/paced-line.ts [--baud 115200] [--bits 11] [--bytes 23040] [--pings 500]
// Prints one JSON line per check (with the load average) and exits 1 if a check fails.

import { closeSync, constants, openSync, writeSync } from "node:fs";
import { option } from "./support.ts";
import { SerialFileStream } from "../src/connectors/modbus/serial-file.ts";
import { startPacedLine } from "../src/connectors/modbus/test/peer.ts";
import { cpuSeconds } from "./proc.ts";

const BAUD = Number(option("baud", "115200"));
const BITS = Number(option("bits", "11"));
const N = Number(option("bytes", String(Math.round((2 * BAUD) / BITS)))); // ~2 s of line time
const PINGS = Number(option("pings", "500"));
const CHAR_MS = (BITS / BAUD) * 1000;
/**
 * Over a long burst the line must take its nominal time within this, on the slow side only. The
 * relay runs real-time, but this reader does not: at load 7 on 2 cores its last read came up to
 * 64 ms (3 %) late while the relay itself was on time.
 */
const TOLERANCE = 0.05;

const loadavg = async () => (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
const serial = { baudrate: BAUD, bytesize: 8, parity: "N" as const, stopbits: 1 };

/** Receives into a running count, with the time each chunk arrived. */
function collector(s: SerialFileStream) {
  const c = { count: 0, arrivals: [] as Array<[number, number]>, onByte: (_b: number) => {} };
  s.onData((d) => {
    const t = performance.now();
    c.count += d.length;
    c.arrivals.push([t, c.count]);
    for (const b of d) c.onByte(b);
  });
  s.onEnd((e) => {
    throw new Error(`${s.path}: ${e?.message}`);
  });
  return c;
}

/**
 * Write all of `data` through a blocking descriptor of the same tty: the relay reads its side at once
 * (pacing is on delivery), so this returns quickly; a non-blocking write of a burst finds the pty's
 * small buffer full (EAGAIN).
 */
function writeAll(path: string, data: Uint8Array): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NOCTTY);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
  } finally {
    closeSync(fd);
  }
}

async function waitCount(c: { count: number }, n: number, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (c.count < n) {
    if (performance.now() > end) throw new Error(`only ${c.count} of ${n} bytes arrived in ${timeoutMs} ms`);
    await Bun.sleep(5);
  }
}

let failed = false;
function report(check: string, figures: Record<string, unknown>, ok: boolean, load: string) {
  if (!ok) failed = true;
  console.log(JSON.stringify({ check, ok, ...figures, loadavg: load }));
}

for (const duplex of ["half", "full"] as const) {
  const line = await startPacedLine({ baudrate: BAUD, bitsPerChar: BITS, duplex });
  const a = new SerialFileStream(line.line, serial);
  const b = new SerialFileStream(line.device, serial);
  try {
    await a.open();
    await b.open();
    const atA = collector(a);
    const atB = collector(b);
    const burst = new Uint8Array(N).map((_, i) => i & 0xff);
    const relayCpu0 = cpuSeconds(line.proc.proc.pid!);

    if (duplex === "half") {
      // 1. burst one way
      const t0 = performance.now();
      writeAll(line.line, burst);
      await waitCount(atB, N, N * CHAR_MS * 3 + 5000);
      const took = atB.arrivals.at(-1)![0] - t0;
      const nominal = N * CHAR_MS;
      // Ahead: bytes that had arrived by t beyond what a wire started at t0 could have carried.
      const aheadChars = Math.max(...atB.arrivals.map(([t, n]) => n - (t - t0) / CHAR_MS));
      const relayCpuPct = ((cpuSeconds(line.proc.proc.pid!) - relayCpu0) / (took / 1000)) * 100;
      report(
        "burst",
        { baud: BAUD, bitsPerChar: BITS, bytes: N, nominalMs: +nominal.toFixed(1), tookMs: +took.toFixed(1), ratio: +(took / nominal).toFixed(4), maxAheadChars: +aheadChars.toFixed(2), relayCpuPct: +relayCpuPct.toFixed(1) },
        took >= nominal && took <= nominal * (1 + TOLERANCE) + 20 && aheadChars <= 0,
        await loadavg(),
      );
    }

    // 2. both ends at once
    atA.count = atB.count = 0;
    atA.arrivals.length = atB.arrivals.length = 0;
    const t1 = performance.now();
    writeAll(line.line, burst);
    writeAll(line.device, burst);
    await Promise.all([waitCount(atA, N, N * CHAR_MS * 4 + 5000), waitCount(atB, N, N * CHAR_MS * 4 + 5000)]);
    const both = Math.max(atA.arrivals.at(-1)![0], atB.arrivals.at(-1)![0]) - t1;
    const expected = (duplex === "half" ? 2 : 1) * N * CHAR_MS;
    report(
      `both-ways-${duplex}`,
      { bytesEachWay: N, expectedMs: +expected.toFixed(1), tookMs: +both.toFixed(1), ratio: +(both / expected).toFixed(4) },
      both >= expected && both <= expected * (1 + TOLERANCE) + 20,
      await loadavg(),
    );

    // 3. ping-pong: b echoes each byte back; a sends the next when the echo arrives
    if (duplex === "half") {
      let wrong = 0;
      let expect = 0;
      let resolve: () => void = () => {};
      atB.onByte = (x) => b.write(Uint8Array.of(x));
      atA.onByte = (x) => {
        if (x !== expect) wrong++;
        resolve();
      };
      const rtts: number[] = [];
      for (let i = 0; i < PINGS; i++) {
        expect = i & 0xff;
        const done = new Promise<void>((r) => (resolve = r));
        const t = performance.now();
        a.write(Uint8Array.of(expect));
        await done;
        rtts.push(performance.now() - t);
      }
      rtts.sort((x, y) => x - y);
      const mean = rtts.reduce((s, x) => s + x, 0) / rtts.length;
      report(
        "ping-pong",
        {
          pings: PINGS, charUs: +(CHAR_MS * 1000).toFixed(1), meanRoundTripUs: Math.round(mean * 1000), p50Us: Math.round(rtts[rtts.length >> 1]! * 1000),
          p99Us: Math.round(rtts[Math.floor(rtts.length * 0.99)]! * 1000), overheadPerHopUs: Math.round((mean / 2 - CHAR_MS) * 1000), wrongBytes: wrong,
          minRoundTripUs: Math.round(rtts[0]! * 1000),
        },
        wrong === 0 && rtts[0]! >= 2 * CHAR_MS,
        await loadavg(),
      );
    }
  } finally {
    await a.close();
    await b.close();
    await line.proc.stop();
  }
}
process.exit(failed ? 1 : 0);
