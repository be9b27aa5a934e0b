// One config, N instances (README "Scaling out"). An instance id comes from `--instance N` or
// TB_GW_INSTANCE; without one nothing here changes anything. With one:
// - `${instance}` in any string of the main config is replaced by the id (connectors' inline
//   `configurationJson` excepted: converter templates there use `${...}` for message fields);
// - what two instances must not share gets the id even without a placeholder: the storage folder
//   (X becomes X/instance-N/), an explicit status socket (s.sock becomes s@N.sock) and, in the
//   connectors, their broker client ids (the connector appends -N, see ConnectorContext.instance).
// The default status socket, the device list and connector state are placed per instance by
// their owners (status/paths.ts, core/gateway.ts).

import { join } from "node:path";
import { storageLocation } from "../storage/location.ts";
import type { Path } from "./source.ts";

export const INSTANCE_PLACEHOLDER = "${instance}";
const VALID = /^[A-Za-z0-9_-]{1,32}$/;

export class InstanceError extends Error {}

/** The instance id from the flag, else TB_GW_INSTANCE; undefined when neither is set (or empty). */
export function resolveInstance(flag: string | undefined, env: Record<string, string | undefined> = process.env): string | undefined {
  const from = flag !== undefined && flag !== "" ? "--instance" : "TB_GW_INSTANCE";
  const id = flag !== undefined && flag !== "" ? flag : env.TB_GW_INSTANCE || undefined;
  if (id !== undefined && !VALID.test(id)) throw new InstanceError(`${from} "${id}" is not a valid instance id: use 1 to 32 letters, digits, "-" or "_" (e.g. 1, 2, 3)`);
  return id;
}

/** `value` for this instance: the placeholder replaced, else `-N` appended; unchanged without an instance. */
export function withInstance(value: string, instance: string | undefined): string {
  if (instance === undefined) return value;
  return value.includes(INSTANCE_PLACEHOLDER) ? value.replaceAll(INSTANCE_PLACEHOLDER, instance) : `${value}-${instance}`;
}

/** A socket path for this instance: the placeholder replaced, else `@N` before the extension. */
export function socketForInstance(path: string, instance: string | undefined): string {
  if (instance === undefined) return path;
  if (path.includes(INSTANCE_PLACEHOLDER)) return path.replaceAll(INSTANCE_PLACEHOLDER, instance);
  const m = /^(.*?)(\.sock)?$/.exec(path)!;
  return `${m[1]}@${instance}${m[2] ?? ""}`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Apply an instance to the raw main config, in place (before the schema check, like the environment
 * overrides). Returns the paths of the strings that held `${instance}`: without an instance they are
 * what the caller reports as errors.
 */
export function applyInstance(config: unknown, instance: string | undefined, configDir: string): Path[] {
  if (!isObj(config)) return [];
  const found: Path[] = [];
  const walk = (v: unknown, path: Path): unknown => {
    if (typeof v === "string") {
      if (!v.includes(INSTANCE_PLACEHOLDER)) return v;
      found.push(path);
      return instance === undefined ? v : v.replaceAll(INSTANCE_PLACEHOLDER, instance);
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i], [...path, i]);
      return v;
    }
    if (isObj(v)) {
      for (const k of Object.keys(v)) {
        if (k === "configurationJson" && path.length === 2 && path[0] === "connectors") continue;
        v[k] = walk(v[k], [...path, k]);
      }
    }
    return v;
  };
  // storage and socket paths are looked at before substitution: a placeholder there is the user's choice
  const storage = isObj(config.storage) ? config.storage : undefined;
  const status = isObj(config.status) ? config.status : undefined;
  const storageKey = storage?.type === "file" ? "data_folder_path" : storage?.type === "sqlite" ? "data_file_path" : undefined;
  const storageHasPlaceholder = storageKey !== undefined && String(storage![storageKey] ?? "").includes(INSTANCE_PLACEHOLDER);
  const socketHasPlaceholder = typeof status?.socket === "string" && status.socket.includes(INSTANCE_PLACEHOLDER);
  walk(config, []);
  if (instance === undefined) return found;
  if (storage && storageKey && !storageHasPlaceholder) {
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);
    const loc = storageLocation({ type: String(storage.type), data_folder_path: str(storage.data_folder_path), data_file_path: str(storage.data_file_path) }, configDir);
    if (loc) storage[storageKey] = `${join(loc.folder, `instance-${instance}`)}/`;
  }
  if (status && typeof status.socket === "string" && !socketHasPlaceholder) status.socket = socketForInstance(status.socket, instance);
  return found;
}
