// What `tb-gw validate` does, separate from its command-line wiring so tests can run it in-process
// (with their own connector descriptors) and the CLI stays a thin file.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ConvertedData } from "../core/model.ts";
import { ConfigError, type Diagnostic, diagnosticsToJson, formatDiagnostics } from "./diagnostics.ts";
import { resolveInstance } from "./instance.ts";
import { type CheckResult, checkGatewayConfig, type LoadOptions, type PolledDevice } from "./load.ts";
import { diagAt } from "./source.ts";
import { errorText } from "../observe/logger.ts";

export interface ValidateOptions {
  format?: "text" | "json";
  strict?: boolean;
  quiet?: boolean;
  color?: boolean;
  sample?: string;
  connector?: string;
  topic?: string;
  /** Instance id (`--instance N`); TB_GW_INSTANCE when absent. */
  instance?: string;
}

export interface Output {
  out(s: string): void;
  err(s: string): void;
}

export const stdio: Output = {
  out: (s) => process.stdout.write(s.endsWith("\n") ? s : s + "\n"),
  err: (s) => process.stderr.write(s.endsWith("\n") ? s : s + "\n"),
};

export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;

/** The instance ids to check as: `--instance 1,2,3`, else TB_GW_INSTANCE, else none. */
function instanceList(flag: string | undefined, env: Record<string, string | undefined>): Array<string | undefined> {
  if (flag !== undefined && flag.includes(",")) return flag.split(",").map((id) => resolveInstance(id.trim(), {}));
  return [resolveInstance(flag, env)];
}

const label = (r: CheckResult) => `${r.path}${r.instance !== undefined ? ` (instance ${r.instance})` : ""}`;

/**
 * One device polled by two of the configs checked together (several paths, or one config as
 * several instances): a warning at the second one, naming the first. Polls within one config are
 * left alone (two entries may read different values of one device on purpose).
 */
