// Child processes for tests: started with a readiness wait on their output, always stopped by PID.
// stop() fails when a tb-gw log line in the output has an empty error text (see emptyErrorLines),
// so every test that runs a gateway checks that errors are reported in words.
import { spawn, type ChildProcess } from "node:child_process";

/** A line in tb-gw's log format: `2026-01-01T00:00:00.000Z LEVEL   [scope] message`. */
const LOG_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z (TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+\[/;
/** What an error looks like when its text was lost: `failed ()`, `failed: ` at the end, `undefined`. */
const EMPTY_ERROR = /\(\s*\)|:\s*$|\bundefined\b/;

/** tb-gw log lines in `output` whose error text is empty. */
export function emptyErrorLines(output: string): string[] {
  return output.split("\n").filter((l) => LOG_LINE.test(l) && EMPTY_ERROR.test(l.replace(LOG_LINE, "").replace(/^[^\]]*\]/, "")));
}

export interface Started {
  proc: ChildProcess;
  output: () => string;
  /** Stops the process; rejects when its log has a line with an empty error text. */
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
    const exit = (signal: NodeJS.Signals) =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res();
        const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        proc.once("exit", () => {
          clearTimeout(killer);
          res();
        });
        proc.kill(signal);
      });
    let checked = false;
    const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
      await exit(signal);
      if (checked) return;
      checked = true;
      const empty = emptyErrorLines(out);
      if (empty.length) throw new Error(`${cmd} logged ${empty.length} line(s) with an empty error text:\n${empty.slice(0, 10).join("\n")}`);
    };
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
    // Bun's child stdio are socket pairs: a child killed with output unread may reset them
    // (ECONNRESET on recv), an 'error' event that without a listener fails whichever test runs.
    // The exit is what matters; note the error in the output.
    for (const stream of [proc.stdout!, proc.stderr!]) stream.on("error", (e: Error) => (out += `\n[${cmd} stdio: ${e.message}]\n`));
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
