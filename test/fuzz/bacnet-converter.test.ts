// The BACnet uplink converter (convertResults / toTbValue, what a poll's ReadPropertyMultiple
// answer goes through) fed 10,000 random poll answers for the upstream sample's device plus items
// that ask for every property ("*"), lists of properties, every object of a type and key templates:
// each property answered with 0-3 values of a random application tag (every tag the client library
// decodes, and unknown ones) whose value has the shape that tag decodes to or any other (null,
// huge numbers, NaN, Buffers, invalid Dates, nested objects), as a malformed or hostile packet may
// decode. Data or a skipped property, never a program error; output serialises. Issue #17
// "Fuzzing". Seeded.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ApplicationTag as T } from "@bacnet-js/client";
import { convertResults, pollRefs, renderName, resolveItems } from "../../src/connectors/bacnet/device.ts";
import { BacnetConfigSchema } from "../../src/connectors/bacnet/schema.ts";
import type { PropertyResult } from "../../src/connectors/bacnet/session.ts";
import { Logger, setStderrLogging } from "../../src/observe/logger.ts";
import { anyValue, checkData, isProgramError } from "../support/converter-fuzz.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

beforeAll(() => setStderrLogging(false));
afterAll(() => setStderrLogging(true));

const TAGS = Object.values(T).filter((v): v is number => typeof v === "number");

/** A value of the shape the client library decodes `tag` to, or (a third of the time) any shape. */
function valueFor(tag: number, rand: () => number): unknown {
  if (rand() < 0.33) return anyValue(rand);
  const n = () => Math.floor(rand() * 2 ** 32);
  switch (tag) {
    case T.REAL:
    case T.DOUBLE:
      return [rand() * 1e6 - 5e5, Number.NaN, Infinity, 3.4e38, -0][Math.floor(rand() * 5)];
    case T.OBJECTIDENTIFIER:
      return { type: Math.floor(rand() * 70), instance: n() & 0x3fffff };
    case T.BIT_STRING:
      return { bitsUsed: Math.floor(rand() * 40), value: Array.from({ length: Math.floor(rand() * 5) }, () => Math.floor(rand() * 256)) };
    case T.DATE:
    case T.DATETIME:
    case T.TIME:
      return new Date(rand() < 0.1 ? Number.NaN : n() * 1000);
    case T.OCTET_STRING:
      return Array.from({ length: Math.floor(rand() * 8) }, () => Math.floor(rand() * 256));
    case T.ERROR:
      return { errorClass: Math.floor(rand() * 8), errorCode: Math.floor(rand() * 200) };
    case T.OBJECT_PROPERTY_REFERENCE:
    case T.DEVICE_OBJECT_PROPERTY_REFERENCE:
      return { objectId: rand() < 0.8 ? { type: Math.floor(rand() * 70), instance: n() } : undefined, id: rand() < 0.8 ? Math.floor(rand() * 500) : undefined, arrayIndex: rand() < 0.5 ? 0xffffffff : n() };
    case T.CHARACTER_STRING:
      return ["", "Room 1", "é\u0000", "x".repeat(2000)][Math.floor(rand() * 4)];
    default:
      return n();
  }
}

test(`BACnet: ${CASES} random poll answers through the sample device's items and every item shape: data or skipped properties, never a program error`, () => {
  const sample = JSON.parse(readFileSync(join(SAMPLES, "bacnet.json"), "utf8"));
  const wide = {
    ...sample.devices[0],
    attributes: [
      { key: "name", objectType: "device", objectId: 1, propertyId: "objectName" },
      { key: "${objectName}", objectType: "analogValue", objectId: "*", propertyId: "presentValue" },
      { key: "all", objectType: "multiStateValue", objectId: 2, propertyId: "*" },
    ],
    timeseries: [
      { key: "several", objectType: "analogOutput", objectId: "1-3", propertyId: ["presentValue", "statusFlags", "priorityArray", "units"] },
      { key: "bin", objectType: "binaryInput", objectId: [1, 2], propertyId: "presentValue" },
    ],
  };
  const config = BacnetConfigSchema.parse({ ...sample, devices: [...sample.devices, wide] });
  const log = new Logger("fuzz");
  const objectList = [0, 1, 2, 3, 4, 5, 19].flatMap((type) => [1, 2, 3].map((instance) => ({ type, instance })));
  const devices = config.devices.map((d, i) => ({ items: resolveItems(d, 100 + i, objectList, log), name: renderName(d.deviceInfo.deviceNameExpression, { objectName: `dev${i}`, objectId: 100 + i }) }));
  expect(devices.every((d) => d.items.length > 0)).toBe(true);
  const rand = seededRandom(SEED);
  const failures: string[] = [];
  let values = 0;
  let skipped = 0;
  for (let i = 0; i < CASES && failures.length < 5; i++) {
    const d = devices[i % devices.length]!;
    const refs = pollRefs(d.items);
    const results: PropertyResult[] = [];
    for (const ref of refs) {
      if (rand() < 0.1) continue; // not answered
      const count = rand() < 0.7 ? 1 : Math.floor(rand() * 4);
      const tag = () => (rand() < 0.95 ? TAGS[Math.floor(rand() * TAGS.length)]! : Math.floor(rand() * 300));
      results.push({ ...ref, values: Array.from({ length: count }, () => ((t) => ({ type: t, value: valueFor(t, rand) }))(tag())) });
      // properties of "*" items: any property id the device cares to answer
      if (rand() < 0.2) results.push({ ...ref, propertyId: Math.floor(rand() * 600), values: [{ type: tag(), value: anyValue(rand) }] });
    }
    try {
      const out = convertResults(d.items, results, { name: d.name, type: "default" }, () => skipped++);
      const bad = checkData([out]);
      if (bad) failures.push(`case ${i}: ${bad}`);
      values += Object.keys(out.attributes ?? {}).length + Object.keys(out.telemetry?.[0]?.values ?? {}).length;
    } catch (e) {
      if (isProgramError(e)) failures.push(`case ${i} (seed ${SEED}): ${e instanceof Error ? e.stack?.split("\n").slice(0, 4).join("\n") : String(e)}\n  results: ${JSON.stringify(results, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)).slice(0, 600)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(values).toBeGreaterThan(CASES);
  expect(skipped).toBeGreaterThan(0);
});
