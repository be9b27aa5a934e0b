// Config fuzzing shared by test/validate/build-fuzz.test.ts and bench/fuzz-configs.ts (issue #17
// "Fuzzing"): one connector type's upstream sample, mutated (seeded) in its text or its structure,
// goes through what `validate` does (checkGatewayConfig: every diagnostic must name a real
// file:line:col) and, when the checker passes it, through what `run --check` does (every connector
// built, not started). A crash is any exception out of the checker, a diagnostic without a place,
// or a program error (TypeError, RangeError, ReferenceError, SyntaxError, an empty message) out of
// building: a config error that says what is wrong is the right answer to a bad config.

import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkGatewayConfig } from "../../src/config/load.ts";
import { hasErrors } from "../../src/config/diagnostics.ts";
import { knownConnectorTypes } from "../../src/connectors/index.ts";
import { buildConnectors } from "../../src/run/check-gateway.ts";
import { PROGRAM_ERROR_TEXT } from "./converter-fuzz.ts";
import { SAMPLES } from "./paths.ts";
import { writeSampleExtensions } from "./sample-extensions.ts";
import { seededRandom } from "./seeded-random.ts";

/** Connector types with an upstream sample, and the sample files of each. */
export function fuzzableTypes(): Array<{ type: string; files: string[] }> {
  return knownConnectorTypes()
    .map((type) => ({ type, files: [`${type}.json`, ...(type === "modbus" ? ["modbus_serial.json"] : [])].filter((f) => existsSync(join(SAMPLES, f))) }))
    .filter((t) => t.files.length > 0);
}

export interface FuzzCounts {
  type: string;
  cases: number;
  /** Cases the checker refused with at least one error (each with its file:line:col). */
  refused: number;
  /** Cases that passed the checker and were built as `run --check` builds them. */
  built: number;
  /** Of those, the ones whose build failed or logged an error: a clear config error, found by the build. */
  buildErrors: number;
  /** A few distinct build errors (the config errors only the build finds), for a reader to judge. */
  buildErrorSamples: string[];
  /** Exceptions out of the checker, diagnostics without a place, program errors out of a build. */
  crashes: number;
  /** The first few crashes, with the case to replay. */
  crashReports: string[];
}

const JUNK = ["{", "}", "[", "]", ",", ":", '"', "'", " ", "\t", "\n", "/", "#", "\\", "0", "-1", "é", "\u0000", "null", "//x\n", "1e999"];
const ODD_VALUES: unknown[] = [null, -1, 0, 65536, 1.5, "", " x ", "8883", true, false, [], {}, "a".repeat(300), "${deviceName}", 1e308, -2147483649, "(", "[", "*", "${", "\\", "0x", "é\u0000"];
/** A program error's text (converter-fuzz.ts), or a regex the checker should have refused with its place. */
const ERROR_TEXT_OF_A_BUG = new RegExp(`${PROGRAM_ERROR_TEXT.source}|Invalid regular expression`);

type Path = Array<string | number>;
const paths = (v: unknown, at: Path = []): Path[] =>
  typeof v === "object" && v !== null ? [at, ...Object.entries(v).flatMap(([k, c]) => paths(c, [...at, Array.isArray(v) ? Number(k) : k]))] : [at];

/**
 * Mutates one sample file: garbled text (most refused by the parser), odd values put in or keys
 * removed, or plausible changes (a value of the same kind taken from elsewhere in the file, a number
 * nudged) that pass the checker more often and so reach the connectors' builders.
 */
export function configMutator(seed: number, original: string): () => string {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const doc = JSON.parse(original);
  const leaves = paths(doc).filter((p) => p.length > 0);
  const strings = [...new Set(leaves.map((p) => p.reduce((o: any, k) => o[k], doc)).filter((v): v is string => typeof v === "string"))];
  const plausible = (v: unknown): unknown => {
    if (typeof v === "number") return pick([v + 1, v - 1, 0, -v, v * 1000, Math.floor(v / 2), 2 ** 31, 0.5]);
    if (typeof v === "string") return rand() < 0.7 ? pick(strings) : pick([v.toUpperCase(), v.slice(1), `${v}${v}`, "", v.replace(/[a-z]/g, "")]);
    if (typeof v === "boolean") return !v;
    if (Array.isArray(v)) return rand() < 0.5 ? [] : [...v, ...v];
    return v;
  };
  const structural = (value: any): void => {
    const p = pick(paths(value).filter((x) => x.length > 0));
    if (!p) return;
    let parent = value;
    for (const k of p.slice(0, -1)) parent = parent[k];
    const last = p[p.length - 1]!;
    const r = rand();
    if (r < 0.25 && !Array.isArray(parent)) delete parent[last];
    else if (r < 0.5) parent[last] = pick(ODD_VALUES);
    else parent[last] = plausible(parent[last]);
  };
  return () => {
    if (rand() < 0.3) {
      let text = original;
      for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
        const at = Math.floor(rand() * text.length);
        text = rand() < 0.5 ? text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 3)) : text.slice(0, at) + pick(JUNK) + text.slice(at);
      }
      return text;
    }
    const value = JSON.parse(original);
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) structural(value);
    return JSON.stringify(value, null, 2);
  };
}

