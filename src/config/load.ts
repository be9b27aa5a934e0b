// The loader the gateway and `tb-gw validate` share: read the main config (JSON or YAML) with
// positions, merge environment overrides, check it against MainConfigSchema, then read every
// connector it names (file relative to the config folder, or inline `configurationJson`) and check
// it against that connector type's schema from the registry. All problems are collected; the loader
// throws one ConfigError carrying all of them.

import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { applyEdits, modify } from "jsonc-parser";
import { connectorRegistry, descriptorForEntry, notInThisBuild } from "../connectors/index.ts";
import type { ConnectorDescriptor } from "../core/connector.ts";
import { ConfigError, type Diagnostic, hasErrors } from "./diagnostics.ts";
import { applyEnvOverrides, discoverConfig, discoveryCandidates } from "./discover.ts";
import { applyInstance, INSTANCE_PLACEHOLDER } from "./instance.ts";
import { type ConnectorEntry, type MainConfig, MainConfigSchema, type ReportStrategy, ReportStrategySchema } from "./main-schema.ts";
import { checkSchema, objectShape } from "./schema-check.ts";
import { type ConnectorRoles, checkConnectorRoles, checkMainSemantics, checkStorageGrowth, estimateGrowth, type MainListener } from "./semantic.ts";
import { diagAt, parseSource, type Path, pathText, type SourceDoc } from "./source.ts";
import { didYouMean } from "./suggest.ts";
import { errorText } from "../observe/logger.ts";
import { replaceFile } from "../common/fs/replace-file.ts";

export interface LoadOptions {
  /** Environment for the TB_GW_* overrides (default process.env). */
  env?: Record<string, string | undefined>;
  /** `run` only: give connector files without `id` a UUID and write it back. `validate` never writes. */
  writeIds?: boolean;
  /** Descriptors to use besides (or instead of) the registry's, by type; tests use this. */
  descriptors?: Record<string, ConnectorDescriptor<any>>;
  /** Folder discovery starts from (default process.cwd()). */
  cwd?: string;
  /** Instance id (`--instance N` / TB_GW_INSTANCE): see instance.ts. */
  instance?: string;
}

export interface LoadedConnector {
  entry: ConnectorEntry;
  /** Position in the main config's `connectors` list. */
  index: number;
  /** Absolute path of the connector file; absent for inline `configurationJson`. */
  file?: string;
  /** The connector config as written (after `reportStrategy` was taken out, with `name` injected). */
  raw: unknown;
  /** Parsed by the connector's schema (defaults applied). */
  config: unknown;
  id: string;
  /** Connector-level report strategy (the file's top-level `reportStrategy`, else the entry's). */
  reportStrategy?: ReportStrategy;
  descriptor?: ConnectorDescriptor<any>;
  /** True when `id` was generated here (missing in the file). */
  generatedId: boolean;
}

export interface GatewayConfig {
  path: string;
  configDir: string;
  config: MainConfig;
  connectors: LoadedConnector[];
  diagnostics: Diagnostic[];
}

/** A device a connector of this config polls (see PollTarget), with where it is written. */
export interface PolledDevice {
  connector: string;
  target: string;
  doc: SourceDoc;
  path: Path;
}

export interface CheckResult {
  path: string;
  configDir: string;
  /** Instance id the config was checked as. */
  instance?: string;
  /** Devices the polling connectors poll (for `validate` across several configs). */
  polled: PolledDevice[];
  /** Undefined when the main config has errors. */
  config?: MainConfig;
  connectors: LoadedConnector[];
  diagnostics: Diagnostic[];
}

/** Keys upstream reserves in connector files; connector schemas need not list them. */
const RESERVED = ["id", "name", "logLevel", "enableRemoteLogging", "configVersion", "reportStrategy", "$schema"];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function readDoc(file: string, kind?: "json" | "yaml"): SourceDoc {
  return parseSource(file, new Uint8Array(readFileSync(file)), kind);
}

function noConfigError(where: string, message: string): ConfigError {
  return new ConfigError([{ file: where, line: 1, col: 1, severity: "error", message }]);
}

/** The main config path to use: the given one, or the first found by discovery. Throws when none. */
export function resolveConfigPath(path: string | undefined, cwd?: string): string {
  if (path) {
    const full = resolve(cwd ?? process.cwd(), path);
    if (!existsSync(full)) throw noConfigError(path, `config file not found (${full}); check the path`);
    if (statSync(full).isDirectory()) throw noConfigError(path, "is a folder; name the main config file in it, e.g. tb_gateway.json");
    return full;
  }
  const found = discoverConfig(cwd);
  if (!found) throw noConfigError("tb_gateway.json", `no config file found; looked at ${discoveryCandidates(cwd).join(", ")}. Pass --config PATH`);
  return found;
}

