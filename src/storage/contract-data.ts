// Test data and helpers shared by the storage tests and the kill -9 child process (which runs
// outside the test runner, so nothing here imports bun:test).

import { addLogSink, Logger, type LogRecord } from "../observe/logger.ts";
import { StorageSchema, type StorageConfig } from "./schema.ts";
import type { EventStorage } from "./types.ts";

let scopeCounter = 0;

/** A logger with a scope of its own, the records it produced, and a wait for a given record. */
export function capturingLogger(): {
  log: Logger;
  records: LogRecord[];
  stop: () => void;
  waitFor: (pred: (r: LogRecord) => boolean) => Promise<LogRecord>;
} {
  const scope = `storage-test-${++scopeCounter}`;
  const records: LogRecord[] = [];
  const waiters: Array<{ pred: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }> = [];
  const stop = addLogSink((r) => {
    if (r.scope !== scope) return;
    records.push(r);
    for (const w of waiters.splice(0)) {
      if (w.pred(r)) w.resolve(r);
      else waiters.push(w);
    }
  });
  const waitFor = (pred: (r: LogRecord) => boolean) => {
    const seen = records.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogRecord>((resolve) => waiters.push({ pred, resolve }));
  };
  return { log: new Logger(scope, "INFO"), records, stop, waitFor };
}

export function storageConfig(type: StorageConfig["type"], dir: string, extra: Partial<StorageConfig> = {}): StorageConfig {
  return StorageSchema.parse({ type, data_folder_path: dir, data_file_path: `${dir}/`, ...extra });
}

export function record(i: number): string {
  return JSON.stringify({ deviceName: `dev ${i % 7}`, deviceType: "default", telemetry: [{ ts: 1_700_000_000_000 + i, values: { i } }] });
}

export function records(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => record(from + k));
}

/** Everything still handed out, batch by batch (each batch acked when `ack` is true). */
export function drain(s: EventStorage, max = 1000, ack = true): string[] {
  const out: string[] = [];
  for (let b = s.next(max); b; b = s.next(max)) {
    out.push(...b.records);
    if (ack) s.ack(b);
  }
  return out;
}

