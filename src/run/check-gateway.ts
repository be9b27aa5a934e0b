// `tb-gw run --check`: load and check the config exactly as `run` does, then build every connector
// the way `run` builds it (the descriptor's `create`, then its `prepare` hook: mapping plans,
// compiled expressions, converter lookups) without starting it: no device, network connection,
// server or storage is opened, no connector file is written. Prints one line per connector and
// returns the exit code: 0 when everything builds cleanly, 1 on config errors or a connector that
// fails to build (or logs an error while building).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Diagnostic, formatDiagnostics } from "../config/diagnostics.ts";
import type { GatewayConfig, LoadedConnector } from "../config/load.ts";
import { diagAt, parseSource, pathKey, type Path, type SourceDoc } from "../config/source.ts";
import { loadDescriptor, notInThisBuild, serviceRegistry } from "../connectors/index.ts";
import type { ConnectorContext, GatewayService } from "../core/connector.ts";
import { addLogSink, errorText, Logger } from "../observe/logger.ts";
import { loadForRun, startOfRun } from "./start-of-run.ts";

export interface CheckRunOptions {
  config?: string;
  instance?: string;
  logLevel?: string;
}

/** What building one connector gave. */
export interface BuiltConnector {
  name: string;
  type: string;
  /** Undefined when it built; else why not (the error `run` would log as "connector X not started"). */
  failure?: string;
  /** The caught value itself, for tests that tell a program error from a config error. */
  thrown?: unknown;
  /** ERROR lines the connector logged while building: problems `run` would log and keep running with. */
  errors: string[];
}

export async function checkGatewayForRun(opts: CheckRunOptions): Promise<number> {
  const start = startOfRun(opts);
  if ("exitCode" in start) return start.exitCode;
  const { instance } = start;
  // never writes: connectors without an id get one in memory, as `validate` does
  const loaded = await loadForRun(opts.config, { writeIds: false, instance }, "`run` would start nothing");
  if (!loaded) return 1;
  const warnings = loaded.diagnostics.filter((d) => d.severity === "warning");
  if (warnings.length) process.stderr.write(`${formatDiagnostics(warnings, { color: process.stderr.isTTY })}\n`);

  const built = await buildConnectors(loaded, instance);
  const problems: Diagnostic[] = [];
  const out: string[] = [`${loaded.path}: config checked${warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? "" : "s"})` : ""}; ${built.length} connector${built.length === 1 ? "" : "s"} built without starting them:`];
  for (const [i, b] of built.entries()) {
    const c = loaded.connectors[i]!;
    if (b.failure) {
      out.push(`  FAILED ${b.name} (${b.type}): ${b.failure}`);
      problems.push(placeOf(loaded, c, `connector "${b.name}" (${b.type}) cannot be built, \`run\` would not start it: ${b.failure}`));
    } else if (b.errors.length) {
      out.push(`  ERRORS ${b.name} (${b.type}): built, with ${b.errors.length} error${b.errors.length === 1 ? "" : "s"} \`run\` would log`);
      for (const m of b.errors) problems.push(placeOf(loaded, c, `connector "${b.name}" (${b.type}): ${m}`));
    } else out.push(`  ok     ${b.name} (${b.type})`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
  if (problems.length) {
    process.stderr.write(`${formatDiagnostics(problems, { color: process.stderr.isTTY })}\n`);
    process.stderr.write(`tb-gw: ${problems.length} problem${problems.length === 1 ? "" : "s"} building the connectors\n`);
    return 1;
  }
  process.stdout.write("tb-gw: all is well; `tb-gw run` with this config would start every connector above\n");
  return 0;
}

/**
 * Build every connector of a loaded config as `run` would, without starting any. Used by
 * `run --check` and by the config fuzz test; never throws for a connector's sake.
 */
