// convertItems merges the items of a JSON array per device, telemetry by ts (the first entry of a
// ts takes the later values). Checked against the plain scanning merge on seeded random arrays.

import { expect, test } from "bun:test";
import { seededRandom } from "../../../test/support/seeded-random.ts";
import type { ConvertedData, TelemetryEntry } from "../../core/model.ts";
import { convertItems } from "./json-mapping.ts";

/** The definition: scan the device's entries for the first one with the same ts. */
function reference(items: ConvertedData[]): ConvertedData[] {
  const byDevice = new Map<string, ConvertedData>();
  for (const d of items) {
    const into = byDevice.get(d.deviceName);
    if (!into) {
      byDevice.set(d.deviceName, d);
      continue;
    }
    if (d.attributes) into.attributes = { ...into.attributes, ...d.attributes };
    for (const e of d.telemetry ?? []) {
      into.telemetry ??= [];
      const same = into.telemetry.find((x) => x.ts === e.ts && e.ts !== undefined);
      if (same) Object.assign(same.values, e.values);
      else into.telemetry.push(e);
    }
  }
  return [...byDevice.values()];
}

function randomItems(random: () => number, n: number): ConvertedData[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const entries: TelemetryEntry[] = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
      const ts = pick([undefined, 1, 2, 3, 1_765_000_000_000 + Math.floor(random() * 50), Number.NaN]);
      const values = { [pick(["a", "b", "c"])]: i };
      return ts === undefined ? { values } : { ts, values };
    });
    const d: ConvertedData = { deviceName: pick(["A", "B", "C"]), telemetry: entries };
    if (random() < 0.2) d.attributes = { [pick(["x", "y"])]: i };
    return d;
  });
}

test("merged per device and ts exactly as the scanning merge does (random arrays with repeated, missing and NaN ts)", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const random = seededRandom(seed);
    const n = 1 + Math.floor(random() * 60);
    const fresh = () => randomItems(seededRandom(seed * 7919), n);
    expect(convertItems(fresh(), (d) => d as ConvertedData), `seed ${seed}`).toEqual(reference(fresh()));
  }
});

test("a 1,000-row array of one device keeps every row, in order, rows of the same ts merged into the first", () => {
  const items = Array.from({ length: 1000 }, (_, i) => ({ deviceName: "M", telemetry: [{ ts: 1000 + (i % 900), values: { [`k${Math.floor(i / 900)}`]: i } }] }));
  const out = convertItems(items, (d) => d as ConvertedData) as ConvertedData[];
  expect(out).toHaveLength(1);
  expect(out[0]!.telemetry!.map((e) => e.ts)).toEqual(Array.from({ length: 900 }, (_, i) => 1000 + i));
  expect(out[0]!.telemetry![5]!.values).toEqual({ k0: 5, k1: 905 });
});
