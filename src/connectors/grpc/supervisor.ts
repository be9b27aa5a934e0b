// Keeps one child process running for a connector (a useGRPCForce Python connector): its output
// lines go into the gateway's log, it is started again with a growing wait when it ends, and on
// stop it gets SIGTERM, then SIGKILL after a grace period. The gateway's stop waits for it to be gone.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { errorText, type Logger } from "../../observe/logger.ts";
import { OutputLines } from "./output-lines.ts";

/** Waits before each restart (ms); the last repeats. */
export const RESTART_BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];
/** A process that ran this long was healthy: the next restart waits the shortest time again. */
export const STABLE_AFTER_MS = 30_000;
/** SIGTERM → SIGKILL grace at stop; below the gateway's 5 s connector stop timeout. */
export const TERM_GRACE_MS = 3000;

export interface SupervisorOptions {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  /** The process's output lines (at the level they carry) and the supervisor's own messages. */
  log: Logger;
  /** For messages, e.g. "Python connector process mqtt/mqtt_connector.py". */
  what: string;
  backoffMs?: number[];
  stableAfterMs?: number;
  termGraceMs?: number;
  /** Called when the process ended (not at stop), before a restart is scheduled. */
  onExit?(why: string): void;
}

export class ProcessSupervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private failures = 0;
  private lastEnd: string | undefined;
  private startedAt = 0;

  constructor(private readonly o: SupervisorOptions) {}

  /** PID of the running process, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    this.spawnNow();
  }

  private spawnNow(): void {
    this.restartTimer = undefined;
    if (this.stopping) return;
    const { log } = this.o;
    let child: ChildProcess;
    try {
      child = spawn(this.o.command, this.o.args, { cwd: this.o.cwd, env: this.o.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      this.ended(`could not be started: ${errorText(e)}`);
      return;
    }
    this.child = child;
    this.startedAt = Date.now();
    let done = false;
    let resolveExit!: () => void;
    this.exited = new Promise<void>((r) => (resolveExit = r));
    const finish = (why: string) => {
      if (done) return;
      done = true;
      if (this.child === child) this.child = undefined;
      resolveExit();
      this.ended(why);
    };
    child.once("error", (e) => finish(`could not be started: ${errorText(e)}`));
    child.once("exit", (code, signal) => finish(signal ? `was ended by signal ${signal}` : `exited with code ${code}`));
    for (const stream of ["stdout", "stderr"] as const) {
      const out = new OutputLines(stream, (level, text) => log[level](text));
      const lines = createInterface({ input: child[stream]! });
      lines.on("line", (raw) => out.push(raw));
      lines.on("close", () => out.end());
    }
    if (child.pid !== undefined) log.info(`${this.o.what} started (pid ${child.pid})`);
  }

  private ended(why: string): void {
    if (this.stopping) {
      this.o.log.info(`${this.o.what} ${why} (gateway stopping)`);
      return;
    }
    try {
      this.o.onExit?.(why);
    } catch (e) {
      this.o.log.error(`handling the end of ${this.o.what} failed: ${errorText(e)}`);
    }
    const backoff = this.o.backoffMs ?? RESTART_BACKOFF_MS;
    if (this.startedAt && Date.now() - this.startedAt >= (this.o.stableAfterMs ?? STABLE_AFTER_MS)) this.failures = 0;
    const waitMs = backoff[Math.min(this.failures, backoff.length - 1)]!;
    this.failures++;
    // once per change: a process that keeps failing the same way does not flood the log
    const msg = `${this.o.what} ${why}; starting it again in ${waitMs / 1000} s`;
    if (why !== this.lastEnd) this.o.log.warn(msg);
    else this.o.log.debug(msg);
    this.lastEnd = why;
    this.restartTimer = setTimeout(() => this.spawnNow(), waitMs);
  }

  /** End the process (SIGTERM, SIGKILL after the grace period) and start no other. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = this.exited;
    child.kill("SIGTERM");
    const grace = this.o.termGraceMs ?? TERM_GRACE_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace)))]);
    clearTimeout(timer);
    if (!timedOut) return;
    this.o.log.warn(`${this.o.what} (pid ${child.pid}) did not end within ${grace / 1000} s of SIGTERM: sending SIGKILL`);
    child.kill("SIGKILL");
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 1000))]);
  }
}