export async function buildConnectors(loaded: GatewayConfig, instance?: string): Promise<BuiltConnector[]> {
  const out: BuiltConnector[] = [];
  const stateDir = instance === undefined ? loaded.configDir : join(loaded.configDir, `instance-${instance}`);
  const services = await enabledServices(loaded);
  for (const c of loaded.connectors) {
    const name = c.entry.name;
    const type = c.entry.type.toLowerCase();
    const result: BuiltConnector = { name, type, errors: [] };
    out.push(result);
    // the connector's log lines show as `run` would show them; its ERROR lines are the check's findings
    const remove = addLogSink((r) => {
      if ((r.level === "ERROR" || r.level === "CRITICAL") && (r.scope === name || r.scope.startsWith(`${name}:`))) result.errors.push(r.message);
    });
    try {
      const descriptor = c.descriptor ?? (await loadDescriptor(type));
      if (!descriptor) throw new Error(notInThisBuild(type) ?? `unknown connector type "${c.entry.type}"`);
      const ctx = checkContext(loaded, c, type, stateDir, instance, services);
      await descriptor.create(c.config, ctx);
      await descriptor.prepare?.(c.config, ctx);
    } catch (e) {
      result.failure = errorText(e);
      result.thrown = e;
    } finally {
      remove();
    }
  }
  return out;
}

/**
 * A context like the gateway's, for a connector that is built but never started: it has nowhere
 * to send data (nothing runs to produce any). A gateway service the main config enables (the gRPC
 * server) is stood in for, as it is not started either.
 */
function checkContext(loaded: GatewayConfig, c: LoadedConnector, type: string, stateDir: string, instance: string | undefined, services: Set<string>): ConnectorContext {
  const name = c.entry.name;
  const standIn: GatewayService = { stop: async () => {} };
  const notRunning = () => Promise.reject(new Error("run --check does not start connectors"));
  return {
    name,
    id: c.id,
    type,
    configDir: loaded.configDir,
    dataDir: join(stateDir, "state", name.replace(/[^\w.-]+/g, "_")),
    instance,
    log: new Logger(name),
    checkOnly: true,
    entry: c.entry as Readonly<Record<string, unknown>>,
    service: <S extends GatewayService>(section: string) => (services.has(section) ? (standIn as S) : undefined),
    sendData: () => Promise.resolve("NOT_STORED"),
    addDevice: () => {},
    delDevice: () => {},
    requestAttributes: notRunning,
    sendRpcReply: () => {},
  };
}

/** Main-config sections whose gateway service `run` would start (e.g. "grpc"). */
async function enabledServices(loaded: GatewayConfig): Promise<Set<string>> {
  const sections = loaded.config as unknown as Record<string, unknown>;
  const out = new Set<string>();
  for (const [section, load] of Object.entries(serviceRegistry)) if ((await load()).service.enabled(sections[section])) out.add(section);
  return out;
}

/**
 * A problem found building a connector, placed where its message points: connectors name the entry
 * they skip as a JSON path ("mapping[3] (...) skipped", "requestsMapping.attributeRequests[0]: ...");
 * the longest such path that exists in the connector's file gives the place, else the file's start
 * (or, for inline settings, the entry in the main config).
 */
function placeOf(loaded: GatewayConfig, c: LoadedConnector, message: string): Diagnostic {
  const file = c.file ?? loaded.path;
  const base: Path = c.file ? [] : ["connectors", c.index, "configurationJson"];
  let doc: SourceDoc;
  try {
    doc = parseSource(file, new Uint8Array(readFileSync(file)));
  } catch {
    return { file, line: 1, col: 1, severity: "error", message };
  }
  const named = [...message.matchAll(/[A-Za-z_$][\w$]*(?:\[\d+\]|\.[A-Za-z_$][\w$]*)*/g)]
    .map((m) => [...m[0].matchAll(/([A-Za-z_$][\w$]*)|\[(\d+)\]/g)].map((p) => (p[2] !== undefined ? Number(p[2]) : p[1]!)))
    .map((p) => [...base, ...p])
    .filter((p) => p.length > base.length + 1 && doc.places.has(pathKey(p)))
    .sort((a, b) => b.length - a.length);
  return diagAt(doc, named[0] ?? (c.file ? [] : ["connectors", c.index, "type"]), "error", message);
}
