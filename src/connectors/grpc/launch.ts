// useGRPCForce: how tb-gw launches a built-in connector's Python gRPC twin (spec grpc.md §4.1):
//   <python> <folder>/<type>/<type>_connector.py '<json>' '<config dir>/'
// Pure helpers (paths, the launch JSON, the INI logging file); the process itself is supervised by
// supervisor.ts and the connector side is forced-connector.ts.
//
// Upstream runs the script from its own package folder (`<package root>/grpc_connectors/`). tb-gw
// has no Python package, so the folder is `grpc.connectorsDir` when set, else the first of
// `<config folder>/grpc_connectors` and `<config folder>/../grpc_connectors` (upstream's layout:
// `thingsboard_gateway/config/` beside `thingsboard_gateway/grpc_connectors/`) that holds the script.

import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { replaceFile } from "../../common/fs/replace-file.ts";

export const DEFAULT_PYTHON = "python3";
/**
 * Sent in `gateway.reconnectDelay` (s): how long the reference client waits before registering
 * again. Upstream sends none (the client's default is 60 s); the process runs beside the gateway,
 * so a short wait costs nothing and a restarted gateway gets its connector back quickly.
 */
export const RECONNECT_DELAY_S = 5;
/**
 * Sent in `gateway.checkIncomingDataIntervalMs`: how often an idle reference client polls for
 * downlinks (RPC, attribute updates). Upstream's default 10 000 ms delays every RPC by up to 10 s;
 * a local poll a second is cheap.
 */
export const CHECK_INCOMING_DATA_INTERVAL_MS = 1000;

/** The folders searched for `<type>/<type>_connector.py`, in order. */
export function scriptSearchDirs(configDir: string, connectorsDir?: string): string[] {
  if (connectorsDir && connectorsDir.trim() !== "") return [resolve(configDir, connectorsDir)];
  return [join(configDir, "grpc_connectors"), resolve(configDir, "..", "grpc_connectors")];
}

/** The connector script for `type`; a clear error naming every place looked at and the fixes when there is none. */
export function findScript(type: string, dirs: string[]): string {
  const rel = join(type, `${type}_connector.py`);
  for (const d of dirs) {
    const p = join(d, rel);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  throw new Error(
    `"useGRPCForce": no ${rel} found (looked at ${dirs.map((d) => join(d, rel)).join(", ")}); ` +
      `put the connector's Python gRPC script there (upstream's thingsboard_gateway/grpc_connectors/ has mqtt, modbus, opcua and socket), ` +
      `or set "grpc": {"connectorsDir": "<folder holding ${type}/>"} in tb_gateway.json, or remove "useGRPCForce" to run the built-in ${type} connector inside tb-gw`,
  );
}

/** The interpreter to run: `python` as a path, or looked up on PATH; a clear error when it is not there. */
export function findPython(python: string = DEFAULT_PYTHON, configDir = process.cwd()): string {
  const fix = `install it (Debian: apt-get install python3 python3-grpcio) or set "grpc": {"python": "/path/to/python3"} in tb_gateway.json`;
  if (python.includes("/")) {
    const p = isAbsolute(python) ? python : resolve(configDir, python);
    if (existsSync(p) && !statSync(p).isDirectory()) return p;
    throw new Error(`"useGRPCForce": Python interpreter ${p} not found; ${fix}`);
  }
  const found = Bun.which(python);
  if (found) return found;
  throw new Error(`"useGRPCForce": ${python} not found on PATH (${process.env.PATH ?? "PATH is not set"}); ${fix}`);
}

/** Where the connector process connects: the server's address, loopback when it listens on every address. */
export function connectHost(serverHost: string): string {
  const h = serverHost.trim().replace(/^\[(.*)\]$/, "$1");
  return h === "" || h === "0.0.0.0" || h === "::" || h === "*" ? "127.0.0.1" : h;
}

export interface LaunchInfo {
  name: string;
  type: string;
  id: string;
  /** The connector file name as written in `connectors[].configuration`. */
  fileName: string;
  /** The connector file's content with `name` and `id`. */
  content: Record<string, unknown>;
  key: string;
  host: string;
  port: number;
  configVersion?: string;
  logLevel?: string;
}

/** The `<json>` argument: what the reference client reads (§4.1) plus upstream's extra connector fields. */
export function launchJson(i: LaunchInfo): Record<string, unknown> {
  return {
    name: i.name,
    type: i.type,
    configuration: i.fileName,
    id: i.id,
    ...(i.configVersion !== undefined ? { configVersion: i.configVersion } : {}),
    ...(i.logLevel !== undefined ? { logLevel: i.logLevel } : {}),
    useGRPCForce: true,
    config: { [i.fileName]: i.content },
    grpc_key: i.key,
    gateway: {
      host: i.host,
      port: i.port,
      reconnectDelay: RECONNECT_DELAY_S,
      checkIncomingDataIntervalMs: CHECK_INCOMING_DATA_INTERVAL_MS,
      // upstream leaves it out, and the reference client's connected-devices request then fails (§5 #17)
      connectorKey: i.key,
    },
  };
}

/** What the connector process is sent when it registers (connectorConfigurationMsg.configuration, §4.1). */
export function registrationConfiguration(fileName: string, content: Record<string, unknown>): string {
  return JSON.stringify({ [fileName]: content });
}

/** Whether a logs.json is Python's INI logging format (what the reference client's fileConfig reads) rather than JSON. */
export function isIniLogging(text: string): boolean {
  const first = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== "" && !l.startsWith("#") && !l.startsWith(";"));
  return first !== undefined && first.startsWith("[");
}

