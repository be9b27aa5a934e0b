// The KNX uplink converter (convertPoll: device name and profile from group-address values, keys
// decoded by their datapoint type) fed 10,000 polls of random payloads (empty to 16 bytes, edge
// bytes, some addresses unanswered) for the upstream sample's device (knx.json) and for a device
// with a key of every datapoint type tb-gw decodes, including a name read from an address of every
// text and number type. Data or problems with reasons, never a program error; every device named;
// output serialises. Issue #17 "Fuzzing". Seeded.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { convertPoll, planDevice } from "../../src/connectors/knx/converter.ts";
import { DPT_NAMES } from "../../src/connectors/knx/dpt.ts";
import { KnxConfigSchema } from "../../src/connectors/knx/schema.ts";
import { checkData, PROGRAM_ERROR_TEXT } from "../support/converter-fuzz.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

test(`KNX: ${CASES} polls of random payloads through the sample device and every datapoint type: data or problems, never a program error`, () => {
  const sample = JSON.parse(readFileSync(join(SAMPLES, "knx.json"), "utf8"));
  const every = DPT_NAMES.map((type, i) => ({ type, key: `k_${type}`, groupAddress: `2/${Math.floor(i / 256)}/${i % 256}` }));
  const named = (type: string, expression: string) => ({ ...sample.devices[0], deviceInfo: { ...sample.devices[0].deviceInfo, deviceNameDataType: type, deviceNameExpression: expression }, attributes: every.slice(0, 40), timeseries: every.slice(40) });
  const nameTypes = ["string", "latin_1", "temperature", "switch", "scene_number", "4byte_signed"];
  const config = KnxConfigSchema.parse({ ...sample, devices: [...sample.devices, ...nameTypes.flatMap((t) => [named(t, "Device ${1/0/5}"), named(t, "${1/0/5}")])] });
  const plans = config.devices.map((d) => ({ plan: planDevice(d), strategy: d.reportStrategy }));
  const rand = seededRandom(SEED);
  const failures: string[] = [];
  let values = 0;
  let problems = 0;
  for (let i = 0; i < CASES && failures.length < 5; i++) {
    const { plan } = plans[i % plans.length]!;
    const answers = new Map<number, Buffer>();
    for (const ga of plan.addresses) {
      if (rand() < 0.1) continue; // no answer
      answers.set(ga.raw, Buffer.from(Array.from({ length: rand() < 0.6 ? 1 + Math.floor(rand() * 4) : Math.floor(rand() * 17) }, () => (rand() < 0.2 ? (rand() < 0.5 ? 0 : 0xff) : Math.floor(rand() * 256)))));
    }
    try {
      const r = convertPoll(plan, answers, 1_700_000_000_000);
      for (const [k, p] of r.problems) if (PROGRAM_ERROR_TEXT.test(p)) failures.push(`case ${i} problem ${k}: ${p}`);
      problems += r.problems.size;
      if (!r.data) continue;
      const bad = checkData([r.data]);
      if (bad) failures.push(`case ${i}: ${bad.slice(0, 120)} (answers ${JSON.stringify([...answers].map(([a, b]) => [a, b.toString("hex")]))})`);
      values += Object.keys(r.data.attributes ?? {}).length + Object.keys(r.data.telemetry?.[0]?.values ?? {}).length;
    } catch (e) {
      failures.push(`case ${i} (seed ${SEED}): ${e instanceof Error ? e.stack?.split("\n").slice(0, 4).join("\n") : String(e)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(values).toBeGreaterThan(CASES);
  expect(problems).toBeGreaterThan(0);
});
