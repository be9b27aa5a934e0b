// The CAN device side for tests: a socat pty pair (the gateway opens one end as its slcan adapter)
// and python-can's slcan interface on the other end (peer.py), driven through stdin. Every frame
// the gateway writes shows up as a RECV line. Both processes are stopped by their PIDs.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPtyPair } from "../../modbus/test/peer.ts";
import type { Started } from "../../../../test/support/process.ts";

const PEER_SCRIPT = join(import.meta.dir, "peer.py");

export interface Received {
  id: number;
  extended: boolean;
  data: string;
}

export interface CanPeer {
  /** The serial device the gateway opens (the other end of the pair from python-can). */
  gatewayPath: string;
  send(id: number, extended: boolean, hex: string): Promise<void>;
  burst(count: number, id: number, extended: boolean, hex: string, timeoutMs?: number): Promise<void>;
  /** Reply with this frame to every frame the gateway writes on `pollId`. */
  answer(pollId: number, id: number, extended: boolean, hex: string): Promise<void>;
  /** Frames the gateway wrote, in order. */
  received(): Received[];
  /** Resolves once `pick` over the received frames returns a value; rejects after timeoutMs. */
  until<T>(pick: (frames: Received[]) => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/** `dir`: where the pty links go (the same dir gives the gateway the same device path again). */
export async function startCanPeer(dir = mkdtempSync(join(tmpdir(), "tbgw-can-pty-"))): Promise<CanPeer> {
  const pty = await startPtyPair(dir);
  let proc: ChildProcessWithoutNullStreams | undefined;
  try {
    proc = spawn("/usr/bin/python3", ["-u", PEER_SCRIPT, pty.b], { stdio: ["pipe", "pipe", "pipe"] });
    return await watch(proc, pty.a, pty.proc);
  } catch (e) {
    proc?.kill("SIGKILL");
    await pty.proc.stop();
    throw e;
  }
}

function watch(proc: ChildProcessWithoutNullStreams, gatewayPath: string, socat: Started): Promise<CanPeer> {
  let out = "";
  let err = "";
  let sentLines = 0;
  const frames: Received[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const exited = new Promise<void>((r) => proc.once("exit", () => (notify(), r())));
  // Bun's child stdio are socket pairs: a peer killed with data unread resets them (ECONNRESET on
  // recv), an 'error' event that, without a listener, failed whichever test ran at that moment.
  // The exit is what matters here, and `until` reports it.
  for (const stream of [proc.stdin, proc.stdout, proc.stderr]) stream.on("error", (e: Error) => (err += `\n[peer stdio: ${e.message}]`));
  let pending = "";
  proc.stdout.on("data", (b: Buffer) => {
    pending += b.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      out += line + "\n";
      if (out.length > 100_000) out = out.slice(-50_000);
      const m = /^RECV (\d+) (std|ext) ([0-9a-f]*)$/.exec(line);
      if (m) frames.push({ id: Number(m[1]), extended: m[2] === "ext", data: m[3]! });
      if (line.startsWith("SENT ") || line.startsWith("ANSWERING ")) sentLines++;
    }
    notify();
  });
  proc.stderr.on("data", (b: Buffer) => {
    err += b.toString();
    notify();
  });
  const until = <T>(pick: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const v = pick();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          done();
          reject(new Error(`CAN peer exited while waiting for ${what}:\n${out.slice(-2000)}\n${err.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; peer output:\n${out.slice(-2000)}\n${err.slice(-2000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const command = async (line: string, timeoutMs = 10_000) => {
    const want = sentLines + 1;
    proc.stdin.write(line + "\n");
    await until(() => (sentLines >= want ? true : undefined), `the peer to do "${line.slice(0, 60)}"`, timeoutMs);
  };
  const kind = (extended: boolean) => (extended ? "ext" : "std");
  const peer: CanPeer = {
    gatewayPath,
    send: (id, extended, hex) => command(`send ${id} ${kind(extended)} ${hex}`),
    burst: (count, id, extended, hex, timeoutMs) => command(`burst ${count} ${id} ${kind(extended)} ${hex}`, timeoutMs),
    answer: (pollId, id, extended, hex) => command(`answer ${pollId} ${id} ${kind(extended)} ${hex}`),
    received: () => frames,
    until: (pick, what, timeoutMs) => until(() => pick(frames), what, timeoutMs),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.stdin.end();
        const killer = setTimeout(() => proc.kill("SIGKILL"), 3000);
        proc.kill("SIGTERM");
        await exited;
        clearTimeout(killer);
      }
      await socat.stop();
    },
  };
  return until(() => (out.includes("READY") ? peer : undefined), "python-can slcan peer READY", 15_000);
}