const PY_LEVELS: Record<string, string> = { TRACE: "DEBUG", DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", WARN: "WARNING", ERROR: "ERROR", CRITICAL: "CRITICAL" };

/**
 * The INI logging file tb-gw writes for the process: logger `connector` (the reference client's)
 * and the root logger to stderr, one line per record starting with the level, which the
 * supervisor reads back into the gateway's log at that level.
 */
export function iniLogging(logLevel?: string): string {
  const level = PY_LEVELS[(logLevel ?? "INFO").toUpperCase()] ?? "INFO";
  return [
    "# Written by tb-gw for useGRPCForce connector processes (Python logging.config.fileConfig format);",
    "# each line goes to stderr, starting with its level, and tb-gw puts it into its own log.",
    "[loggers]",
    "keys=root,connector",
    "",
    "[handlers]",
    "keys=stderr",
    "",
    "[formatters]",
    "keys=plain",
    "",
    "[logger_root]",
    `level=${level}`,
    "handlers=stderr",
    "",
    "[logger_connector]",
    `level=${level}`,
    "handlers=stderr",
    "qualname=connector",
    "propagate=0",
    "",
    "[handler_stderr]",
    "class=StreamHandler",
    "level=NOTSET",
    "formatter=plain",
    "args=(sys.stderr,)",
    "",
    "[formatter_plain]",
    "format=%(levelname)s %(message)s",
    "",
  ].join("\n");
}

/**
 * The `<config dir>/` argument. The reference client reads `<config dir>/logs.json` with Python's
 * INI `fileConfig`, which tb-gw's own (JSON) logs.json would make fail at start. So: the config
 * folder itself when its logs.json already is INI (a setup made for upstream's gRPC connectors),
 * else `stateDir/` with a logs.json written by tb-gw. Either way it ends with `/` (the
 * client appends the file name without a separator).
 */
export function pythonConfigDir(configDir: string, stateDir: string, logLevel?: string): string {
  const own = join(configDir, "logs.json");
  if (existsSync(own) && isIniLogging(readFileSync(own, "utf8"))) return configDir.endsWith("/") ? configDir : `${configDir}/`;
  const dir = stateDir;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "logs.json");
  const text = iniLogging(logLevel);
  if (!existsSync(file) || readFileSync(file, "utf8") !== text) replaceFile(file, text);
  return `${dir}/`;
}

/**
 * Environment of the process: unbuffered output (lines reach the gateway's log as they are
 * written) and, when the script sits in upstream's package tree (`…/thingsboard_gateway/
 * grpc_connectors/<type>/`), that tree on PYTHONPATH so `import thingsboard_gateway…` works
 * without installing the package.
 */
export function pythonEnv(script: string, base: Record<string, string | undefined> = process.env): Record<string, string | undefined> {
  const connectorsDir = dirname(dirname(script));
  const pkg = dirname(connectorsDir);
  const env: Record<string, string | undefined> = { ...base, PYTHONUNBUFFERED: "1" };
  if (basename(connectorsDir) === "grpc_connectors" && basename(pkg) === "thingsboard_gateway") {
    const root = dirname(pkg);
    env.PYTHONPATH = base.PYTHONPATH ? `${root}:${base.PYTHONPATH}` : root;
  }
  return env;
}

export type LineLevel = "debug" | "info" | "warn" | "error";

/** A line of the process's output as a log line: its Python level when it starts with one, else info (stdout) or warning (stderr). */
export function outputLine(line: string, stream: "stdout" | "stderr"): { level: LineLevel; text: string } {
  const m = /^(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b[:\s]\s*(.*)$/.exec(line);
  if (m) {
    const lvl = m[1]!;
    const level: LineLevel = lvl === "DEBUG" ? "debug" : lvl === "INFO" ? "info" : lvl.startsWith("WARN") ? "warn" : "error";
    return { level, text: m[2]! };
  }
  return { level: stream === "stdout" ? "info" : "warn", text: line };
}
