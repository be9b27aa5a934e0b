// The OPC-UA uplink converter (convertSamples → dataValueToJson → variantToJson/scalarToJson, what
// every read and subscription notification goes through) fed 10,000 random batches for the
// upstream sample's device keys (opcua.json): each value a DataValue-shaped object with a random
// data type (every node-opcua DataType, and unknown ones), array type (scalar, array, matrix),
// status code (good, bad, uncertain) and timestamps (missing, valid, invalid), whose value has the
// shape node-opcua decodes that type to or any other (null, huge numbers, bigint, Buffers, typed
// arrays, Dates, nested objects). Data only, never a program error; output serialises as storage
// writes it. Issue #17 "Fuzzing". Seeded.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DataType, NodeId, StatusCodes, VariantArrayType, type DataValue } from "node-opcua-client";
import { convertSamples } from "../../src/connectors/opcua/acquisition.ts";
import type { Device, DeviceKey, TimestampLocation } from "../../src/connectors/opcua/devices.ts";
import { OpcuaConfigSchema } from "../../src/connectors/opcua/schema.ts";
import { anyValue, checkData, isProgramError } from "../support/converter-fuzz.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

const DATA_TYPES = Object.values(DataType).filter((v): v is number => typeof v === "number");
const STATUS = [StatusCodes.Good, StatusCodes.BadNodeIdUnknown, StatusCodes.BadCommunicationError, StatusCodes.UncertainInitialValue, StatusCodes.GoodClamped, StatusCodes.BadWaitingForInitialData];
const LOCATIONS: TimestampLocation[] = ["gateway", "sourcetimestamp", "servertimestamp"];

/** What node-opcua decodes `type` to (or, a third of the time, any shape). */
function valueFor(type: number, rand: () => number): unknown {
  if (rand() < 0.33) return anyValue(rand);
  const n = () => Math.floor(rand() * 2 ** 32);
  switch (type) {
    case DataType.Boolean:
      return rand() < 0.5;
    case DataType.Int64:
    case DataType.UInt64:
      return [n(), n()];
    case DataType.Float:
    case DataType.Double:
      return [rand() * 1e6, Number.NaN, Infinity, -3.4e38, 5e-324][Math.floor(rand() * 5)];
    case DataType.String:
      return ["", "text", "é\u0000", "x".repeat(3000)][Math.floor(rand() * 4)];
    case DataType.DateTime:
      return new Date(rand() < 0.1 ? Number.NaN : n() * 1000);
    case DataType.ByteString:
      return Buffer.from([n() & 255, n() & 255]);
    case DataType.StatusCode:
      return STATUS[Math.floor(rand() * STATUS.length)];
    case DataType.LocalizedText:
      return { text: rand() < 0.2 ? null : "Room", locale: "en" };
    case DataType.QualifiedName:
      return { name: "q", namespaceIndex: 1, toString: () => "1:q" };
    case DataType.NodeId:
      return new NodeId(NodeId.NodeIdType.NUMERIC, n() & 0xffff, 2);
    case DataType.ExtensionObject:
      return { toJSON: () => ({ a: 1, big: 2n ** 64n }) };
    default:
      return n() - 2 ** 31;
  }
}

test(`OPC-UA: ${CASES} random read/notification batches through the sample device's keys: data only, never a program error`, () => {
  const config = OpcuaConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "opcua.json"), "utf8")));
  const devices: Device[] = config.mapping.map((m, i) => {
    const key = (k: { key: string; value: unknown }, section: DeviceKey["section"], j: number): DeviceKey => ({ key: k.key, section, refText: String(k.value), tsLocation: LOCATIONS[j % 3]!, missing: false });
    return { name: `device ${i}`, type: "default", nodeId: new NodeId(NodeId.NodeIdType.NUMERIC, 1000 + i, 2), mapping: m, keys: [...m.attributes.map((k, j) => key(k, "attributes", j)), ...m.timeseries.map((k, j) => key(k, "telemetry", j))] };
  });
  const keys = devices.flatMap((device) => device.keys.map((key) => ({ device, key })));
  expect(keys.length).toBeGreaterThan(3);
  const rand = seededRandom(SEED);
  const failures: string[] = [];
  let values = 0;
  for (let i = 0; i < CASES && failures.length < 5; i++) {
    const batch = Array.from({ length: 1 + Math.floor(rand() * keys.length * 2) }, () => {
      const { device, key } = keys[Math.floor(rand() * keys.length)]!;
      const dataType = rand() < 0.97 ? DATA_TYPES[Math.floor(rand() * DATA_TYPES.length)]! : Math.floor(rand() * 100);
      const arrayType = rand() < 0.7 ? VariantArrayType.Scalar : rand() < 0.8 ? VariantArrayType.Array : VariantArrayType.Matrix;
      const value =
        arrayType === VariantArrayType.Scalar
          ? valueFor(dataType, rand)
          : rand() < 0.1
            ? null
            : rand() < 0.2
              ? Float32Array.from({ length: Math.floor(rand() * 5) }, () => rand())
              : Array.from({ length: Math.floor(rand() * 5) }, () => valueFor(dataType, rand));
      const stamp = () => (rand() < 0.3 ? null : new Date(rand() < 0.1 ? Number.NaN : Math.floor(rand() * 2 ** 42)));
      const dv = { value: rand() < 0.05 ? null : { dataType, arrayType, value }, statusCode: STATUS[Math.floor(rand() * STATUS.length)]!, sourceTimestamp: stamp(), serverTimestamp: stamp() };
      return { device, key, dv: dv as unknown as DataValue };
    });
    try {
      const out = convertSamples(batch, 1_700_000_000_000);
      const bad = checkData(out);
      if (bad) failures.push(`case ${i}: ${bad}`);
      for (const d of out) values += Object.keys(d.attributes ?? {}).length + (d.telemetry ?? []).reduce((s, t) => s + Object.keys(t.values).length, 0);
    } catch (e) {
      if (isProgramError(e)) failures.push(`case ${i} (seed ${SEED}): ${e instanceof Error ? e.stack?.split("\n").slice(0, 4).join("\n") : String(e)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(values).toBeGreaterThan(CASES);
});
