// Child processes for tests: started with a readiness wait on their output, always stopped by PID.
import { spawn, type ChildProcess } from "node:child_process";

export interface Started {
  proc: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/**
 * Spawn `cmd` and resolve when `ready` matches its combined output (or reject on exit/timeout).
 * The timeout only bounds a hang; readiness itself is event driven.
 */
export function startProcess(
  cmd: string,
  args: string[],
  opts: { ready?: RegExp; timeoutMs?: number; env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<Started> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let settled = false;
    const stop = (signal: NodeJS.Signals = "SIGTERM") =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res();
        const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        proc.once("exit", () => {
          clearTimeout(killer);
          res();
        });
        proc.kill(signal);
      });
    const started: Started = { proc, output: () => out, stop };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      proc.kill("SIGKILL");
      reject(new Error(`${cmd} not ready after ${opts.timeoutMs ?? 15000} ms; output:\n${out}`));
    }, opts.timeoutMs ?? 15000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.length > 200_000) out = out.slice(-100_000);
      if (!settled && (!opts.ready || opts.ready.test(out))) {
        settled = true;
        clearTimeout(timer);
        resolve(started);
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.on("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    proc.on("exit", (code, sig) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code ?? sig}) before ready; output:\n${out}`));
    });
    if (!opts.ready) {
      settled = true;
      clearTimeout(timer);
      resolve(started);
    }
  });
}