export function duplicatePolls(results: CheckResult[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const first = new Map<string, { r: CheckResult; p: PolledDevice }>();
  for (const r of results) {
    const mine = new Set<string>();
    for (const p of r.polled) {
      const seen = first.get(p.target);
      if (seen && seen.r !== r && !mine.has(p.target)) {
        const at = diagAt(seen.p.doc, seen.p.path, "warning", "");
        out.push(
          diagAt(p.doc, p.path, "warning", `connector "${p.connector}" polls ${p.target}, and so does connector "${seen.p.connector}" of ${label(seen.r)} (${at.file}:${at.line}:${at.col}): run together, they read the device twice and send its data twice; give each instance its own device list (README "Scaling out")`),
        );
        mine.add(p.target);
      } else if (!seen) first.set(p.target, { r, p });
    }
  }
  return out;
}

/**
 * Check the config at `path` (or the discovered one); returns the exit code. Never writes files.
 * Several paths, or `--instance 1,2,3`, check each and also warn about a device two of them poll.
 */
export async function runValidate(path: string | string[] | undefined, o: ValidateOptions, io: Output = stdio, load: LoadOptions = {}): Promise<number> {
  const paths = Array.isArray(path) ? (path.length ? path : [undefined]) : [path];
  if (o.sample && !o.connector) {
    io.err("tb-gw validate: --sample needs --connector NAME (the connector whose converter to run)");
    return EXIT_USAGE;
  }
  const results: CheckResult[] = [];
  try {
    const instances = load.instance !== undefined ? [load.instance] : instanceList(o.instance, load.env ?? process.env);
    if (o.sample && paths.length * instances.length > 1) {
      io.err("tb-gw validate: --sample runs the converter of one config: give one path and at most one instance");
      return EXIT_USAGE;
    }
    for (const p of paths) for (const instance of instances) results.push(await checkGatewayConfig(p, { ...load, instance, writeIds: false }));
  } catch (e) {
    // No config to check (missing file or nothing discovered): a usage problem, not an invalid config.
    if (e instanceof ConfigError) io.err(formatDiagnostics(e.diagnostics, { color: o.color }));
    else io.err(`tb-gw validate: ${errorText(e)}`);
    return EXIT_USAGE;
  }
  const cross = results.length > 1 ? duplicatePolls(results) : [];
  const shown = new Set<string>();
  const views = results.map((result, i) => {
    let diags: Diagnostic[] = i === results.length - 1 ? [...result.diagnostics, ...cross] : result.diagnostics;
    // a file shared by several instances is reported once
    diags = diags.filter((d) => {
      const key = `${d.file}:${d.line}:${d.col}:${d.severity}:${d.message}`;
      if (shown.has(key)) return false;
      shown.add(key);
      return true;
    });
    if (o.strict) diags = diags.map((d) => (d.severity === "warning" ? { ...d, severity: "error" as const, message: `${d.message} [strict]` } : d));
    if (o.quiet) diags = diags.filter((d) => d.severity === "error");
    const errors = diags.filter((d) => d.severity === "error").length;
    return { result, diags, errors, warnings: diags.length - errors };
  });
  if (o.sample) return runSample(views[0]!.result, views[0]!.diags, o, io);

  if (o.format === "json") {
    const objs = views.map((v) => ({
      config: v.result.path,
      ...(v.result.instance !== undefined ? { instance: v.result.instance } : {}),
      valid: v.errors === 0,
      errors: v.errors,
      warnings: v.warnings,
      connectors: v.result.connectors.length,
      diagnostics: diagnosticsToJson(v.diags),
    }));
    io.out(JSON.stringify(objs.length === 1 ? objs[0] : objs, null, 2));
  } else {
    const all = views.flatMap((v) => v.diags);
    if (all.length) io.out(formatDiagnostics(all, { color: o.color }));
    if (!o.quiet)
      for (const v of views) {
        const what = `${label(v.result)} and ${plural(v.result.connectors.length, "connector config")}`;
        io.out(v.errors ? `${what}: ${plural(v.errors, "error")}, ${plural(v.warnings, "warning")}` : `${what}: valid${v.warnings ? ` (${plural(v.warnings, "warning")})` : ""}`);
      }
  }
  return views.some((v) => v.errors) ? EXIT_INVALID : EXIT_OK;
}

async function runSample(result: Awaited<ReturnType<typeof checkGatewayConfig>>, diags: Diagnostic[], o: ValidateOptions, io: Output): Promise<number> {
  const c = result.connectors.find((x) => x.entry.name === o.connector);
  if (!c) {
    const names = result.connectors.map((x) => `"${x.entry.name}"`).join(", ") || "none";
    io.err(`tb-gw validate: no connector named "${o.connector}" in ${result.path}; connectors: ${names}`);
    return EXIT_USAGE;
  }
  // Only this connector's problems matter for a dry run of its converter.
  const mine = diags.filter((d) => d.severity === "error" && (c.file ? d.file === c.file : d.file === result.path && !!d.path?.startsWith(`connectors[${c.index}]`)));
  if (c.config === undefined || mine.length) {
    io.err(formatDiagnostics(mine, { color: o.color }));
    io.err(`tb-gw validate: connector "${c.entry.name}" has config errors; fix them before trying a sample`);
    return EXIT_INVALID;
  }
  if (!c.descriptor?.convertSample) {
    io.err(`tb-gw validate: the ${c.entry.type} connector has no offline converter, so --sample cannot be used with it`);
    return EXIT_INVALID;
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(resolve(o.sample!)));
  } catch (e) {
    io.err(`tb-gw validate: cannot read sample file ${o.sample}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`);
    return EXIT_USAGE;
  }
  let data: ConvertedData[];
  try {
    data = await c.descriptor.convertSample(c.config, bytes, { topic: o.topic, configDir: result.configDir });
  } catch (e) {
    io.err(`tb-gw validate: the converter of "${c.entry.name}" failed on this sample: ${errorText(e)}`);
    return EXIT_INVALID;
  }
  if (o.format === "json") io.out(JSON.stringify(data, null, 2));
  else io.out(data.length ? data.map(describeData).join("\n") : "");
  if (!data.length) {
    io.err(`no data: the converter of "${c.entry.name}" produced nothing for this sample${o.topic ? ` on topic ${o.topic}` : ""}; check the mapping (topic filter, keys, device name)`);
    return EXIT_INVALID;
  }
  return EXIT_OK;
}

/** A readable view of what would be sent for one device. */
export function describeData(d: ConvertedData): string {
  const lines = [`device "${d.deviceName}"${d.deviceType ? ` (type ${d.deviceType})` : ""}`];
  const attrs = Object.entries(d.attributes ?? {});
  if (attrs.length) {
    lines.push("  attributes:");
    for (const [k, v] of attrs) lines.push(`    ${k} = ${JSON.stringify(v)}`);
  }
  for (const t of d.telemetry ?? []) {
    lines.push(`  telemetry${t.ts !== undefined ? ` at ${new Date(t.ts).toISOString()} (ts ${t.ts})` : " (stamped on receipt)"}:`);
    for (const [k, v] of Object.entries(t.values)) lines.push(`    ${k} = ${JSON.stringify(v)}`);
  }
  if (!attrs.length && !(d.telemetry ?? []).length) lines.push("  (no attributes or telemetry)");
  return lines.join("\n");
}
