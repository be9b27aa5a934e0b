// Remote logging (spec platform-api.md §7, `RemoteLoggingLevel`): log records at or above the level
// set from the platform go up as gateway telemetry `{"ts":..,"values":{"<KEY>":"<line>"}}`.
//
// Which key a record gets, from its logger scope:
//   gateway:platform…           → CONNECTION_LOGS (+ LOGS)   (upstream logger `tb_connection`)
//   gateway:storage…            → STORAGE_LOGS    (+ LOGS)   (upstream `storage`)
//   any other gateway… / cli…   → SERVICE_LOGS    (+ LOGS)   (upstream `service`)
//   <connector name>[:…]        → <connector name>_LOGS, only when that connector's
//                                 `enableRemoteLogging` is true (upstream connector loggers)
// Custom converters log through their connector's logger, so there is no EXTENSION_LOGS source.
// Records below the gateway's local level (TB_GW_LOG_LEVEL / logs.json) are never produced, so a
// remote DEBUG level sends DEBUG records only when the local level lets them through.
//
// Delivery: a bounded queue (1000; when full the oldest record is dropped and the count is reported
// in the next batch), up to 20 records per publish, sent only while the platform session is ready.
// Never recursive: records from this module's own logger, and any record logged while a batch is
// being handed to the client, are not queued.

import { addLogSink, errorText, type Logger, type LogLevel, type LogRecord } from "../observe/logger.ts";
import { T } from "../platform/topics.ts";

export const REMOTE_LOG_LEVELS = ["NONE", "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "TRACE"] as const;
const RANK: Record<string, number> = { TRACE: 5, DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
export const REMOTE_LOG_QUEUE = 1000;
export const REMOTE_LOG_BATCH = 20;
const FLUSH_DELAY_MS = 200;
const RETRY_DELAY_MS = 1000;
/** Scope of this module's own logger: never forwarded. */
export const REMOTE_LOGGING_SCOPE = "gateway:remote-logging";

export interface RemoteLoggingHost {
  publish(topic: string, payload: string): Promise<void>;
  ready(): boolean;
  /** enableRemoteLogging of a loaded connector by name; undefined when no connector has that name. */
  connectorRemoteLogging(name: string): boolean | undefined;
}

interface Entry {
  ts: number;
  values: Record<string, string>;
}

export class RemoteLogging {
  private level: (typeof REMOTE_LOG_LEVELS)[number] = "NONE";
  private queue: Entry[] = [];
  private dropped = 0;
  private lastTs = 0;
  private sending = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private unsink: (() => void) | undefined;

  constructor(
    private readonly host: RemoteLoggingHost,
    private readonly log: Logger,
  ) {}

  get currentLevel(): string {
    return this.level;
  }

  /** Set the level; false when it is not one of REMOTE_LOG_LEVELS. */
  setLevel(value: unknown): boolean {
    const up = String(value ?? "").toUpperCase();
    if (!(REMOTE_LOG_LEVELS as readonly string[]).includes(up)) return false;
    this.level = up as (typeof REMOTE_LOG_LEVELS)[number];
    if (this.level === "NONE") {
      this.unsink?.();
      this.unsink = undefined;
      this.queue = [];
    } else if (!this.unsink) {
      this.unsink = addLogSink((r) => this.onRecord(r));
    }
    return true;
  }

  /** Telemetry key for a record's scope; undefined = not forwarded. */
  keyFor(scope: string): { key: string; alsoLogs: boolean } | undefined {
    if (scope === REMOTE_LOGGING_SCOPE || scope.startsWith(`${REMOTE_LOGGING_SCOPE}:`)) return undefined;
    if (scope.startsWith("gateway:platform")) return { key: "CONNECTION_LOGS", alsoLogs: true };
    if (scope.startsWith("gateway:storage")) return { key: "STORAGE_LOGS", alsoLogs: true };
    // connector loggers are named after the connector (ConnectorManager); children add ":…"
    const head = scope.split(":")[0]!;
    const enabled = this.host.connectorRemoteLogging(head);
    if (enabled !== undefined) return enabled ? { key: `${head}_LOGS`, alsoLogs: false } : undefined;
    return { key: "SERVICE_LOGS", alsoLogs: true };
  }

  private onRecord(r: LogRecord): void {
    if (this.sending || this.level === "NONE") return;
    if ((RANK[r.level as LogLevel] ?? 0) < RANK[this.level]!) return;
    const k = this.keyFor(r.scope);
    if (!k) return;
    const line = `${new Date(r.ts).toISOString()} - |${r.level}|<${r.scope}> - ${r.message}`;
    const values: Record<string, string> = { [k.key]: line };
    if (k.alsoLogs) values.LOGS = line;
    // one ts per entry: two records in the same millisecond would overwrite each other on the platform
    const ts = r.ts > this.lastTs ? r.ts : this.lastTs + 1;
    this.lastTs = ts;
    this.queue.push({ ts, values });
    if (this.queue.length > REMOTE_LOG_QUEUE) {
      this.queue.shift();
      this.dropped++;
    }
    this.schedule(FLUSH_DELAY_MS);
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
    this.timer.unref?.();
  }

  /** Send everything queued, 20 per publish, while the session is ready. */
  async flush(): Promise<void> {
    while (this.queue.length && !this.sending) {
      if (!this.host.ready()) return this.schedule(RETRY_DELAY_MS);
      // the dropped-count line takes one of the 20 places
      const batch = this.queue.splice(0, this.dropped ? REMOTE_LOG_BATCH - 1 : REMOTE_LOG_BATCH);
      if (this.dropped) {
        const ts = ++this.lastTs;
        const line = `${new Date().toISOString()} - |WARNING|<${REMOTE_LOGGING_SCOPE}> - remote logging queue full (${REMOTE_LOG_QUEUE}): ${this.dropped} oldest records dropped`;
        batch.push({ ts, values: { SERVICE_LOGS: line, LOGS: line } });
        this.dropped = 0;
      }
      this.sending = true;
      let p: Promise<void>;
      try {
        p = this.host.publish(T.meTelemetry, JSON.stringify(batch));
      } finally {
        this.sending = false; // records logged synchronously inside publish() were skipped
      }
      try {
        await p;
      } catch (e) {
        // put the batch back (still bounded) and retry later; this line is never forwarded
        this.queue.unshift(...batch);
        if (this.queue.length > REMOTE_LOG_QUEUE) this.dropped += this.queue.splice(REMOTE_LOG_QUEUE).length;
        this.log.debug(`sending ${batch.length} log records failed (${errorText(e)}); retrying`);
        return this.schedule(RETRY_DELAY_MS);
      }
    }
  }

  stop(): void {
    this.unsink?.();
    this.unsink = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
