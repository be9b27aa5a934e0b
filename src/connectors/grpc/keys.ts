// Connector keys: a grpc connector's `key` from tb_gateway.json, or for `"auto"` a 10-character
// hex key generated once per connector name and kept in persistent_keys.json in the config folder
// (spec grpc.md §4.1, main-config.md §5). The file is rewritten sorted and atomically, so a crash
// mid-write never loses the keys connector processes were given.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { replaceFile } from "../../common/fs/replace-file.ts";
import { errorText } from "../../observe/logger.ts";

export const KEYS_FILE = "persistent_keys.json";

/** A new key: 10 characters from [0-9a-f] (upstream draws from [0-9a-fA-F]; lower case only is a subset). */
export function newKey(): string {
  return randomBytes(5).toString("hex");
}

function readKeys(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${errorText(e)}); fix or remove it (auto keys are then generated anew and must be given to the connector processes again)`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${file} must hold an object {"<connector name>": "<key>"}`);
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "string")) as Record<string, string>;
}

/**
 * The persisted key of connector `name`, generated and written when it has none.
 * Returns the key and whether it was generated now. `persist` false (run --check): never written.
 */
export function autoKey(configDir: string, name: string, persist = true): { key: string; generated: boolean } {
  const file = join(configDir, KEYS_FILE);
  const keys = readKeys(file);
  const known = keys[name];
  if (known) return { key: known, generated: false };
  keys[name] = newKey();
  if (!persist) return { key: keys[name], generated: true }; // run --check writes nothing
  const sorted = Object.fromEntries(Object.keys(keys).sort().map((k) => [k, keys[k]]));
  replaceFile(file, JSON.stringify(sorted, null, 2) + "\n");
  return { key: keys[name]!, generated: true };
}
