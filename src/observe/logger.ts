// A small leveled logger. Lines go to stderr as `2026-01-01T00:00:00.000Z LEVEL [scope] message`.
// pino would pull worker threads into the single binary for little gain here.

import { writeSync } from "node:fs";

export type LogLevel = "TRACE" | "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL" | "NONE";

const rank: Record<LogLevel, number> = {
  TRACE: 5,
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
  NONE: 100,
};

export interface LogRecord {
  ts: number;
  level: LogLevel;
  scope: string;
  message: string;
}

export type LogSink = (r: LogRecord) => void;

const sinks = new Set<LogSink>();
let globalLevel: LogLevel = (process.env.TB_GW_LOG_LEVEL?.toUpperCase() as LogLevel) || "INFO";

// Lines are written to fd 2 directly: process.stderr is a Node stream whose machinery stays
// resident once created (~2 MB of an idle gateway) for what one write(2) delivers. A service's
// stderr (journald, a file, a terminal) blocks; should it be a non-blocking pipe that is full
// (EAGAIN), the rest of the line and every later one go through process.stderr, which buffers.
let direct = true;

const stderrSink: LogSink = (r) => {
  const line = `${new Date(r.ts).toISOString()} ${r.level.padEnd(7)} [${r.scope}] ${r.message}\n`;
  if (!direct) {
    process.stderr.write(line);
    return;
  }
  const bytes = Buffer.from(line);
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(2, bytes, written);
  } catch {
    direct = false;
    process.stderr.write(bytes.subarray(written));
  }
};
sinks.add(stderrSink);

export function setLogLevel(level: string): void {
  const up = level.toUpperCase() as LogLevel;
  if (up in rank) globalLevel = up;
}

/** Extra sinks (remote logging, status socket) see every record at or above the global level. */
export function addLogSink(sink: LogSink): () => void {
  sinks.add(sink);
  return () => sinks.delete(sink);
}

/** Tests and `--quiet` silence the stderr sink. */
export function setStderrLogging(on: boolean): void {
  if (on) sinks.add(stderrSink);
  else sinks.delete(stderrSink);
}

export class Logger {
  constructor(
    readonly scope: string,
    private level?: LogLevel,
  ) {}

  child(scope: string): Logger {
    return new Logger(`${this.scope}:${scope}`, this.level);
  }

  setLevel(level: string | undefined): void {
    const up = level?.toUpperCase() as LogLevel | undefined;
    this.level = up && up in rank ? up : undefined;
  }

  enabled(level: LogLevel): boolean {
    return rank[level] >= rank[this.level ?? globalLevel];
  }

  private emit(level: LogLevel, message: string): void {
    if (!this.enabled(level)) return;
    const r: LogRecord = { ts: Date.now(), level, scope: this.scope, message };
    for (const s of sinks) s(r);
  }

  trace(m: string): void {
    this.emit("TRACE", m);
  }
  debug(m: string): void {
    this.emit("DEBUG", m);
  }
  info(m: string): void {
    this.emit("INFO", m);
  }
  warn(m: string): void {
    this.emit("WARNING", m);
  }
  error(m: string): void {
    this.emit("ERROR", m);
  }
}

export function logger(scope: string): Logger {
  return new Logger(scope);
}

/**
 * Text of a caught value for a log line or a message, never empty: a library that throws an Error
 * with no message (a failed assertion, say) is named with where it was thrown, so a user can
 * report it; a thrown non-Error is shown as what it is.
 */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const message = e.message.trim();
    if (message) return message;
    const frame = e.stack?.split("\n").find((l) => /^\s*at /.test(l))?.trim();
    return `${e.name || "Error"} without a message${frame ? ` (${frame})` : ""}`;
  }
  if (e === undefined || e === null) return "an empty throw (no error value)";
  if (typeof e === "string") return e.trim() || "an empty error text";
  if (typeof e === "object") {
    try {
      const json = JSON.stringify(e);
      if (json && json !== "{}") return json.length > 300 ? `${json.slice(0, 300)}…` : json;
    } catch {
      // cyclic: fall through to the constructor's name
    }
    return `a thrown ${(e as object).constructor?.name ?? "object"} with no message`;
  }
  return String(e);
}
