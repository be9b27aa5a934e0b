// Picks the storage kind from the main config's `storage` section. Relative folders resolve
// against the config folder (like upstream run from its config folder), are created if missing, and
// are claimed for this gateway while its storage is open (folder-claim.ts).

import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import type { EventBus } from "../observe/events.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import { claimFolder } from "./folder-claim.ts";
import { MemoryStorage } from "./memory.ts";
import { storageLocation, type StorageLocation } from "./location.ts";
import type { StorageConfig } from "./schema.ts";
import type { EventStorage } from "./types.ts";

export type { EventStorage } from "./types.ts";

export interface StorageExtras {
  /** Storage full / accepting again events. */
  events?: EventBus;
  /** Clock for the sqlite timestamps and TTL (tests). */
  now?: () => number;
}

const MB = 1024 * 1024;

// The file and sqlite storages are loaded only when configured (bun:sqlite and their modules
// otherwise stay in memory, unused, for the life of a gateway on memory storage).
const fileStorage = () => (require("./file.ts") as typeof import("./file.ts")).FileStorage;
const sqliteStorage = () => (require("./sqlite.ts") as typeof import("./sqlite.ts")).SqliteStorage;

export function createStorage(cfg: StorageConfig, configDir: string, log: Logger, extras: StorageExtras = {}): EventStorage {
  if (cfg.type === "memory") return new MemoryStorage({ maxRecords: cfg.max_records_count, log, events: extras.events });
  const where = storageLocation(cfg, configDir);
  if (!where) throw unknownType(cfg.type);
  if (where.note) log.info(where.note);
  const dir = prepareFolder(where);
  const release = claimFolder(dir, where.setting);
  let storage: EventStorage;
  try {
    storage = openOnDisk(cfg, dir, log, extras);
  } catch (e) {
    release();
    throw e;
  }
  const close = storage.close.bind(storage);
  storage.close = () => close().finally(release);
  return storage;
}

function openOnDisk(cfg: StorageConfig, dir: string, log: Logger, extras: StorageExtras): EventStorage {
  switch (cfg.type) {
    case "file":
      return new (fileStorage())({
        dir,
        maxFileCount: cfg.max_file_count,
        maxRecordsPerFile: cfg.max_records_per_file,
        maxRecordsBetweenFsync: cfg.max_records_between_fsync,
        log,
        events: extras.events,
      });
    case "sqlite":
      return new (sqliteStorage())({
        dir,
        sizeLimitBytes: cfg.size_limit * MB,
        maxDbAmount: cfg.max_db_amount,
        writingBatchSize: cfg.writing_batch_size,
        ttlMs: cfg.messages_ttl_in_days * 86_400_000,
        ttlCheckMs: cfg.messages_ttl_check_in_hours * 3_600_000,
        log,
        events: extras.events,
        now: extras.now,
      });
    default:
      throw unknownType(cfg.type);
  }
}

function unknownType(type: string): Error {
  return new Error(`storage.type "${type}" is unknown: use "memory", "file" or "sqlite"`);
}

/** Resolve, create and check a storage folder; errors name the setting and the fix. */
function prepareFolder({ folder: dir, setting }: StorageLocation): string {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new Error(`${setting}: ${dir} is not a folder; point ${setting} to a folder`);
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(
      `${setting}: cannot create folder ${dir} (${(e as NodeJS.ErrnoException).code ?? errorText(e)}); ` +
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