/** Check everything and return what could be loaded plus every diagnostic. Never throws on bad input. */
export async function checkGatewayConfig(path: string | undefined, opts: LoadOptions = {}): Promise<CheckResult> {
  const full = resolveConfigPath(path, opts.cwd);
  const configDir = dirname(full);
  const doc = readDoc(full);
  const diagnostics: Diagnostic[] = [...doc.diagnostics];
  const result: CheckResult = { path: full, configDir, instance: opts.instance, polled: [], connectors: [], diagnostics };
  // Upstream prefers <name>.json when it exists (it writes one when converting YAML): say which file wins here.
  const jsonTwin = full.replace(/\.ya?ml$/i, ".json");
  if (jsonTwin !== full && existsSync(jsonTwin))
    diagnostics.push(diagAt(doc, [], "warning", `${basename(jsonTwin)} exists beside this file: tb-gw reads this YAML file, the Python gateway would read the JSON one. Remove the one you do not maintain`));
  const raw = isObj(doc.value) ? doc.value : undefined;
  if (!doc.broken && !raw) diagnostics.push(diagAt(doc, [], "error", "the main config must be an object with \"thingsboard\" and \"storage\" sections"));
  if (!raw) return result;

  const applied = applyEnvOverrides(raw, opts.env ?? process.env);
  for (const p of applyInstance(raw, opts.instance, configDir)) {
    if (opts.instance === undefined)
      diagnostics.push(diagAt(doc, p, "error", `"${INSTANCE_PLACEHOLDER}" needs an instance id: run with --instance N (or TB_GW_INSTANCE=N)`));
  }
  if (opts.instance !== undefined) {
    // state these keep in the config folder is not per instance (README "Scaling out")
    const tb = isObj(raw.thingsboard) ? raw.thingsboard : {};
    if (tb.provisioning !== undefined && tb.security === undefined)
      diagnostics.push(diagAt(doc, ["thingsboard", "provisioning"], "warning", `provisioning saves its credentials in the config folder, which all instances share: instance ${opts.instance} would use the credentials another instance obtained. Give each instance its own token (TB_GW_ACCESS_TOKEN in instance-N.env, or \${instance} in thingsboard.security)`));
    if (tb.remoteConfiguration === true)
      diagnostics.push(diagAt(doc, ["thingsboard", "remoteConfiguration"], "warning", `remote configuration rewrites the connector files that all instances share: a change sent to instance ${opts.instance} changes the others at their next restart or file check. Keep it off when running several instances`));
  }
  const mainDiags: Diagnostic[] = [];
  let config: MainConfig | undefined;
  if (!doc.broken) {
    const check = checkSchema(doc, [], raw, MainConfigSchema);
    mainDiags.push(...check.diagnostics);
    if (check.ok) config = check.data as MainConfig;
    mainDiags.push(...checkMainSemantics(doc, raw, configDir));
  }
  // Say when a wrong value came from the environment rather than from the file.
  const noteEnv = (ds: Diagnostic[]) => {
    for (const d of ds) {
      const o = applied.find((a) => pathText(a.path) === d.path);
      if (o) d.message += ` (value from environment variable ${o.variable})`;
    }
    return ds;
  };
  diagnostics.push(...noteEnv(mainDiags));

  const entries = Array.isArray(raw.connectors) ? raw.connectors : [];
  const roles: ConnectorRoles[] = [];
  const names = new Map<string, number>();
  for (let i = 0; i < entries.length; i++) {
    const loaded = await loadConnector(doc, i, entries[i], configDir, opts, diagnostics, roles, names, result.polled);
    if (loaded) result.connectors.push(loaded);
  }
  diagnostics.push(...checkConnectorRoles(roles, configDir, mainListeners(doc, raw)));
  if (!doc.broken) {
    // After the connectors: the growth estimate uses their polled devices. Env overrides may change storage.
    diagnostics.push(...noteEnv(checkStorageGrowth(doc, raw, configDir, estimateGrowth(roles))));
  }
  if (config && !hasErrors(diagnostics)) result.config = config;
  return result;
}

