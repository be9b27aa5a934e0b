// Where a storage keeps its files, decided in one place for `run` and `validate` (they disagreed:
// `run` took the folder of "./data/data.db" while `validate` wanted to create a folder named
// data.db, so the second start of a gateway was refused once the database file existed).
//
// Upstream's meanings: file storage's `data_folder_path` is a folder. sqlite's `data_file_path`
// names the database file ("./data/data.db", upstream's default) or, ending in "/", its folder;
// the database is data.db in that folder and rotated files data_<ms>.db sit beside it.
// Relative paths start at the config folder.

import { existsSync, statSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, resolve } from "node:path";

export interface StorageLocation {
  /** Absolute folder of the storage's files. */
  folder: string;
  /** The setting that chose it, for messages. */
  setting: "storage.data_folder_path" | "storage.data_file_path";
  /** Set when part of the configured path is not used, to be said once at start. */
  note?: string;
}

export const SQLITE_DB_NAME = "data.db";

export function storageLocation(cfg: { type: string; data_folder_path?: string; data_file_path?: string }, configDir: string): StorageLocation | undefined {
  if (cfg.type === "file") return { folder: absolute(cfg.data_folder_path ?? "./data/", configDir), setting: "storage.data_folder_path" };
  if (cfg.type !== "sqlite") return undefined;
  const given = cfg.data_file_path ?? "./data/";
  const full = absolute(given, configDir);
  const setting = "storage.data_file_path";
  if (/[/\\]$/.test(given) || isFolder(full)) return { folder: full, setting };
  if (!existsSync(full) && extname(full) === "") return { folder: full, setting };
  // a file name: an existing database file, or a name to be created
  const folder = dirname(full);
  if (basename(full) === SQLITE_DB_NAME) return { folder, setting };
  return {
    folder,
    setting,
    note: `${setting} "${given}" names the file ${basename(full)}; the database is ${SQLITE_DB_NAME} in ${folder}/ (rotated files data_<ms>.db beside it), as upstream does`,
  };
}

function absolute(p: string, configDir: string): string {
  return isAbsolute(p) ? p : resolve(configDir, p);
}

function isFolder(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
