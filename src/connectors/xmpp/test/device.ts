// The slixmpp device (device.py) as a child process: commands on stdin, what it received read
// from its stdout line by line as it arrives; stopped by its PID.

import { spawn } from "node:child_process";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "device.py");

export interface XmppDevice {
  /** Send one chat message body to the gateway. */
  send(body: string): void;
  /** Send `n` bodies (`{i}` replaced by the index) as fast as slixmpp queues them. */
  burst(n: number, body: string): void;
  /** Bodies received so far, in order. */
  received(): Array<{ from: string; body: string }>;
  /** Resolves with the first received message after index `from` that satisfies `pred`. */
  waitFor(pred: (m: { from: string; body: string }) => boolean, what: string, timeoutMs?: number, from?: number): Promise<{ from: string; body: string }>;
  /** Resolves on the next READY line after `count` of them were seen (a (re)connected session). */
  ready(count?: number, timeoutMs?: number): Promise<void>;
  output(): string;
  pid: number;
  stop(): Promise<void>;
}

export function startDevice(jid: string, password: string, port: number, gatewayJid: string): XmppDevice {
  const proc = spawn("/usr/bin/python3", ["-u", SCRIPT, jid, password, "127.0.0.1", String(port), gatewayJid], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const messages: Array<{ from: string; body: string }> = [];
  let readies = 0;
  const waiters = new Set<() => boolean>();
  const notify = () => {
    for (const w of [...waiters]) if (w()) waiters.delete(w);
  };
  let partial = "";
  proc.stdout.on("data", (b: Buffer) => {
    out += b.toString();
    partial += b.toString();
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith("RECV ")) messages.push(JSON.parse(l.slice(5)));
      else if (l.startsWith("READY ")) readies++;
    }
    notify();
  });
  proc.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.once("exit", notify);
  const until = (check: () => boolean, what: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`device ${jid}: timed out after ${timeoutMs} ms waiting for ${what}; stdout:\n${out.slice(-2000)}\nstderr:\n${err.slice(-2000)}`));
      }, timeoutMs);
      const w = () => {
        if (check()) {
          clearTimeout(timer);
          resolve();
          return true;
        }
        if (proc.exitCode !== null || proc.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`device ${jid} exited while waiting for ${what}; stderr:\n${err.slice(-2000)}`));
          return true;
        }
        return false;
      };
      if (!w()) waiters.add(w);
    });
  return {
    send: (body) => proc.stdin.write(`send ${body.replace(/\n/g, " ")}\n`),
    burst: (n, body) => proc.stdin.write(`burst ${n} ${body.replace(/\n/g, " ")}\n`),
    received: () => messages,
    async waitFor(pred, what, timeoutMs = 15_000, from = 0) {
      let hit: { from: string; body: string } | undefined;
      await until(() => (hit = messages.slice(from).find(pred)) !== undefined, what, timeoutMs);
      return hit!;
    },
    ready: (count = 0, timeoutMs = 20_000) => until(() => readies > count, "the device's session", timeoutMs),
    output: () => out + err,
    pid: proc.pid!,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.stdin.end();
      const killer = setTimeout(() => proc.kill("SIGKILL"), 3000);
      proc.kill("SIGTERM");
      await exited;
      clearTimeout(killer);
    },
  };
}
