// The MQTT uplink converters of the upstream mqtt.json sample (its json and bytes mappings) fed
// 10,000 seeded inputs each: random bytes, random JSON shaped like the sample's messages (values
// of every type, missing and extra keys, arrays, deep nesting) and mutated sample messages. Each
// answer is converted data or a reason it was dropped; nothing throws, and what comes out is
// plain data the platform can take (JSON-serialisable, finite timestamps, a device name).

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ConvertedData } from "../../src/core/model.ts";
import { BytesUplinkConverter } from "../../src/connectors/mqtt/converters/bytes.ts";
import { JsonUplinkConverter } from "../../src/connectors/mqtt/converters/json.ts";
import { MappingSchema, type ConverterConfig } from "../../src/connectors/mqtt/schema.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 17);

const sample = JSON.parse(readFileSync(join(SAMPLES, "mqtt.json"), "utf8")) as { mapping: Array<{ topicFilter: string; converter: { type: string } }> };

/** Keys the messages use: the sample's own placeholders (${name}) and some others. */
let KEYS: string[] = [];

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [0, -1, 1e308, -1e-308, 3.5, 2 ** 53 + 1, NaN][Math.floor(r() * 7)];
    case 3:
      return ["", "42", "4.5e3", "true", "${x}", "é\u0000", "x".repeat(Math.floor(r() * 2000))][Math.floor(r() * 7)];
    case 4:
      return Math.floor(r() * 1e6);
    case 5:
      return "text";
    case 6:
      return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 6); i > 0; i--) o[KEYS[Math.floor(r() * KEYS.length)]!] = randomValue(r, depth + 1);
      return o;
    }
  }
}

function input(r: () => number): Buffer {
  const kind = Math.floor(r() * 4);
  if (kind === 0) return Buffer.from(Array.from({ length: Math.floor(r() * 100) }, () => Math.floor(r() * 256)));
  if (kind === 1) return Buffer.from(JSON.stringify(randomValue(r)) ?? "null");
  const good = JSON.stringify(Object.fromEntries(KEYS.map((k, i) => [k, k === "ts" ? 1_700_000_000_000 : i % 2 ? 42.5 : `v${Math.floor(r() * 10)}`])));
  if (kind === 2) return Buffer.from(`[${good},${JSON.stringify(randomValue(r))}]`);
  const at = Math.floor(r() * good.length);
  return Buffer.from(good.slice(0, at) + String.fromCharCode(32 + Math.floor(r() * 90)) + good.slice(at + 1));
}

function checkData(list: ConvertedData[]): void {
  for (const d of list) {
    expect(typeof d.deviceName === "string" && d.deviceName.length > 0).toBe(true);
    for (const e of d.telemetry ?? []) if (e.ts !== undefined) expect(Number.isFinite(e.ts)).toBe(true);
    // what storage will serialise (JSON.stringify may not throw: no BigInt, no cycles)
    JSON.stringify(d);
  }
}

for (const [i, m] of sample.mapping.entries()) {
  if (m.converter.type !== "json" && m.converter.type !== "bytes") continue; // custom needs upstream's Python module
  test(`mqtt.json mapping[${i}] (${m.converter.type}, ${m.topicFilter}): ${CASES} fuzzed messages`, () => {
    const config = MappingSchema.parse(m).converter as ConverterConfig;
    KEYS = [...new Set([...JSON.stringify(m).matchAll(/\$\{([\w.]+)\}/g)].map((x) => x[1]!)), "ts", "a", "b"];
    const converter = m.converter.type === "json" ? new JsonUplinkConverter(config, `mapping[${i}]`) : new BytesUplinkConverter(config, `mapping[${i}]`);
    const r = seededRandom(SEED + i);
    const topic = m.topicFilter.replace(/\+/g, "dev1").replace(/#/g, "a/b");
    let converted = 0;
    let dropped = 0;
    for (let c = 0; c < CASES; c++) {
      const payload = input(r);
      let out: ReturnType<typeof converter.convert>;
      try {
        out = converter.convert(topic, payload, 1_700_000_000_000);
        if (typeof out === "string") dropped++;
        else {
          converted++;
          checkData(out);
        }
      } catch (e) {
        throw new Error(`case ${c} (seed ${SEED}): ${JSON.stringify(payload.toString("latin1"))} threw ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
    expect(converted).toBeGreaterThan(0);
    if (m.converter.type === "json") expect(dropped).toBeGreaterThan(0);
  });
}