/** A program error, as opposed to a connector refusing its config with a reason. */
export function isProgramError(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return true;
  return !e.message.trim() || ERROR_TEXT_OF_A_BUG.test(e.message);
}

/** `cases` mutations of one connector type's sample through the checker and the build. */
export async function fuzzConnectorType(type: string, files: string[], cases: number, seed: number): Promise<FuzzCounts> {
  const work = mkdtempSync(join(tmpdir(), `tbgw-cfgfuzz-${type}-`));
  const counts: FuzzCounts = { type, cases, refused: 0, built: 0, buildErrors: 0, crashes: 0, crashReports: [], buildErrorSamples: [] };
  const crash = (i: number, file: string, text: string, what: string) => {
    counts.crashes++;
    if (counts.crashReports.length < 5) counts.crashReports.push(`${type} case ${i} (seed ${seed}) on ${file}: ${what}\n--- ${file}:\n${text.slice(0, 1500)}`);
  };
  try {
    const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
    writeSampleExtensions(work); // the samples' custom converter classes: an unmutated sample builds cleanly
    const mutators = new Map<string, () => string>();
    files.forEach((f, k) => {
      copyFileSync(join(SAMPLES, f), join(work, f));
      mutators.set(f, configMutator(seed + k, readFileSync(join(SAMPLES, f), "utf8")));
    });
    const mainPath = join(work, "tb_gateway.json");
    const pickFile = seededRandom(seed ^ 0x5bd1e995);
    for (let i = 0; i < cases; i++) {
      const file = files[Math.floor(pickFile() * files.length)]!;
      const text = mutators.get(file)!();
      writeFileSync(join(work, file), text);
      writeFileSync(mainPath, JSON.stringify({ ...main, connectors: [{ name: `fuzzed ${type}`, type, configuration: file }] }, null, 2));
      let r;
      try {
        r = await checkGatewayConfig(mainPath, { env: {} });
      } catch (e) {
        crash(i, file, text, `the checker threw ${e instanceof Error ? e.stack : String(e)}`);
        continue;
      }
      const bad = r.diagnostics.find((d) => {
        const lines = readFileSync(d.file, "utf8").split("\n").length;
        return !(d.line >= 1 && d.line <= lines && d.col >= 1 && d.message.length > 0);
      });
      if (bad) {
        crash(i, file, text, `diagnostic without a valid place: ${JSON.stringify(bad)}`);
        continue;
      }
      if (!r.config || hasErrors(r.diagnostics)) {
        counts.refused++;
        continue;
      }
      counts.built++;
      const built = await buildConnectors({ path: r.path, configDir: r.configDir, config: r.config, connectors: r.connectors, diagnostics: r.diagnostics });
      for (const b of built) {
        if (b.failure !== undefined && isProgramError(b.thrown)) crash(i, file, text, `building threw ${b.thrown instanceof Error ? b.thrown.stack : String(b.thrown)}`);
        else if (b.errors.some((m) => ERROR_TEXT_OF_A_BUG.test(m))) crash(i, file, text, `building logged a program error: ${b.errors.join(" | ")}`);
        else if (b.failure !== undefined || b.errors.length > 0) {
          counts.buildErrors++;
          const sample = (b.failure ?? b.errors[0]!).replaceAll(work, "<configDir>").replace(/\d+/g, "N").slice(0, 160);
          if (counts.buildErrorSamples.length < 6 && !counts.buildErrorSamples.includes(sample)) counts.buildErrorSamples.push(sample);
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return counts;
}
