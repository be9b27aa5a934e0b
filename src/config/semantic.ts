// Checks beyond types that users hit in practice: credentials with stray whitespace, TLS settings
// that do not match the port, unreadable certificate files, a storage folder that cannot be
// written, storage that could outgrow the disk, and clashes between connectors (names, listening
// ports, device names). Nothing here touches the network or writes a file.

import { accessSync, constants, existsSync, readFileSync, statfsSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { storageLocation } from "../storage/location.ts";
import type { Diagnostic } from "./diagnostics.ts";
import type { RoleHit } from "./schema-check.ts";
import { checkExpressionRole } from "./expression-check.ts";
import { diagAt, type Path, type SourceDoc } from "./source.ts";
import { errorText } from "../observe/logger.ts";
import { isBuiltInType } from "../connectors/index.ts";
import { findPython, findScript, scriptSearchDirs } from "../connectors/grpc/launch.ts";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});

/**
 * Resolve like the runtime (src/common/tls): relative to the config folder when that file exists,
 * else as given (from the working folder); when neither exists, the config-folder path is named.
 */
export function resolveFile(p: string, configDir: string): string {
  if (isAbsolute(p)) return p;
  const rel = resolve(configDir, p);
  if (existsSync(rel)) return rel;
  return existsSync(p) ? resolve(p) : rel;
}

/** undefined when readable, else why not. */
export function unreadable(p: string, configDir: string): string | undefined {
  const full = resolveFile(p, configDir);
  try {
    if (statSync(full).isDirectory()) return `"${p}" is a folder, not a file`;
    readFileSync(full);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "not found" : code === "EACCES" ? "permission denied" : (code ?? errorText(e));
    return `cannot read "${p}": ${why} (looked at ${full})`;
  }
}

function checkFile(doc: SourceDoc, path: Path, what: string, value: unknown, configDir: string, out: Diagnostic[]): void {
  if (typeof value !== "string" || value === "") return;
  const why = unreadable(value, configDir);
  if (why) out.push(diagAt(doc, path, "error", `${what}: ${why}; relative paths start at the config folder`));
}

/** Seed 004: 100 devices reporting every 5 s grow storage by about 500 MB per hour. */
export const SEED_BYTES_PER_HOUR = 500 * 1024 * 1024;
const SEED_RECORDS_PER_HOUR = (100 * 3600) / 5;
/** One stored record = one poll of one device (the seed's figure, about 7 KB). */
export const BYTES_PER_RECORD = SEED_BYTES_PER_HOUR / SEED_RECORDS_PER_HOUR;

