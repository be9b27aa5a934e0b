// Remote shell (spec platform-api.md §5.2, "Remote shell"): the platform's terminal widget runs
// commands on the gateway's host through four gateway RPC methods called without the `gateway_`
// prefix. Off unless `thingsboard.remoteShell: true`: it gives whoever controls the gateway device
// on the platform a shell with the gateway's user rights, so every command is logged.
//
// One command runs at a time. Its output is collected as it comes and handed out by
// getCommandStatus in the pieces gathered since the previous call, so a long command streams.

import { type, release } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { statSync } from "node:fs";
import type { Logger } from "../observe/logger.ts";
import type { GatewayMethods } from "./downlink.ts";

/** Output kept for one command before the oldest is dropped (a runaway `yes` must not grow memory). */
const MAX_BUFFERED = 1 << 20;

interface Running {
  proc: ReturnType<typeof Bun.spawn>;
  stdout: string;
  stderr: string;
  /** The process ended and both pipes were read to the end: nothing more can come. */
  exited: boolean;
  /** exited, and everything it wrote has been handed out by getCommandStatus. */
  done: boolean;
}

export class RemoteShell {
  private cwd = process.cwd();
  private running: Running | undefined;

  constructor(private readonly log: Logger) {}

  /** The four methods, replies sent with QoS 0 as upstream does. */
  methods(): GatewayMethods {
    return {
      getTermInfo: () => ({ platform: type(), release: release(), cwd: this.cwd, qos: 0 }),
      sendCommand: (params) => ({ ...this.send(params), qos: 0 }),
      getCommandStatus: () => ({ ...this.status(), qos: 0 }),
      terminateCommand: () => ({ ok: this.terminate(), qos: 0 }),
    };
  }

  private send(params: unknown): { ok: boolean; error?: string } {
    const p = (params ?? {}) as { command?: unknown; cwd?: unknown };
    const command = typeof p.command === "string" ? p.command.trim() : "";
    if (typeof p.cwd === "string" && p.cwd) this.cwd = this.resolveDir(p.cwd) ?? this.cwd;
    if (!command) return { ok: false, error: "no command" };
    if (command === "quit" || command === "exit") {
      this.terminate();
      this.running = undefined;
      this.cwd = process.cwd();
      return { ok: true };
    }
    if (this.running && !this.running.done) return { ok: false, error: "a command is still running; terminate it first" };
    const cd = /^cd(?:\s+(.*))?$/.exec(command);
    if (cd) {
      const dir = this.resolveDir(cd[1]?.trim() || process.env.HOME || "/");
      if (!dir) return { ok: false, error: `cd: ${cd[1]}: no such directory` };
      this.cwd = dir;
      this.running = undefined;
      return { ok: true };
    }
    this.log.warn(`remote shell: running \`${command}\` in ${this.cwd} (requested by the platform)`);
    const proc = Bun.spawn(["/bin/sh", "-c", command], { cwd: this.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const r: Running = { proc, stdout: "", stderr: "", exited: false, done: false };
    const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        r[key] += decoder.decode(chunk, { stream: true });
        if (r[key].length > MAX_BUFFERED) r[key] = r[key].slice(-MAX_BUFFERED);
      }
      r[key] += decoder.decode();
    };
    void Promise.all([proc.exited, pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr")]).then(() => (r.exited = true));
    this.running = r;
    return { ok: true };
  }

  private status(): { data: Array<{ stdout: string; stderr: string }>; cwd: string; done: boolean } {
    const r = this.running;
    if (!r) return { data: [], cwd: this.cwd, done: true };
    const data = r.stdout || r.stderr ? [{ stdout: r.stdout, stderr: r.stderr }] : [];
    r.stdout = "";
    r.stderr = "";
    // done once the process ended and everything it wrote has been handed out
    if (r.exited) r.done = true;
    return { data, cwd: this.cwd, done: r.done };
  }

  private terminate(): boolean {
    const r = this.running;
    if (!r || r.exited) return false;
    this.log.warn(`remote shell: terminating the running command (requested by the platform)`);
    r.proc.kill("SIGTERM");
    return true;
  }

  private resolveDir(dir: string): string | undefined {
    const full = isAbsolute(dir) ? dir : resolve(this.cwd, dir);
    try {
      return statSync(full).isDirectory() ? full : undefined;
    } catch {
      return undefined;
    }
  }

  /** Gateway stopping: a command still running is ended with it. */
  stop(): void {
    this.terminate();
  }
}
