// Every uplink converter that `validate --sample` can run (the descriptors' convertSample), fed
// fuzzed payloads with its upstream sample config: random bytes, JSON shaped like what the config
// reads (keys taken from its `${...}` templates) with wrong types, cut or garbled JSON, deep
// nesting, huge arrays, long strings. A converter may drop a payload (no data, or an Error that
// says why); it must never fail with a program error (TypeError, RangeError, stack overflow …),
// hang, or produce data the platform cannot take (a device without a name, values that are not
// JSON). Issue #17 "Fuzzing". Seeded: a failure prints the case to replay.

import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { knownConnectorTypes, loadDescriptor } from "../../src/connectors/index.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";
import { checkData, isProgramError } from "../support/converter-fuzz.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

/** Names the config reads from a payload: `${name}`, `${a.b[0]}` → a, b. */
function templateKeys(configText: string): string[] {
  const keys = new Set<string>();
  for (const m of configText.matchAll(/\$\{([^}]+)\}/g)) for (const part of m[1]!.split(/[.[\]'" ]+/)) if (/^[A-Za-z_]\w*$/.test(part)) keys.add(part);
  return [...keys];
}

/** Topics (or paths) the config's mappings listen on, wildcards filled in. */
function topicsOf(config: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, key = ""): void => {
    if (typeof v === "string" && /^(topicFilter|topic|endpoint|url|address|jid|deviceName|chargePointIdExpression)$/.test(key)) out.add(v.replace(/\+/g, "dev1").replace(/#/g, "a/b").replace(/\{[^}]*\}/g, "x"));
    else if (Array.isArray(v)) v.forEach((c) => walk(c, key));
    else if (v && typeof v === "object") for (const [k, c] of Object.entries(v)) walk(c, k);
  };
  walk(config);
  return [...out];
}

function payloads(rand: () => number, keys: string[]): () => Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const scalar = (): unknown =>
    pick<() => unknown>([
      () => Math.floor(rand() * 2 ** 32) - 2 ** 31,
      () => rand() * 1e6 - 5e5,
      () => pick([0, -0, 1e308, -1e308, 2 ** 53 + 1, 0.1]),
      () => pick(["", "x", "21.5", "true", "null", "NaN", "1e999", "${deviceName}", "é\u0000\uffff", "a".repeat(10_000)]),
      () => pick([true, false, null]),
      () => [],
      () => ({}),
    ])();
  const value = (depth: number): unknown => {
    if (depth > 3 || rand() < 0.6) return scalar();
    if (rand() < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) + 1 }, () => [pick(keys.length ? keys : ["a"]), value(depth + 1)]));
  };
  const shaped = (): Record<string, unknown> => Object.fromEntries(keys.filter(() => rand() < 0.7).map((k) => [k, value(0)]));
  const text = (s: string) => new TextEncoder().encode(s);
  return () =>
    pick<() => Uint8Array>([
      () => Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)),
      () => text(JSON.stringify(shaped())),
      () => text(JSON.stringify([shaped(), shaped()])),
      () => {
        const s = JSON.stringify(shaped());
        const at = Math.floor(rand() * s.length);
        return text(rand() < 0.5 ? s.slice(0, at) : s.slice(0, at) + pick(["{", "]", '"', ",", "\\", "\u0000"]) + s.slice(at));
      },
      () => text("[".repeat(5000 + Math.floor(rand() * 5000)) + "]".repeat(rand() < 0.5 ? 10_000 : 0)),
      () => text(`{"${pick(keys.length ? keys : ["a"])}":` + '{"a":'.repeat(2000) + "1" + "}".repeat(2001)),
      () => text(JSON.stringify(Array.from({ length: 2_000 }, (_, i) => i))),
      () => text(JSON.stringify(scalar())),
      () => text(keys.map((k) => `${k}=${String(scalar()).slice(0, 20)}`).join(rand() < 0.5 ? ";" : "&")),
      () => new Uint8Array(0),
    ])();
}

// every connector type with an upstream sample (grpc has none: its converters take protobuf messages)
// whose descriptor has convertSample; the others have their own converter fuzz beside this file
// (modbus-, bacnet-, opcua-, snmp-, ble-, knx-converter.test.ts)
const types: string[] = [];
for (const t of knownConnectorTypes()) if (existsSync(join(SAMPLES, `${t}.json`)) && (await loadDescriptor(t))?.convertSample) types.push(t);

for (const type of types) {
  const samplePath = join(SAMPLES, `${type}.json`);
  test(`${type}: ${CASES} fuzzed payloads through the sample config's converters: no program error, only well-formed data`, async () => {
    const descriptor = (await loadDescriptor(type))!;
    if (!descriptor.convertSample) throw new Error(`${type} has no convertSample`);
    const text = readFileSync(samplePath, "utf8");
    const parsed = descriptor.schema.safeParse(JSON.parse(text));
    expect(parsed.success).toBe(true);
    const config = parsed.data;
    const rand = seededRandom(SEED + type.length);
    const next = payloads(rand, templateKeys(text));
    const topics = [undefined, ...topicsOf(JSON.parse(text))];
    const failures: string[] = [];
    let converted = 0;
    for (let i = 0; i < CASES && failures.length < 5; i++) {
      const payload = next();
      const topic = topics[Math.floor(rand() * topics.length)];
      try {
        const out = await descriptor.convertSample(config, payload, { topic, configDir: SAMPLES });
        const bad = checkData(out);
        if (bad) failures.push(`case ${i} (topic ${topic}): ${bad}`);
        else if (out.length > 0) converted++;
      } catch (e) {
        if (isProgramError(e)) failures.push(`case ${i} (topic ${topic}, payload ${Buffer.from(payload).toString("latin1").slice(0, 80)}…): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split("\n").slice(1, 3).join("\n")}` : String(e)}`);
      }
    }
    expect(failures).toEqual([]);
    // the fuzzer must reach the conversion itself, not only the refusals
    console.log(`${type}: ${converted} of ${CASES} fuzzed payloads gave data`);
  }, 120_000);
}
