// The SNMP uplink conversion (SnmpClient.execute's decoding of varbinds, table rows, then the
// built-in converter toConvertedData), fed 10,000 polls of the upstream sample's devices
// (snmp.json: get, multiget, getnext, walk, multiwalk, bulkwalk, bulkget, table) through a fake
// net-snmp session that answers each request with random varbinds: every ObjectType and the
// exception types, values of the shape net-snmp decodes that type to (Buffers for strings and
// Counter64, numbers) or any other (null, bigint, NaN, Dates, nested objects), OIDs inside and
// outside the asked subtree, fewer or more varbinds than asked. Data only, never a program error;
// output serialises. Issue #17 "Fuzzing". Seeded.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import snmp from "net-snmp";
import { SnmpClient, type SnmpResult } from "../../src/connectors/snmp/client.ts";
import { toConvertedData, type PollResponses } from "../../src/connectors/snmp/converter.ts";
import { SnmpConfigSchema } from "../../src/connectors/snmp/schema.ts";
import { anyValue, checkData, isProgramError } from "../support/converter-fuzz.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

const TYPES = Object.values(snmp.ObjectType).filter((v, i, all): v is number => typeof v === "number" && all.indexOf(v) === i);

test(`SNMP: ${CASES} polls of the sample devices answered with random varbinds: data only, never a program error`, async () => {
  const config = SnmpConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "snmp.json"), "utf8")));
  const rand = seededRandom(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const valueFor = (type: number): unknown => {
    if (rand() < 0.3) return anyValue(rand);
    switch (type) {
      case snmp.ObjectType.OctetString:
      case snmp.ObjectType.Opaque:
      case snmp.ObjectType.BitString:
        return rand() < 0.5 ? Buffer.from("eth0 up") : Buffer.from(Array.from({ length: int(12) }, () => int(256)));
      case snmp.ObjectType.Counter64:
        return Buffer.from(Array.from({ length: int(10) }, () => int(256)));
      case snmp.ObjectType.OID:
      case snmp.ObjectType.IpAddress:
        return rand() < 0.5 ? "1.3.6.1.2.1" : "192.168.0.1";
      default:
        return int(2 ** 32) - 2 ** 31;
    }
  };
  const varbind = (base: string) => {
    const type = rand() < 0.95 ? TYPES[int(TYPES.length)]! : int(256);
    const oid = rand() < 0.8 ? `${base}.${rand() < 0.5 ? "1." : ""}${int(5)}.${int(3)}` : rand() < 0.5 ? "1.3.6.1.4.1.9" : "";
    return { oid, type, value: valueFor(type) };
  };
  const answer = (oids: string[]) => Array.from({ length: rand() < 0.8 ? oids.length : int(oids.length + 3) }, (_, i) => varbind(oids[i % Math.max(1, oids.length)] ?? "1.3"));
  const fake = {
    get: (oids: string[], cb: (e: Error | null, r: unknown) => void) => cb(null, answer(oids)),
    getNext: (oids: string[], cb: (e: Error | null, r: unknown) => void) => cb(null, answer(oids)),
    getBulk: (oids: string[], nonRepeaters: number, _max: number, cb: (e: Error | null, r: unknown) => void) => cb(null, [...answer(oids.slice(0, nonRepeaters)), ...oids.slice(nonRepeaters).map((o) => answer([o, o]))]),
    subtree: (oid: string, _max: number, feed: (vbs: unknown[]) => void, done: (e?: Error) => void) => {
      for (let n = int(4); n > 0; n--) feed(Array.from({ length: int(6) }, () => varbind(oid)));
      done();
    },
    close: () => {},
    on: () => {},
  };
  const clients = config.devices.map((device) => {
    const client = new SnmpClient(device);
    const inner = client as unknown as { session: { close(): void } };
    inner.session.close(); // no socket: the fake answers instead
    inner.session = fake;
    return { device, client };
  });
  const failures: string[] = [];
  let values = 0;
  try {
    for (let i = 0; i < CASES && failures.length < 5; i++) {
      const { device, client } = clients[i % clients.length]!;
      const responses: PollResponses = { attributes: {}, telemetry: {} };
      try {
        for (const section of ["attributes", "telemetry"] as const) {
          for (const key of device[section]) responses[section][key.key] = (await client.execute(key)) as SnmpResult;
        }
        const out = toConvertedData(device, responses);
        const bad = checkData([out]);
        if (bad) failures.push(`case ${i}: ${bad}`);
        values += Object.keys(out.attributes ?? {}).length + Object.keys(out.telemetry?.[0]?.values ?? {}).length;
      } catch (e) {
        if (isProgramError(e)) failures.push(`case ${i} (${device.deviceName}, seed ${SEED}): ${e instanceof Error ? e.stack?.split("\n").slice(0, 4).join("\n") : String(e)}`);
      }
    }
  } finally {
    for (const { client } of clients) client.close();
  }
  expect(failures).toEqual([]);
  expect(values).toBeGreaterThan(CASES);
});
