// Starts the pymodbus peer (Debian python3-pymodbus, run with /usr/bin/python3) for tests and benchmarks.
import { join } from "node:path";
import { startProcess, type Started } from "../../../../test/support/process.ts";
import { exactJson } from "../../../core/records.ts";

export interface PeerOptions {
  transport?: "tcp" | "udp" | "serial";
  host?: string;
  /** serve the same device on each of these addresses (TCP/UDP) */
  hosts?: string[];
  port: number | string;
  framer?: "socket" | "rtu" | "ascii";
  baudrate?: number;
  parity?: "N" | "E" | "O";
  units?: number[];
  hr?: Record<number, number>;
  ir?: Record<number, number>;
  co?: Record<number, number>;
  di?: Record<number, number>;
  encode?: Array<{ address: number; type: string; value: unknown; byteOrder: string; wordOrder: string }>;
  /** print pymodbus' decode_bits() × 2 of these registers (BITS lines) */
  decodeBits?: { hr?: number[]; ir?: number[] };
}

export const PEER_SCRIPT = join(import.meta.dir, "pymodbus_peer.py");

export function startPeer(opts: PeerOptions): Promise<Started> {
  // exactJson: an `encode` value given as bigint reaches Python's json.loads digit for digit.
  return startProcess("/usr/bin/python3", [PEER_SCRIPT, exactJson(opts)], { ready: /READY/, timeoutMs: 20000 });
}

/** Registers pymodbus' builder produced per address (from the peer's ENCODED lines). */
export function encodedRegisters(output: string): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const [, addr, regs] of output.matchAll(/^ENCODED (\d+) (\[.*\])$/gm)) m.set(Number(addr), JSON.parse(regs!));
  return m;
}

/** pymodbus' 16 bits of one register (from the peer's BITS lines), keyed "hr 900". */
export function referenceBits(output: string): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const [, table, addr, bits] of output.matchAll(/^BITS (\w+) (\d+) (\[.*\])$/gm)) m.set(`${table} ${addr}`, JSON.parse(bits!));
  return m;
}

/** Writes the peer saw: `WRITE unit table address [values]`. */
export function peerWrites(output: string): Array<{ unit: number; table: string; address: number; values: number[] }> {
  return [...output.matchAll(/^WRITE (\d+) (\w+) (\d+) (\[.*\])$/gm)].map(([, u, t, a, v]) => ({
    unit: Number(u), table: t!, address: Number(a), values: JSON.parse(v!),
  }));
}

/** A socat pty pair: `a` for us, `b` for the peer. Stop it to make the port vanish. */
export async function startPtyPair(dir: string): Promise<{ a: string; b: string; proc: Started }> {
  const a = join(dir, "ttyA"), b = join(dir, "ttyB");
  const proc = await startProcess("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    ready: /starting data transfer loop/,
    timeoutMs: 10000,
  });
  return { a, b, proc };
}

/**
 * Resolve once the peer's output satisfies `ok`. A write's response can reach us over the socket
 * before the peer's WRITE line arrives through its stdout pipe, so tests wait for the line.
 */
export function waitForOutput(p: Started, ok: (out: string) => boolean, timeoutMs = 5000, what = "peer output"): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!ok(p.output())) return;
      cleanup();
      resolve(p.output());
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${what}; output:\n${p.output().slice(-2000)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      p.proc.stdout?.off("data", onData);
    };
    // Our listener runs after startProcess' own, so output() already holds the new chunk.
    const onData = () => check();
    p.proc.stdout?.on("data", onData);
    check();
  });
}

export const LINE_SIM_SCRIPT = join(import.meta.dir, "line_sim.py");

/**
 * Our serial line simulator (line_sim.py): two ptys, `line` for the master (tb-gw), `device` for the
 * pymodbus peer; bytes pass only while the master's tty is set to the line's baud/parity/stop bits.
 */
export async function startLine(opts: { baudrate: number; parity: "N" | "E" | "O"; stopbits?: number }): Promise<{ line: string; device: string; proc: Started }> {
  const proc = await startProcess("/usr/bin/python3", [LINE_SIM_SCRIPT, JSON.stringify(opts)], { ready: /^LINE \S+ DEVICE \S+$/m, timeoutMs: 10000 });
  const [, line, device] = /^LINE (\S+) DEVICE (\S+)$/m.exec(proc.output())!;
  return { line: line!, device: device!, proc };
}

export const PACED_LINE_SCRIPT = join(import.meta.dir, "paced_line.py");

/** What paced_line.py reports on SIGUSR1 (see its header). */
export interface PacedLineStats {
  baud: number;
  bitsPerChar: number;
  duplex: "half" | "full";
  realtime: boolean;
  charUs: number;
  seconds: number;
  lineBusyPct: number;
  masterBytes: number;
  masterFrames: number;
  deviceBytes: number;
  deviceFrames: number;
  masterTurnaround: { n: number; meanUs: number; p50Us: number; p99Us: number } | null;
  deviceTurnaround: { n: number; meanUs: number; p50Us: number; p99Us: number } | null;
  requestsSoonerThan3_5Chars: number;
  deliveryLateMeanUs: number;
  deliveryLateMaxUs: number;
}

export interface PacedLine {
  /** tty for the master (tb-gw) */
  line: string;
  /** tty for the device (pymodbus peer) */
  device: string;
  proc: Started;
  /** start a new measurement window */
  resetStats(): void;
  /** figures since the last reset */
  stats(): Promise<PacedLineStats>;
}

/**
 * Our paced serial line (paced_line.py): two ptys carrying bytes no faster than `baudrate` allows at
 * `bitsPerChar` bit times per character, half duplex (RS-485) unless told otherwise.
 */
export async function startPacedLine(opts: { baudrate: number; bitsPerChar: number; duplex?: "half" | "full"; realtime?: boolean; echo?: boolean }): Promise<PacedLine> {
  const proc = await startProcess("/usr/bin/python3", [PACED_LINE_SCRIPT, JSON.stringify(opts)], { ready: /^LINE \S+ DEVICE \S+$/m, timeoutMs: 10000 });
  const [, line, device] = /^LINE (\S+) DEVICE (\S+)$/m.exec(proc.output())!;
  const statsLines = () => proc.output().match(/^STATS .*$/gm) ?? [];
  return {
    line: line!,
    device: device!,
    proc,
    resetStats: () => process.kill(proc.proc.pid!, "SIGUSR2"),
    async stats() {
      const before = statsLines().length;
      process.kill(proc.proc.pid!, "SIGUSR1");
      await waitForOutput(proc, () => statsLines().length > before, 5000, "paced line STATS");
      return JSON.parse(statsLines()[before]!.slice("STATS ".length)) as PacedLineStats;
    },
  };
}
