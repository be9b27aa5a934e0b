// Picks the storage kind from the main config's `storage` section. Relative folders resolve
// against the config folder (like upstream run from its config folder), and are created if missing.

import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import type { EventBus } from "../observe/events.ts";
import type { Logger } from "../observe/logger.ts";
import { FileStorage } from "./file.ts";
import { MemoryStorage } from "./memory.ts";
import type { StorageConfig } from "./schema.ts";
import { SqliteStorage } from "./sqlite.ts";
import type { EventStorage } from "./types.ts";

export type { EventStorage } from "./types.ts";

export interface StorageExtras {
  /** Storage full / accepting again events. */
  events?: EventBus;
  /** Clock for the sqlite timestamps and TTL (tests). */
  now?: () => number;
}

const MB = 1024 * 1024;

export function createStorage(cfg: StorageConfig, configDir: string, log: Logger, extras: StorageExtras = {}): EventStorage {
  switch (cfg.type) {
    case "memory":
      return new MemoryStorage({ maxRecords: cfg.max_records_count, log, events: extras.events });
    case "file":
      return new FileStorage({
        dir: prepareFolder(cfg.data_folder_path, configDir, "storage.data_folder_path"),
        maxFileCount: cfg.max_file_count,
        maxRecordsPerFile: cfg.max_records_per_file,
        maxRecordsBetweenFsync: cfg.max_records_between_fsync,
        log,
        events: extras.events,
      });
    case "sqlite":
      return new SqliteStorage({
        dir: prepareFolder(sqliteFolder(cfg.data_file_path, log), configDir, "storage.data_file_path"),
        sizeLimitBytes: cfg.size_limit * MB,
        maxDbAmount: cfg.max_db_amount,
        writingBatchSize: cfg.writing_batch_size,
        ttlMs: cfg.messages_ttl_in_days * 86_400_000,
        ttlCheckMs: cfg.messages_ttl_check_in_hours * 3_600_000,
        log,
        events: extras.events,
        now: extras.now,
      });
    default: {
      const kind: never = cfg.type;
      throw new Error(`storage.type "${String(kind)}" is unknown: use "memory", "file" or "sqlite"`);
    }
  }
}

/**
 * `data_file_path` is a folder. Upstream ignores a file name part ("./data/data.db") with a
 * warning; so do we. A path without a trailing slash that is not an existing file is a folder.
 */
function sqliteFolder(path: string, log: Logger): string {
  if (path.endsWith("/") || path.endsWith("\\")) return path;
  if (existsSync(path) && statSync(path).isDirectory()) return path;
  if (extname(path) !== "") {
    log.warn(`storage.data_file_path "${path}" names a file; tb-gw uses its folder "${dirname(path)}/" (files data.db, data_<ms>.db)`);
    return dirname(path);
  }
  return path;
}

/** Resolve, create and check a storage folder; errors name the setting and the fix. */
function prepareFolder(path: string, configDir: string, setting: string): string {
  const dir = isAbsolute(path) ? path : resolve(configDir, path);
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new Error(`${setting}: ${dir} is not a folder; point ${setting} to a folder`);
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(
      `${setting}: cannot create folder ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); ` +
        `create it or point ${setting} to a writable folder`,
    );
  }
  if (!statSync(dir).isDirectory()) {
    throw new Error(`${setting}: ${dir} is not a folder; point ${setting} to a folder`);
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new Error(`${setting}: folder ${dir} is not writable by this user; fix its permissions or choose another folder`);
  }
  return dir;
}
