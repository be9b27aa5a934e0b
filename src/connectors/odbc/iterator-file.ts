// The persisted iterator, in upstream's file and format so that a user moving from the Python
// gateway does not get every row again: <config folder>/odbc/<sha1>.json, where the hash is over
// the driver, server and database names the driver reports (SQLGetInfo), the connector's name and
// the iterator column, and the file is {"name", "total", "value"} with sorted keys, indented by 2.
// Written after every poll that returned rows, atomically (replace-file.ts).

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { replaceFile } from "../../common/fs/replace-file.ts";

export interface IteratorState {
  /** the iterator column */
  name: string;
  value: unknown;
  /** rows read so far (upstream counts them; kept for the same file) */
  total: number;
}

export interface IteratorIdentity {
  driver: string;
  server: string;
  database: string;
  connector: string;
  column: string;
}

export function iteratorFilePath(configDir: string, id: IteratorIdentity): string {
  const hash = createHash("sha1").update(`${id.driver}${id.server}${id.database}${id.connector}${id.column}`, "utf8").digest("hex");
  return join(configDir, "odbc", `${hash}.json`);
}

/** The saved state, undefined when there is no file; throws (naming the file) when it is unreadable. */
export function readIterator(path: string): IteratorState | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`the saved ODBC iterator ${path} is not JSON (${e instanceof Error ? e.message : String(e)}): fix or delete it`);
  }
  const o = parsed as Partial<IteratorState> | null;
  if (!o || typeof o !== "object" || !("value" in o)) throw new Error(`the saved ODBC iterator ${path} has no "value": fix or delete it`);
  return { name: String(o.name ?? ""), value: o.value, total: typeof o.total === "number" ? o.total : 0 };
}

export function writeIterator(path: string, state: IteratorState): void {
  mkdirSync(join(path, ".."), { recursive: true });
  // sorted keys, as upstream's json.dumps(sort_keys=True)
  replaceFile(path, JSON.stringify({ name: state.name, total: state.total, value: state.value }, null, 2));
}
