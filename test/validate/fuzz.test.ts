// Random mutations of the upstream samples (deterministic seed): the checker must never throw and
// every diagnostic must name a real place (file, line and column inside that file).
// TB_GW_FUZZ_CASES, TB_GW_FUZZ_SEED and TB_GW_FUZZ_ONLY (files to mutate) set the run: the suite
// spreads 10,000 over every sample; TB_GW_FUZZ_ONLY=mqtt.json gives one connector type all of them.

import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { checkGatewayConfig } from "../../src/config/load.ts";
import { knownConnectorTypes } from "../../src/connectors/index.ts";
import { testDescriptors } from "./test-connector.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom as rng } from "../support/seeded-random.ts";

const REF = SAMPLES;
const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20240501);
/** Mutate only these files (e.g. "mqtt.json" for 10,000 mutations of one connector type). */
const ONLY = process.env.TB_GW_FUZZ_ONLY?.split(",").filter(Boolean);

/** mulberry32: small, fast, reproducible. */

const work = mkdtempSync(join(tmpdir(), "tbgw-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test(`${CASES} mutated configs never crash the checker and every diagnostic names a place`, async () => {
  const rand = rng(SEED);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // The main sample plus every sample whose connector type is registered, and one for the test connector.
  const known = new Set(knownConnectorTypes());
  const samples = [...known].flatMap((t) => (t === "modbus" ? [t, "modbus_serial"] : [t])).filter((s) => existsSync(join(REF, `${s}.json`)));
  const main = JSON.parse(readFileSync(join(REF, "tb_gateway.json"), "utf8"));
  main.connectors = [
    ...samples.map((s) => ({ name: s, type: s.replace("_serial", ""), configuration: `${s}.json` })),
    { name: "test", type: "testdev", configuration: "testdev.json" },
  ];
  for (const s of samples) copyFileSync(join(REF, `${s}.json`), join(work, `${s}.json`));
  writeFileSync(join(work, "testdev.json"), JSON.stringify({ listenPort: 5020, devices: [{ deviceName: "Pump", timeseries: ["t"] }] }, null, 2));
  const originals = new Map<string, string>([["tb_gateway.json", JSON.stringify(main, null, 2)], ...[...samples.map((s) => `${s}.json`), "testdev.json"].map((f) => [f, readFileSync(join(work, f), "utf8")] as [string, string])]);

  const junk = ["{", "}", "[", "]", ",", ":", '"', "'", " ", "\t", "\n", "/", "#", "\\", "0", "-1", "é", "\u0000", "null", "//x\n", "1e999"];
  const values: unknown[] = [null, -1, 0, 65536, 1.5, "", " x ", "8883", true, [], {}, "a".repeat(300), "${deviceName}", 1e308];
  const paths = (v: unknown, at: Array<string | number> = []): Array<Array<string | number>> =>
    typeof v === "object" && v !== null ? [at, ...Object.entries(v).flatMap(([k, c]) => paths(c, [...at, Array.isArray(v) ? Number(k) : k]))] : [at];
  function structural(text: string): string {
    const value = JSON.parse(text);
    const all = paths(value).filter((p) => p.length > 0);
    if (!all.length) return text;
    const p = pick(all);
    let parent = value;
    for (const k of p.slice(0, -1)) parent = parent[k];
    const last = p[p.length - 1]!;
    if (rand() < 0.5 && !Array.isArray(parent)) delete parent[last];
    else parent[last] = pick(values);
    return JSON.stringify(value, null, 2);
  }

  writeFileSync(join(work, "tb_gateway.json"), originals.get("tb_gateway.json")!);
  let diagnostics = 0;
  let crashes = 0;
  let lastFile = "";
  const ext = () => (lastFile === "tb_gateway.json" && rand() < 0.1 ? "yaml" : "json");
  for (let i = 0; i < CASES; i++) {
    if (lastFile) writeFileSync(join(work, lastFile), originals.get(lastFile)!);
    rmSync(join(work, "tb_gateway.yaml"), { force: true });
    const file = pick(ONLY ?? [...originals.keys()]);
    lastFile = file;
    let text = originals.get(file)!;
    const kind = rand() < 0.5 ? "text" : "structure";
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
      if (kind === "structure") text = structural(text);
      else {
        const at = Math.floor(rand() * text.length);
        text = rand() < 0.5 ? text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 3)) : text.slice(0, at) + pick(junk) + text.slice(at);
      }
    }
    // Mutating a connector file: list only that connector, so the run stays fast as connectors are added.
    const entry = main.connectors.find((c: { configuration: string }) => c.configuration === file);
    writeFileSync(join(work, "tb_gateway.json"), entry ? JSON.stringify({ ...main, connectors: [entry] }, null, 2) : originals.get("tb_gateway.json")!);
    let mainPath = join(work, "tb_gateway.json");
    if (file === "tb_gateway.json" && ext() === "yaml" && kind === "structure") {
      mainPath = join(work, "tb_gateway.yaml");
      writeFileSync(mainPath, toYaml(JSON.parse(text)));
    } else writeFileSync(join(work, file), text);
    try {
      const r = await checkGatewayConfig(mainPath, { env: {}, descriptors: testDescriptors });
      for (const d of r.diagnostics) {
        diagnostics++;
        const lines = readFileSync(d.file, "utf8").split("\n").length;
        if (!(d.line >= 1 && d.line <= lines && d.col >= 1 && d.message.length > 0)) {
          throw new Error(`case ${i}: diagnostic without a valid place: ${JSON.stringify(d)}\n--- ${file}\n${text}`);
        }
      }
    } catch (e) {
      crashes++;
      throw new Error(`case ${i} (seed ${SEED}) crashed the checker on ${file}: ${e instanceof Error ? e.stack : String(e)}\n--- text:\n${text.slice(0, 2000)}`);
    }
  }
  expect(crashes).toBe(0);
  // The mutations must actually break things, or the test proves nothing.
  expect(diagnostics).toBeGreaterThan(CASES / 2);
}, Math.max(60_000, CASES * 12));
