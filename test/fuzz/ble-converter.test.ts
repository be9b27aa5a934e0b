// The BLE uplink converters (convertKeys: bytes for characteristics, hex with `compute` for
// advertisements) fed 10,000 random byte arrays (empty to 40 bytes, runs of 0x00 and 0xff) for
// every characteristic of the upstream sample (ble.json, grouped by characteristic as the
// connector reads them) and for keys of every selector shape (index, negative index, open,
// reversed and past-the-end slices) under both converter types, with and without `compute`. A key
// may be refused with a reason (a range outside the bytes); never a program error, and output
// serialises. Issue #17 "Fuzzing". Seeded.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { convertKeys, type KeyValue } from "../../src/connectors/ble/converter.ts";
import { BleConfigSchema, BleKeySchema } from "../../src/connectors/ble/schema.ts";
import { checkData, isProgramError } from "../support/converter-fuzz.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

const SELECTORS = ["[0]", "[-1]", "[39]", "[:]", "[1:3]", "[3:1]", "[-2:]", "[:-2]", "[2:]", "[0:8]", "[0:2]cm [2:]A", "x[0]y[1]z", "[]", "[0:100]"];
const COMPUTE = [undefined, "value / 10 - 40", "value * 1.8 + 32", "round(value / 3, 1)", "value % 7", "-value"];

test(`BLE: ${CASES} random byte arrays through every sample characteristic and every selector shape: data or a refused key, never a program error`, () => {
  const config = BleConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "ble.json"), "utf8")));
  // the connector converts each characteristic's value with the keys that read that characteristic
  const groups: Array<{ device: Parameters<typeof convertKeys>[0]; keys: KeyValue[] }> = [];
  for (const d of config.devices) {
    const byChar = new Map<string, KeyValue[]>();
    for (const section of ["telemetry", "attributes"] as const) for (const key of d[section]) byChar.set(key.characteristicUUID ?? "", [...(byChar.get(key.characteristicUUID ?? "") ?? []), { section, key }]);
    for (const keys of byChar.values()) groups.push({ device: { name: d.name, deviceType: d.deviceType }, keys });
  }
  const extra = (dataSourceType: "characteristic" | "advertisement"): KeyValue[] =>
    SELECTORS.flatMap((valueExpression, i) => COMPUTE.map((compute, j) => ({ section: i % 2 ? "attributes" as const : "telemetry" as const, key: BleKeySchema.parse({ key: `k${i}_${j}`, valueExpression, dataSourceType, ...(compute ? { compute } : {}) }) })));
  for (const type of [undefined, "bytes", "hex"] as const) {
    groups.push({ device: { name: `every selector (${type ?? "by source"})`, deviceType: "default", type }, keys: [...extra("characteristic"), ...extra("advertisement")] });
  }
  const rand = seededRandom(SEED);
  const failures: string[] = [];
  let values = 0;
  let refused = 0;
  for (let i = 0; i < CASES && failures.length < 5; i++) {
    const g = groups[i % groups.length]!;
    const data = Uint8Array.from({ length: Math.floor(rand() * 41) }, () => (rand() < 0.2 ? (rand() < 0.5 ? 0 : 0xff) : Math.floor(rand() * 256)));
    try {
      // a key's error is caught by the converter (that key dropped): it must still be a refusal, not a bug
      const out = convertKeys(g.device, g.keys, data, (key, e) => {
        if (isProgramError(e)) failures.push(`case ${i} key ${key} (bytes ${Buffer.from(data).toString("hex")}): ${e.stack?.split("\n").slice(0, 4).join("\n")}`);
        else refused++;
      });
      if (!out) continue;
      const bad = checkData([out]);
      if (bad) failures.push(`case ${i}: ${bad}`);
      values += Object.keys(out.attributes ?? {}).length + Object.keys(out.telemetry?.[0]?.values ?? {}).length;
    } catch (e) {
      if (isProgramError(e)) failures.push(`case ${i} (${g.device.name}, bytes ${Buffer.from(data).toString("hex")}, seed ${SEED}): ${e instanceof Error ? e.stack?.split("\n").slice(0, 4).join("\n") : String(e)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(values).toBeGreaterThan(CASES);
  expect(refused).toBeGreaterThan(0);
});