/** Ports the main config itself listens on, when enabled: the gRPC server and the status endpoints. */
function mainListeners(doc: SourceDoc, raw: Record<string, unknown>): MainListener[] {
  const out: MainListener[] = [];
  if (isObj(raw.grpc) && raw.grpc.enabled === true) out.push({ owner: "the gRPC server", doc, path: ["grpc", "serverPort"], port: raw.grpc.serverPort ?? 9595, host: raw.grpc.serverHost ?? "0.0.0.0" });
  const status = isObj(raw.status) ? raw.status : {};
  for (const [k, what] of [["http", "the status HTTP endpoint"], ["metrics", "the metrics endpoint"]] as const) {
    const s = status[k];
    if (isObj(s) && s.enabled === true) out.push({ owner: what, doc, path: ["status", k, "port"], port: s.port ?? (k === "http" ? 9180 : 9181), host: s.host ?? "127.0.0.1" });
  }
  return out;
}

async function loadConnector(
  main: SourceDoc,
  i: number,
  entry: unknown,
  configDir: string,
  opts: LoadOptions,
  diagnostics: Diagnostic[],
  roles: ConnectorRoles[],
  names: Map<string, number>,
  polled: PolledDevice[],
): Promise<LoadedConnector | undefined> {
  const at: Path = ["connectors", i];
  if (!isObj(entry) || typeof entry.type !== "string" || typeof entry.name !== "string") return undefined; // the schema said why
  const name = entry.name;
  const first = names.get(name);
  if (first !== undefined) {
    const f = diagAt(main, ["connectors", first, "name"], "error", "");
    diagnostics.push(diagAt(main, [...at, "name"], "error", `two connectors are named "${name}" (the other at line ${f.line}:${f.col}); names must be unique`));
  } else names.set(name, i);

  const type = entry.type.toLowerCase();
  let descriptor: ConnectorDescriptor<any> | undefined;
  try {
    descriptor = opts.descriptors?.[type] ?? (await descriptorForEntry({ type: entry.type, class: entry.class, useGRPCForce: entry.useGRPCForce }, configDir));
  } catch (e) {
    diagnostics.push(diagAt(main, [...at, "type"], "error", `connector type "${type}" failed to load: ${errorText(e)}`));
    return undefined;
  }
  if (!descriptor) {
    const known = [...new Set([...Object.keys(connectorRegistry), ...Object.keys(opts.descriptors ?? {})])].sort();
    const missing = notInThisBuild(type);
    diagnostics.push(
      diagAt(main, [...at, "type"], "error", missing ? `connector type "${entry.type}": ${missing}` : `unknown connector type "${entry.type}"${didYouMean(type, known)}; known types: ${known.length ? known.join(", ") : "none registered"}; a custom connector also needs "class" (the class exported by a module in extensions/${entry.type}/)`),
    );
  }

  // The connector's own document: its file, or the inline object inside the main config.
  let doc = main;
  let base: Path = [...at, "configurationJson"];
  let file: string | undefined;
  if (typeof entry.configuration === "string") {
    file = resolve(configDir, entry.configuration);
    if (!existsSync(file) || statSync(file).isDirectory()) {
      diagnostics.push(diagAt(main, [...at, "configuration"], "error", `connector file "${entry.configuration}" not found (looked at ${file}); paths are relative to the main config's folder`));
      return undefined;
    }
    doc = readDoc(file);
    base = [];
    diagnostics.push(...doc.diagnostics);
    if (doc.broken) return undefined;
  } else if (!isObj(entry.configurationJson)) {
    diagnostics.push(diagAt(main, at, "error", `connector "${name}" has neither "configuration" (a file name) nor "configurationJson" (inline settings)`));
    return undefined;
  }
  const value = file ? doc.value : entry.configurationJson;
  if (!isObj(value)) {
    diagnostics.push(diagAt(doc, base, "error", `connector "${name}" config must be a JSON object`));
    return undefined;
  }
  const own = Object.keys(value).filter((k) => !RESERVED.includes(k));
  if (own.length === 0) diagnostics.push(diagAt(doc, base, "warning", `connector "${name}" config is empty; the connector will not start`));

  // Upstream quirks: top-level reportStrategy is the connector's strategy; name comes from the main config.
  const { reportStrategy: rsRaw, ...rest } = value;
  let reportStrategy: ReportStrategy | undefined;
  if (rsRaw !== undefined) {
    const rs = checkSchema(doc, [...base, "reportStrategy"], rsRaw, ReportStrategySchema);
    diagnostics.push(...rs.diagnostics);
    if (rs.ok) reportStrategy = rs.data as ReportStrategy;
  } else if (entry.reportStrategy !== undefined) {
    // Already checked (and reported) by the main schema; only take it when valid.
    const rs = ReportStrategySchema.safeParse(entry.reportStrategy);
    if (rs.success) reportStrategy = rs.data;
  }
  const generatedId = typeof rest.id !== "string" || rest.id === "";
  const id = generatedId ? (opts.instance !== undefined ? nameUuid(name) : crypto.randomUUID()) : (rest.id as string);
  const input: Record<string, unknown> = { ...rest, name };
  // A strict connector schema would refuse the gateway's reserved keys it does not declare: hide them from it.
  const shape = descriptor ? objectShape(descriptor.schema) : undefined;
  const toCheck = shape?.strict ? Object.fromEntries(Object.entries(input).filter(([k]) => !RESERVED.includes(k) || shape.keys.includes(k))) : input;
  let config: unknown;
  if (descriptor) {
    try {
      const check = checkSchema(doc, base, toCheck, descriptor.schema);
      // Reserved keys are the gateway's, not the connector schema's: no unknown-field warning for them.
      const reservedPaths = new Set(RESERVED.map((k) => pathText([...base, k])));
      diagnostics.push(...check.diagnostics.filter((d) => !(d.severity === "warning" && d.path && reservedPaths.has(d.path))));
      roles.push({ name, doc, roles: check.roles });
      config = check.data;
      if (check.ok && descriptor.lint)
        for (const w of descriptor.lint(toCheck)) diagnostics.push(diagAt(doc, [...base, ...w.path], "warning", `connector "${name}": ${w.message}`));
      if (check.ok && descriptor.pollTargets) for (const t of descriptor.pollTargets(toCheck)) polled.push({ connector: name, target: t.target, doc, path: [...base, ...t.path] });
    } catch (e) {
      diagnostics.push(diagAt(doc, base, "error", `checking connector "${name}" failed inside its schema (a bug in the ${type} connector): ${errorText(e)}`));
    }
  }
  return { entry: entry as ConnectorEntry, index: i, file, raw: input, config, id, reportStrategy, descriptor, generatedId };
}

