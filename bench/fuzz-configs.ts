// Issue #17 "Fuzzing": N mutated configs PER connector type (default 10,000) through what
// `tb-gw validate` does and, when the checker passes them, through what `tb-gw run --check` does
// (every connector built without starting it). Prints per type: cases, refused by the checker
// (each error placed at file:line:col), built, builds that reported a config error, crashes (must
// be 0: an exception out of the checker, a diagnostic without a place, a program error out of a
// build). Exit code 1 on any crash, with the first cases to replay.
// The engine is test/support/config-fuzz.ts; test/validate/build-fuzz.test.ts runs it smaller.
// Usage: bun bench/fuzz-configs.ts [--cases 10000] [--seed 20261207] [--only mqtt,modbus] [--show-build-errors]

import { setStderrLogging } from "../src/observe/logger.ts";
import { fuzzableTypes, fuzzConnectorType, type FuzzCounts } from "../test/support/config-fuzz.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const CASES = Number(opt("cases", "10000"));
const SEED = Number(opt("seed", "20261207"));
const ONLY = opt("only", "").split(",").filter(Boolean);

setStderrLogging(false); // the built connectors log what `run` would log, thousands of lines
const rows: Array<FuzzCounts & { seconds: number }> = [];
for (const { type, files } of fuzzableTypes().filter((t) => !ONLY.length || ONLY.includes(t.type))) {
  const t0 = performance.now();
  const c = await fuzzConnectorType(type, files, CASES, SEED);
  rows.push({ ...c, seconds: (performance.now() - t0) / 1000 });
  process.stdout.write(`${type.padEnd(8)} ${c.cases} cases (${files.join(", ")}): ${c.refused} refused by the checker, ${c.built} built, ${c.buildErrors} with a build error, ${c.crashes} crashes, ${rows.at(-1)!.seconds.toFixed(1)} s\n`);
  for (const r of c.crashReports) process.stdout.write(`  CRASH ${r}\n`);
  if (args.includes("--show-build-errors")) for (const m of c.buildErrorSamples) process.stdout.write(`  build error: ${m}\n`);
}
const sum = (k: "cases" | "refused" | "built" | "buildErrors" | "crashes") => rows.reduce((s, r) => s + r[k], 0).toLocaleString("en");
process.stdout.write(`\n| type | cases | refused by the checker (file:line:col) | passed, built as run --check | build reported a config error | crashes |\n|---|---|---|---|---|---|\n`);
for (const r of rows) process.stdout.write(`| ${r.type} | ${r.cases.toLocaleString("en")} | ${r.refused.toLocaleString("en")} | ${r.built.toLocaleString("en")} | ${r.buildErrors.toLocaleString("en")} | ${r.crashes} |\n`);
process.stdout.write(`| all | ${sum("cases")} | ${sum("refused")} | ${sum("built")} | ${sum("buildErrors")} | ${sum("crashes")} |\n`);
process.exit(rows.some((r) => r.crashes > 0) ? 1 : 0);
