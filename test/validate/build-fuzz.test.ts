// Mutated upstream samples, one connector type at a time, through what `validate` does and, when
// the checker passes them, through what `run --check` does: every connector built without being
// started (test/support/config-fuzz.ts). No crash, every diagnostic at a real file:line:col, no
// program error out of a build. Sized to a few seconds per type; bench/fuzz-configs.ts runs
// 10,000 per type. TB_GW_FUZZ_BUILD_CASES and TB_GW_FUZZ_SEED set the run.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { setStderrLogging } from "../../src/observe/logger.ts";
import { fuzzableTypes, fuzzConnectorType } from "../support/config-fuzz.ts";

const CASES = Number(process.env.TB_GW_FUZZ_BUILD_CASES ?? 400);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

// the built connectors log what `run` would log; thousands of lines would bury the result
beforeAll(() => setStderrLogging(false));
afterAll(() => setStderrLogging(true));

for (const { type, files } of fuzzableTypes()) {
  test(`${type}: ${CASES} mutated configs through the checker and the run --check build: no crash, no program error`, async () => {
    const c = await fuzzConnectorType(type, files, CASES, SEED);
    expect(c.crashReports).toEqual([]);
    expect(c.crashes).toBe(0);
    // the fuzz must reach both the checker's refusals and the builders
    expect(c.refused).toBeGreaterThan(CASES / 10);
    expect(c.built).toBeGreaterThan(CASES / 20);
    console.log(`${type}: ${c.cases} cases, ${c.refused} refused by the checker, ${c.built} built (${c.buildErrors} with a build error)`);
  }, 120_000);
}
