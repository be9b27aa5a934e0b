// Independent socket peers for the Socket connector tests and benchmark: the Python device script
// (peer.py, Python's socket module) and socat. Both are driven through stdin, their output is
// watched event by event, and each is stopped by its PID.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";

const PEER_SCRIPT = join(import.meta.dir, "peer.py");

interface Waiter {
  check(): boolean;
}

class Watched {
  out = Buffer.alloc(0);
  err = "";
  private readonly waiters = new Set<Waiter>();
  readonly exited: Promise<void>;

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.on("data", (b: Buffer) => {
      this.out = Buffer.concat([this.out, b]);
      this.notify();
    });
    proc.stderr.on("data", (b: Buffer) => {
      this.err += b.toString();
      this.notify();
    });
    this.exited = new Promise((r) => proc.once("exit", () => (this.notify(), r())));
  }

  private notify(): void {
    for (const w of [...this.waiters]) if (w.check()) this.waiters.delete(w);
  }

  /** Resolves with `pick`'s value once it returns one; rejects after timeoutMs or when the process exits first. */
  until<T>(pick: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output:\n${this.out.toString().slice(-2000)}\n${this.err.slice(-1000)}`));
      }, timeoutMs);
      const w: Waiter = {
        check: () => {
          const v = pick();
          if (v !== undefined) {
            clearTimeout(timer);
            resolve(v);
            return true;
          }
          if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`peer exited while waiting for ${what}; output:\n${this.out.toString().slice(-2000)}\n${this.err.slice(-1000)}`));
            return true;
          }
          return false;
        },
      };
      if (!w.check()) this.waiters.add(w);
    });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.stdin.end();
    const killer = setTimeout(() => p.kill("SIGKILL"), 3000);
    p.kill("SIGTERM");
    await this.exited;
    clearTimeout(killer);
  }
}

export interface PyPeer {
  /** First line matching `re` (from line `from` on). */
  line(re: RegExp, what?: string, from?: number): Promise<RegExpMatchArray>;
  lines(): string[];
  /** Send one command and wait for its acknowledgement (DONE/OPEN); FAIL rejects. */
  cmd(line: string): Promise<string>;
  /** Bytes received so far on connection `i` (UDP: from the gateway port `i`). */
  received(i: number): Buffer;
  /** Resolves once connection `i` received bytes that satisfy `pred`. */
  receivedUntil(i: number, pred: (b: Buffer) => boolean, what: string, timeoutMs?: number): Promise<Buffer>;
  pid: number;
  stop(): Promise<void>;
}

/** Start peer.py in `mode` (see the script's header) and wait for its first line. */
export async function startPyPeer(args: string[]): Promise<{ peer: PyPeer; first: string }> {
  const proc = spawn("/usr/bin/python3", ["-u", PEER_SCRIPT, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const w = new Watched(proc);
  const lines = () => w.out.toString().split("\n").slice(0, -1);
  let acks = 0;
  const peer: PyPeer = {
    pid: proc.pid!,
    lines,
    line(re, what = String(re), from = 0) {
      return w.until(() => lines().slice(from).map((l) => l.match(re)).find((m) => m) ?? undefined, what);
    },
    async cmd(line) {
      const want = ++acks;
      proc.stdin.write(line + "\n");
      const reply = await w.until(() => lines().filter((l) => /^(DONE|FAIL|OPEN \d+ \d+)/.test(l))[want - 1], `reply to "${line}"`);
      if (reply.startsWith("FAIL")) throw new Error(`peer: ${reply}`);
      return reply;
    },
    received(i) {
      const parts = lines()
        .map((l) => l.match(/^RECV (\d+) ([0-9a-f]*)$/))
        .filter((m): m is RegExpMatchArray => !!m && Number(m[1]) === i)
        .map((m) => Buffer.from(m[2]!, "hex"));
      return Buffer.concat(parts);
    },
    receivedUntil(i, pred, what, timeoutMs = 10_000) {
      return w.until(() => {
        const b = peer.received(i);
        return pred(b) ? b : undefined;
      }, what, timeoutMs);
    },
    stop: () => w.stop(),
  };
  try {
    const first = await w.until(() => lines()[0], "the peer to start");
    return { peer, first };
  } catch (e) {
    await w.stop();
    throw e;
  }
}

export interface Socat {
  write(bytes: Buffer | string): void;
  /** Everything socat printed (what the gateway sent to it). */
  output(): Buffer;
  outputUntil(pred: (b: Buffer) => boolean, what: string, timeoutMs?: number): Promise<Buffer>;
  /** Resolves when socat exits (the connection closed). */
  exited: Promise<void>;
  pid: number;
  stop(): Promise<void>;
}

/** socat between its stdin/stdout and `address` (e.g. "TCP:127.0.0.1:5000", "UDP:127.0.0.1:5000"). */
export function startSocat(address: string, extra: string[] = []): Socat {
  const proc = spawn("socat", ["-b65536", ...extra, "STDIO", address], { stdio: ["pipe", "pipe", "pipe"] });
  const w = new Watched(proc);
  return {
    pid: proc.pid!,
    write: (b) => proc.stdin.write(b),
    output: () => w.out,
    outputUntil: (pred, what, timeoutMs) => w.until(() => (pred(w.out) ? w.out : undefined), what, timeoutMs),
    exited: w.exited,
    stop: () => w.stop(),
  };
}
