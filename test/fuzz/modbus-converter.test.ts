// The Modbus uplink converter (PolledSlave's decoding, the path a real poll takes) fed 10,000 polls
// of random register and bit arrays: the upstream samples' slaves (modbus.json, modbus_serial.json)
// plus one key of every type the codec knows (sized types, legacy names, strings, bytes, bits with
// `bit`/`bitTargetType`, dividers, multipliers, variants), under all four byte/word orders. The
// fake link answers each read with random values of a random length (short, exact, long), as a
// broken device or gateway might. Every poll must give well-formed data or nothing; never a program
// error. Issue #17 "Fuzzing". Seeded: a failure names the case to replay.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ConnectorContext } from "../../src/core/connector.ts";
import type { ConvertedData } from "../../src/core/model.ts";
import { expandTemplates } from "../../src/connectors/modbus/connector.ts";
import { PolledSlave } from "../../src/connectors/modbus/device.ts";
import { ModbusConfigSchema, type SlaveConfig } from "../../src/connectors/modbus/schema.ts";
import { addLogSink, Logger, setStderrLogging } from "../../src/observe/logger.ts";
import { checkData, isProgramError, PROGRAM_ERROR_TEXT } from "../support/converter-fuzz.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

// short answers are logged as the connector logs them (once per change): thousands of lines here
beforeAll(() => setStderrLogging(false));
afterAll(() => setStderrLogging(true));

/** One key per type the codec decodes, with the options that change decoding. */
const EVERY_TYPE = [
  ...["8int", "8uint", "16int", "16uint", "16float", "32int", "32uint", "32float", "64int", "64uint", "64float"].map((type) => ({ type, objectsCount: 1 })),
  ...["int", "long", "integer", "float", "double", "uint", "unsigned", "word", "dword", "dword/integer"].flatMap((type) => [1, 2, 3, 4].map((objectsCount) => ({ type, objectsCount }))),
  { type: "string", objectsCount: 5 },
  { type: "bytes", objectsCount: 3 },
  { type: "bits", objectsCount: 16 },
  { type: "bits", objectsCount: 16, bit: 3 },
  { type: "bits", objectsCount: 8, bitTargetType: "int" },
  { type: "16int", objectsCount: 1, divider: 7 },
  { type: "32int", objectsCount: 2, multiplier: 1000 },
  { type: "64int", objectsCount: 4, multiplier: 3 },
  { type: "16uint", objectsCount: 1, variants: { "0": "off", "1": "on" } },
  { type: "32float", objectsCount: 2, round: 1 },
].map((k, i) => ({ tag: `k${i}_${k.type}`, address: i * 4, functionCode: 3, ...k }));
const BIT_KEYS = [
  { tag: "coil", type: "bits", address: 0, objectsCount: 1, functionCode: 1 },
  { tag: "coils", type: "bits", address: 1, objectsCount: 12, functionCode: 1, bitTargetType: "int" },
  { tag: "input", type: "bits", address: 0, objectsCount: 9, functionCode: 2, bit: 8 },
];

function slaves(): SlaveConfig[] {
  const out: SlaveConfig[] = [];
  for (const file of ["modbus.json", "modbus_serial.json"]) {
    const raw = JSON.parse(readFileSync(join(SAMPLES, file), "utf8"));
    out.push(...expandTemplates(ModbusConfigSchema.parse(raw).master.slaves));
    const first = raw.master.slaves[0];
    const extra = { ...first, deviceName: `every type (${file})`, attributes: [], timeseries: [...EVERY_TYPE, ...BIT_KEYS] };
    out.push(...expandTemplates(ModbusConfigSchema.parse({ ...raw, master: { slaves: [extra] } }).master.slaves));
  }
  return out;
}

test(`Modbus: ${CASES} polls of random registers and bits through every sample slave and every type, all byte orders: data or nothing, never a program error`, async () => {
  const rand = seededRandom(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const word = () => (rand() < 0.2 ? [0, 0xffff, 0x8000, 0x7fff, 0x7f80, 0xff80][int(6)]! : int(0x10000));
  /**
   * A read's answer: usually `count` items, sometimes fewer or more (our client refuses an answer
   * whose byte count does not fit the request, but the decoding must not rely on that).
   */
  const length = (count: number) => (rand() < 0.7 ? count : int(count * 2 + 2));
  const fakeClient = {
    readRegisters: async (_fc: number, _a: number, n: number) => Array.from({ length: length(n) }, word),
    readBits: async (_fc: number, _a: number, n: number) => Array.from({ length: length(n) }, () => rand() < 0.5),
  };
  const link = { request: (_unit: number, fn: (c: typeof fakeClient) => Promise<unknown>) => fn(fakeClient) };
  const sent: ConvertedData[] = [];
  const ctx = { name: "fuzz", id: "fuzz", type: "modbus", configDir: SAMPLES, dataDir: SAMPLES, log: new Logger("fuzz"), sendData: async (d: ConvertedData | ConvertedData[]) => (sent.push(...[d].flat()), "SUCCESS" as const), addDevice: () => {}, delDevice: () => {}, requestAttributes: async () => ({}), sendRpcReply: () => {} } satisfies ConnectorContext;
  const orders = ["BIG", "LITTLE"] as const;
  const polled = slaves().flatMap((cfg) => orders.flatMap((byteOrder) => orders.map((wordOrder) => new PolledSlave({ ...cfg, byteOrder, wordOrder }, link as never, ctx, ctx.log))));
  // polled by hand, without start()'s timer: mark them running
  for (const s of polled) (s as unknown as { stopped: boolean }).stopped = false;
  expect(polled.length).toBeGreaterThanOrEqual(8);
  const failures: string[] = [];
  // a key that fails to decode is caught and logged by the slave: the logged reason must not be a bug
  const removeSink = addLogSink((r) => {
    if (r.level === "ERROR" && PROGRAM_ERROR_TEXT.test(r.message)) failures.push(`logged: ${r.message}`);
  });
  let values = 0;
  for (let i = 0; i < CASES && failures.length < 5; i++) {
    const slave = polled[i % polled.length]!;
    sent.length = 0;
    try {
      await slave.pollOnce();
      const bad = checkData(sent);
      if (bad) failures.push(`case ${i} (${slave.name}, ${slave.cfg.byteOrder}/${slave.cfg.wordOrder}): ${bad}`);
      for (const d of sent) values += Object.keys(d.telemetry?.[0]?.values ?? {}).length + Object.keys(d.attributes ?? {}).length;
    } catch (e) {
      if (isProgramError(e)) failures.push(`case ${i} (${slave.name}, ${slave.cfg.byteOrder}/${slave.cfg.wordOrder}, seed ${SEED}): ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
  removeSink();
  expect(failures).toEqual([]);
  // the random answers reach the decoding itself
  expect(values).toBeGreaterThan(CASES);
}, 120_000);