/** A UUID-shaped id from a connector name: every instance of one config gives a connector the same id. */
export function nameUuid(name: string): string {
  const h = new Bun.CryptoHasher("sha1").update(`tb-gw connector ${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Write generated ids into connector files that had none (upstream behaviour; `run` only). */
function writeBackIds(connectors: LoadedConnector[]): void {
  for (const c of connectors) {
    if (!c.generatedId || !c.file || /\.ya?ml$/i.test(c.file)) continue;
    const text = readFileSync(c.file, "utf8");
    const hadId = isObj(c.raw) && "id" in c.raw;
    const edited = hadId ? undefined : withLeadingId(text, c.id);
    replaceFile(c.file, edited ?? applyEdits(text, modify(text, ["id"], c.id, { formattingOptions: { insertSpaces: true, tabSize: 2 } })));
  }
}

/**
 * The (valid JSON) text with `"id"` as the first member of its top-level object, spaced like the
 * member that follows it; undefined when it does not start with `{` and a member. Done on the text:
 * jsonc-parser's modify builds the syntax tree of the whole file to place one key, which for 300
 * Modbus slaves x 50 keys (2.6 MB) took ~1.7 s and was the gateway's peak RSS (+36 MB) at start-up.
 * Only for a file without any top-level "id" (an empty or non-string one is replaced by modify).
 */
export function withLeadingId(text: string, id: string): string | undefined {
  const m = /^(\uFEFF?\s*\{)(\s*)"/.exec(text);
  if (!m) return undefined;
  return `${m[1]}${m[2]}"id": ${JSON.stringify(id)},${m[2]}"${text.slice(m[0].length)}`;
}

/** Load for running: throws ConfigError (with every diagnostic) when anything is an error. */
export async function loadGatewayConfig(path?: string, opts: LoadOptions = {}): Promise<GatewayConfig> {
  const r = await checkGatewayConfig(path, opts);
  if (!r.config || hasErrors(r.diagnostics)) throw new ConfigError(r.diagnostics);
  if (opts.writeIds) writeBackIds(r.connectors);
  return { path: r.path, configDir: r.configDir, config: r.config, connectors: r.connectors, diagnostics: r.diagnostics };
}