const human = (b: number): string =>
  b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(1)} GB` : b >= 1024 ** 2 ? `${(b / 1024 ** 2).toFixed(0)} MB` : `${(b / 1024).toFixed(0)} KB`;

function nearestExisting(p: string): string {
  let cur = p;
  while (!existsSync(cur) && dirname(cur) !== cur) cur = dirname(cur);
  return cur;
}

type StorageKind = { type: "file" | "sqlite"; storage: Obj; folderPath: Path; folder: string };

function storageKind(config: Obj, configDir: string): StorageKind | undefined {
  const storage = obj(config.storage);
  const type = storage.type;
  if (type !== "file" && type !== "sqlite") return undefined;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const { folder } = storageLocation({ type, data_folder_path: str(storage.data_folder_path), data_file_path: str(storage.data_file_path) }, configDir)!;
  return { type, storage, folderPath: ["storage", type === "file" ? "data_folder_path" : "data_file_path"], folder };
}

/** The storage folder is created on start: its nearest existing parent must be a writable folder. */
function checkStorageFolder(doc: SourceDoc, config: Obj, configDir: string, out: Diagnostic[]): void {
  const k = storageKind(config, configDir);
  if (!k) return;
  const existing = nearestExisting(k.folder);
  try {
    if (!statSync(existing).isDirectory()) {
      out.push(diagAt(doc, k.folderPath, "error", `storage folder ${k.folder} cannot be created: ${existing} is a file, not a folder`));
      return;
    }
    accessSync(existing, constants.W_OK);
  } catch (e) {
    out.push(diagAt(doc, k.folderPath, "error", `storage folder ${k.folder} is not writable (${(e as NodeJS.ErrnoException).code ?? errorText(e)}); fix its permissions or choose another folder`));
  }
}

/** How fast storage grows while the platform is unreachable. */
export interface GrowthRate {
  bytesPerHour: number;
  /** How the figure was made, for the message. */
  basis: string;
}

/**
 * Estimate from the connectors' polled devices (`pollPeriod` roles: one record per device per
 * poll); connectors without poll periods (event-driven ones such as MQTT or OPC-UA subscriptions)
 * cannot be estimated offline. With no polled device at all, the seed's figure stands in.
 */
export function estimateGrowth(all: ConnectorRoles[]): GrowthRate {
  let devices = 0;
  let recordsPerHour = 0;
  let uncounted = 0;
  for (const c of all) {
    const polls = c.roles.filter((h) => h.role === "pollPeriod" && typeof h.value === "number" && h.value > 0);
    if (!polls.length) uncounted++;
    devices += polls.length;
    for (const h of polls) recordsPerHour += 3_600_000 / (h.value as number);
  }
  if (!devices) return { bytesPerHour: SEED_BYTES_PER_HOUR, basis: `${human(SEED_BYTES_PER_HOUR)}/h (100 devices reporting every 5 s, a typical site)` };
  const bytesPerHour = recordsPerHour * BYTES_PER_RECORD;
  const rest = uncounted ? `; ${uncounted} connector${uncounted === 1 ? "" : "s"} without poll periods not counted` : "";
  return {
    bytesPerHour,
    basis: `about ${human(bytesPerHour)}/h (${devices} polled device${devices === 1 ? "" : "s"}, ${Math.round(recordsPerHour)} records/h at ~${human(BYTES_PER_RECORD)} each${rest})`,
  };
}

/** Warn when storage bounds are left to defaults, or when the bound exceeds the free disk space. */
export function checkStorageGrowth(doc: SourceDoc, config: unknown, configDir: string, rate: GrowthRate): Diagnostic[] {
  const out: Diagnostic[] = [];
  const k = storageKind(obj(config), configDir);
  if (!k) return out;
  const { type, storage } = k;
  const bounds = type === "file" ? ["max_file_count", "max_records_per_file"] : ["size_limit", "max_db_amount"];
  const bound =
    type === "file"
      ? Number(storage.max_file_count ?? 5) * Number(storage.max_records_per_file ?? 3) * BYTES_PER_RECORD
      : Number(storage.size_limit ?? 1024) * 1024 * 1024 * Number(storage.max_db_amount ?? 10);
  const missing = bounds.filter((b) => storage[b] === undefined);
  const hours = (bytes: number) => {
    const h = bytes / rate.bytesPerHour;
    return h >= 1 ? `${h.toFixed(1)} h` : h * 60 >= 1 ? `${Math.round(h * 60)} min` : `${Math.round(h * 3600)} s`;
  };
  if (missing.length) {
    out.push(
      diagAt(doc, ["storage", "type"], "warning", `${type} storage without ${missing.join(" and ")}: the defaults bound it at about ${human(bound)}; at ${rate.basis} that holds ${hours(bound)} of platform outage. Set ${bounds.join(" and ")} for your disk`),
    );
  }
  try {
    const existing = nearestExisting(k.folder);
    const fs = statfsSync(existing);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (Number.isFinite(bound) && bound > free) {
      out.push(
        diagAt(doc, ["storage", "type"], "warning", `${type} storage may grow to ${human(bound)} but only ${human(free)} is free under ${existing}; at ${rate.basis} the disk fills in ${hours(free)}. Lower ${bounds.join(" or ")}`),
      );
    }
  } catch {
    // statfs unsupported here: the size estimate is advice, not a requirement.
  }
  return out;
}

/** Checks of the main config's `thingsboard` and `storage` sections (value already env-merged). */
export function checkMainSemantics(doc: SourceDoc, config: unknown, configDir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const c = obj(config);
  const tb = obj(c.thingsboard);
  const sec = obj(tb.security);
  const hasSecurity = typeof tb.security === "object" && tb.security !== null;
  const S = (k: string): Path => ["thingsboard", "security", k];

  for (const k of ["accessToken", "username", "clientId"]) {
    const v = sec[k];
    if (typeof v === "string" && v !== v.trim())
      out.push(diagAt(doc, S(k), "error", `${k} has leading or trailing whitespace ("${v}"); the platform compares it exactly and will refuse the connection`));
  }
  if (typeof tb.host === "string" && tb.host !== tb.host.trim())
    out.push(diagAt(doc, ["thingsboard", "host"], "error", `host has leading or trailing whitespace ("${tb.host}")`));

  if (!hasSecurity && tb.provisioning === undefined && !existsSync(join(configDir, ".credentials")))
    out.push(diagAt(doc, ["thingsboard", "security"], "error", 'no credentials: add thingsboard.security (e.g. {"type": "accessToken", "accessToken": "..."}) or thingsboard.provisioning'));
  const type = sec.type ?? (sec.accessToken !== undefined ? "accessToken" : undefined);
  const need = (fields: string[]) => {
    for (const f of fields) if (sec[f] === undefined || sec[f] === "") out.push(diagAt(doc, S(f), "error", `security type "${String(type)}" needs "${f}"`));
  };
  if (hasSecurity) {
    if (type === "accessToken" || type === "tlsAccessToken") need(["accessToken"]);
    if (type === "usernamePassword") need(["username"]);
    if (type === "tlsPrivateKey" || type === "x509Certificate") need(["privateKey", "cert"]);
    if (type === "tlsAccessToken") need(["caCert"]);
  }
  checkFile(doc, S("caCert"), "CA certificate", sec.caCert, configDir, out);
  checkFile(doc, S("privateKey"), "private key", sec.privateKey, configDir, out);
  checkFile(doc, S("cert"), "client certificate", sec.cert, configDir, out);

  // Upstream turns TLS on for port 8883 even without settings; say what that means, and the reverse.
  const port = tb.port ?? 1883;
  const tlsSet = typeof sec.caCert === "string" || sec.tls === true || type === "tlsAccessToken" || type === "tlsPrivateKey" || type === "x509Certificate";
  if (port === 8883 && !tlsSet)
    out.push(diagAt(doc, ["thingsboard", "port"], "warning", "port 8883 is MQTT over TLS but no TLS settings are given: the connection is encrypted without verifying the server; set security.caCert (or security.tls)"));
  if (port === 1883 && tlsSet)
    out.push(diagAt(doc, ["thingsboard", "port"], "warning", "TLS settings are given but port 1883 is plain MQTT; ThingsBoard serves MQTT over TLS on 8883"));

  const filtering = obj(tb.deviceFiltering);
  if (filtering.enable === true) {
    if (typeof filtering.filterFile !== "string") out.push(diagAt(doc, ["thingsboard", "deviceFiltering"], "error", 'device filtering is enabled but "filterFile" is missing'));
    else checkFile(doc, ["thingsboard", "deviceFiltering", "filterFile"], "device filter file", filtering.filterFile, configDir, out);
  }
  const stats = obj(tb.statistics);
  if ((stats.enableCustom ?? stats.enable) === true && typeof stats.configuration === "string") {
    const why = unreadable(stats.configuration, configDir);
    if (why) out.push(diagAt(doc, ["thingsboard", "statistics", "configuration"], "warning", `custom statistics commands: ${why}; custom statistics will be skipped`));
  }
  checkStorageFolder(doc, c, configDir, out);
  checkGrpcConnectors(doc, c, configDir, out);
  return out;
}

/**
 * Connectors of type grpc need a key and the gRPC server on; a built-in type with `useGRPCForce`
 * needs the server, a Python interpreter and its script. Warned by `validate` (and `run`, which
 * starts the other connectors and says at the connector why it did not start).
 */
function checkGrpcConnectors(doc: SourceDoc, c: Obj, configDir: string, out: Diagnostic[]): void {
  const list = Array.isArray(c.connectors) ? c.connectors : [];
  const grpc = obj(c.grpc);
  const serverOn = grpc.enabled === true;
  list.forEach((e: unknown, i: number) => {
    const entry = obj(e);
    const name = String(entry.name);
    const type = typeof entry.type === "string" ? entry.type.toLowerCase() : "";
    if (entry.useGRPC === true && entry.useGRPCForce !== true)
      out.push(diagAt(doc, ["connectors", i, "useGRPC"], "warning", `connector "${name}": "useGRPC" is not read (upstream reads "useGRPCForce"); write "useGRPCForce": true to run the connector as a separate Python gRPC process`));
    if (entry.useGRPCForce === true) {
      const at: Path = ["connectors", i, "useGRPCForce"];
      if (!isBuiltInType(type)) {
        out.push(diagAt(doc, at, "warning", `connector "${name}": "useGRPCForce" applies to built-in connector types only; ignored for type "${String(entry.type)}"`));
      } else if (!serverOn) {
        out.push(diagAt(doc, at, "warning", `connector "${name}" has "useGRPCForce": true, so it runs as a separate Python gRPC process and needs the gRPC server: set "grpc": {"enabled": true, "serverPort": 9595}, or remove "useGRPCForce" to run the built-in ${type} connector inside tb-gw`));
      } else {
        for (const check of [() => findPython(typeof grpc.python === "string" ? grpc.python : undefined, configDir), () => findScript(type, scriptSearchDirs(configDir, typeof grpc.connectorsDir === "string" ? grpc.connectorsDir : undefined))]) {
          try {
            check();
          } catch (err) {
            out.push(diagAt(doc, at, "warning", `connector "${name}": ${errorText(err)}`));
          }
        }
      }
    }
    if (type !== "grpc") return;
    if (typeof entry.key !== "string" || entry.key.trim() === "")
      out.push(diagAt(doc, ["connectors", i], "warning", `connector "${name}" of type grpc needs a "key": one of your choice, or "auto" to have one generated and kept in persistent_keys.json`));
    if (!serverOn) out.push(diagAt(doc, ["connectors", i, "type"], "warning", `connector "${name}" of type grpc needs the gRPC server: set "grpc": {"enabled": true, "serverPort": 9595}`));
  });
}

/** Role hits of one connector, with the document they were found in. */
export interface ConnectorRoles {
  name: string;
  doc: SourceDoc;
  roles: RoleHit[];
}

const where = (doc: SourceDoc, path: Path) => {
  const d = diagAt(doc, path, "warning", "");
  return `${d.file}:${d.line}:${d.col}`;
};

/** A port something in the main config listens on (gRPC server, status HTTP, metrics). */
export interface MainListener {
  owner: string;
  doc: SourceDoc;
  path: Path;
  port: unknown;
  host?: unknown;
}

const WILDCARD_HOSTS = new Set(["", "0.0.0.0", "::", "[::]", "*"]);

/** The bind address of a listen port: its sibling `host` field, when there is one (absent = all addresses). */
function bindHost(doc: SourceDoc, path: Path): string {
  let v: unknown = doc.value;
  for (const k of path.slice(0, -1)) v = (v as Record<string | number, unknown> | undefined)?.[k];
  const host = obj(v).host;
  return typeof host === "string" ? host.trim() : "";
}

const sameAddress = (a: string, b: string) => WILDCARD_HOSTS.has(a) || WILDCARD_HOSTS.has(b) || a === b;

/**
 * Cross-connector checks: readable files, listening-port clashes (TCP and UDP apart, and two
 * different specific bind addresses apart), duplicate fixed device names. A duplicate device
 * name is a warning, not an error: two sources may feed one device on purpose (upstream's own
 * snmp.json polls "SNMP router" from two entries), but more often it is a copy-paste slip.
 */
export function checkConnectorRoles(all: ConnectorRoles[], configDir: string, listeners: MainListener[] = []): Diagnostic[] {
  const out: Diagnostic[] = [];
  type Place = { owner: string; connector?: string; doc: SourceDoc; path: Path; host?: string };
  const ports = new Map<string, Place[]>();
  const bind = (key: string, p: Place) => ports.set(key, [...(ports.get(key) ?? []), p]);
  for (const l of listeners)
    if (typeof l.port === "number" && l.port > 0) bind(`tcp:${l.port}`, { owner: l.owner, doc: l.doc, path: l.path, host: typeof l.host === "string" ? l.host : "" });
  const devices = new Map<string, Place>();
  const by = (first: Place, c: ConnectorRoles) => (first.connector === c.name ? "another device of this connector" : first.owner);
  for (const c of all) {
    const owner = `connector "${c.name}"`;
    for (const hit of c.roles) {
      if (hit.role === "file") checkFile(c.doc, hit.path, owner, hit.value, configDir, out);
      if (hit.role === "expression") checkExpressionRole(c.doc, hit, owner, out);
      if (hit.role === "listenPort" || hit.role === "udpListenPort") {
        const port = Number(hit.value);
        if (!Number.isInteger(port) || port <= 0) continue; // 0 = any free port; a serial device path is no port
        const proto = hit.role === "udpListenPort" ? "udp" : "tcp";
        const host = bindHost(c.doc, hit.path);
        const first = ports.get(`${proto}:${port}`)?.find((p) => sameAddress(p.host ?? "", host));
        if (first)
          out.push(diagAt(c.doc, hit.path, "error", `${proto.toUpperCase()} port ${port} is already used by ${first.owner} (${where(first.doc, first.path)}); two listeners cannot share a port`));
        else bind(`${proto}:${port}`, { owner, connector: c.name, doc: c.doc, path: hit.path, host });
      }
      if (hit.role === "deviceName" && typeof hit.value === "string" && !hit.value.includes("${")) {
        const first = devices.get(hit.value);
        if (first)
          out.push(diagAt(c.doc, hit.path, "warning", `device name "${hit.value}" is also used by ${by(first, c)} (${where(first.doc, first.path)}); both will report into one ThingsBoard device`));
        else devices.set(hit.value, { owner, connector: c.name, doc: c.doc, path: hit.path });
      }
    }
  }
  return out;
}
