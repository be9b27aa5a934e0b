// Keeps one child process running for a connector (a useGRPCForce Python connector): its output
// lines go into the gateway's log, it is started again with a growing wait when it ends, and on
// stop it gets SIGTERM, then SIGKILL after a grace period. The gateway's stop waits for it to be gone.
//
// A process left running by a gateway that was killed outright (SIGKILL, power cut of the
// container) would hold the connector's key and fight the new one for it; its pid is kept in
// `pidFile`, and at start a process with that pid still running this very command line is ended.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { replaceFile } from "../../common/fs/replace-file.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { LineLevel } from "./launch.ts";
import { OutputLines } from "./output-lines.ts";

/** Waits before each restart (ms); the last repeats. */
export const RESTART_BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];
/** A process that ran this long was healthy: the next restart waits the shortest time again. */
export const STABLE_AFTER_MS = 30_000;
/** SIGTERM → SIGKILL grace at stop; below the gateway's 5 s connector stop timeout. */
export const TERM_GRACE_MS = 3000;
/** Warning/error lines remembered across the runs of a crash loop (so each is logged once). */
const REMEMBERED_LINES = 200;

export interface SupervisorOptions {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  /** The process's output lines (at the level they carry) and the supervisor's own messages. */
  log: Logger;
  /** For messages, e.g. "Python connector process mqtt/mqtt_connector.py". */
  what: string;
  /** Where the running process's pid is kept (see the header); none: not kept. */
  pidFile?: string;
  /** Whether a running process's command line (argv) is one this supervisor started earlier; default: the same command line. */
  isLeftover?(cmdline: string[]): boolean;
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
  /** Warning/error lines printed in this failure streak → the run that printed them first. */
  private seen = new Map<string, number>();
  private runs = 0;

  constructor(private readonly o: SupervisorOptions) {}

  /** PID of the running process, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    this.endLeftover();
    this.spawnNow();
  }

  private spawnNow(): void {
    this.restartTimer = undefined;
    if (this.stopping) return;
    const { log } = this.o;
    let child: ChildProcess;
    try {
      // its own process group: a Ctrl-C at the terminal reaches only the gateway, which then stops
      // it in order (else Python dies of KeyboardInterrupt first and would be restarted mid-stop)
      child = spawn(this.o.command, this.o.args, { cwd: this.o.cwd, env: this.o.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    } catch (e) {
      this.ended(`could not be started: ${errorText(e)}`);
      return;
    }
    this.child = child;
    this.startedAt = Date.now();
    const run = ++this.runs;
    let done = false;
    let resolveExit!: () => void;
    this.exited = new Promise<void>((r) => (resolveExit = r));
    const finish = (why: string) => {
      if (done) return;
      done = true;
      if (this.child === child) this.child = undefined;
      this.forgetPid(child.pid);
      resolveExit();
      this.ended(why);
    };
    child.once("error", (e) => finish(`could not be started: ${errorText(e)}`));
    child.once("exit", (code, signal) => finish(signal ? `was ended by signal ${signal}` : `exited with code ${code}`));
    for (const stream of ["stdout", "stderr"] as const) {
      const out = new OutputLines(stream, (level, text) => this.line(run, level, text));
      const lines = createInterface({ input: child[stream]! });
      lines.on("line", (raw) => out.push(raw));
      lines.on("close", () => out.end());
    }
    if (child.pid !== undefined) {
      this.keepPid(child.pid);
      log.info(`${this.o.what} started (pid ${child.pid})`);
    }
  }

  /** A crash loop prints the same error each run: logged at its level the first time, at debug after. */
  private line(run: number, level: LineLevel, text: string): void {
    if (level === "warn" || level === "error") {
      const first = this.seen.get(text);
      if (first !== undefined && first !== run) level = "debug";
      else if (first === undefined && this.seen.size < REMEMBERED_LINES) this.seen.set(text, run);
    }
    this.o.log[level](text);
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
    const stable = this.startedAt !== 0 && Date.now() - this.startedAt >= (this.o.stableAfterMs ?? STABLE_AFTER_MS);
    if (stable) {
      this.failures = 0;
      this.seen.clear();
    }
    const waitMs = backoff[Math.min(this.failures, backoff.length - 1)]!;
    this.failures++;
    // once per change: a process that keeps failing the same way does not flood the log
    const msg = `${this.o.what} ${why}; starting it again in ${waitMs / 1000} s`;
    if (why !== this.lastEnd || stable) this.o.log.warn(msg);
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

  private keepPid(pid: number): void {
    if (!this.o.pidFile) return;
    try {
      replaceFile(this.o.pidFile, `${pid}\n`);
    } catch (e) {
      this.o.log.warn(`cannot write ${this.o.pidFile} (${errorText(e)}): if the gateway is killed outright, end process ${pid} by hand`);
    }
  }

  private forgetPid(pid: number | undefined): void {
    if (!this.o.pidFile || pid === undefined) return;
    try {
      if (existsSync(this.o.pidFile) && readFileSync(this.o.pidFile, "utf8").trim() === String(pid)) rmSync(this.o.pidFile);
    } catch {
      // a stale pid file is harmless: the check at start compares the command line too
    }
  }

  /** A process left by a gateway that was killed outright: ended when it still runs our exact command line (Linux /proc). */
  private endLeftover(): void {
    const file = this.o.pidFile;
    if (!file || !existsSync(file)) return;
    const pid = Number(readFileSync(file, "utf8").trim());
    rmSync(file, { force: true });
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
    let cmdline: string[];
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((s) => s !== "");
    } catch {
      return; // gone (or no /proc): nothing to end
    }
    const ours = [this.o.command, ...this.o.args];
    const isOurs = this.o.isLeftover ?? ((c: string[]) => c.length === ours.length && c.every((a, i) => a === ours[i]));
    if (!isOurs(cmdline)) return;
    try {
      process.kill(pid, "SIGKILL");
      this.o.log.warn(`ended ${this.o.what} pid ${pid} left running by an earlier gateway run (it would hold the connector's key)`);
    } catch (e) {
      this.o.log.warn(`${this.o.what} pid ${pid} left running by an earlier gateway run could not be ended (${errorText(e)}); end it by hand`);
    }
  }
}
