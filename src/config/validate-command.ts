// What `tb-gw validate` does, separate from its command-line wiring so tests can run it in-process
// (with their own connector descriptors) and the CLI stays a thin file.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ConvertedData } from "../core/model.ts";
import { ConfigError, type Diagnostic, diagnosticsToJson, formatDiagnostics } from "./diagnostics.ts";
import { resolveInstance } from "./instance.ts";
import { checkGatewayConfig, type LoadOptions } from "./load.ts";
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

/** Check the config at `path` (or the discovered one); returns the exit code. Never writes files. */
export async function runValidate(path: string | undefined, o: ValidateOptions, io: Output = stdio, load: LoadOptions = {}): Promise<number> {
  if (o.sample && !o.connector) {
    io.err("tb-gw validate: --sample needs --connector NAME (the connector whose converter to run)");
    return EXIT_USAGE;
  }
  let result;
  try {
    const instance = load.instance ?? resolveInstance(o.instance, load.env ?? process.env);
    result = await checkGatewayConfig(path, { ...load, instance, writeIds: false });
  } catch (e) {
    // No config to check (missing file or nothing discovered): a usage problem, not an invalid config.
    if (e instanceof ConfigError) io.err(formatDiagnostics(e.diagnostics, { color: o.color }));
    else io.err(`tb-gw validate: ${errorText(e)}`);
    return EXIT_USAGE;
  }
  let diags: Diagnostic[] = result.diagnostics;
  if (o.strict) diags = diags.map((d) => (d.severity === "warning" ? { ...d, severity: "error" as const, message: `${d.message} [strict]` } : d));
  if (o.quiet) diags = diags.filter((d) => d.severity === "error");
  const errors = diags.filter((d) => d.severity === "error").length;
  const warnings = diags.length - errors;

  if (o.sample) return runSample(result, diags, o, io);

  if (o.format === "json") {
    io.out(JSON.stringify({ config: result.path, valid: errors === 0, errors, warnings, connectors: result.connectors.length, diagnostics: diagnosticsToJson(diags) }, null, 2));
  } else {
    if (diags.length) io.out(formatDiagnostics(diags, { color: o.color }));
    if (!o.quiet) {
      const what = `${result.path} and ${plural(result.connectors.length, "connector config")}`;
      io.out(errors ? `${what}: ${plural(errors, "error")}, ${plural(warnings, "warning")}` : `${what}: valid${warnings ? ` (${plural(warnings, "warning")})` : ""}`);
    }
  }
  return errors ? EXIT_INVALID : EXIT_OK;
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
