// The Socket and CAN uplink converters of the upstream samples (socket.json, can.json) fed 10,000
// seeded random frames each, of every length from empty to past the configured positions: data or
// nothing, never a throw, and what comes out serialises for storage.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ConvertedData } from "../../src/core/model.ts";
import { buildRoutes, convertFrame as convertCanFrame } from "../../src/connectors/can/converter.ts";
import { CanConfigSchema } from "../../src/connectors/can/schema.ts";
import { compileDevice, convertFrame as convertSocketFrame } from "../../src/connectors/socket/converter.ts";
import { SocketConfigSchema } from "../../src/connectors/socket/schema.ts";
import { SAMPLES } from "../support/paths.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 17);

function frames(seed: number, maxLength: number): () => Buffer {
  const r = seededRandom(seed);
  return () => {
    const b = Buffer.alloc(Math.floor(r() * (maxLength + 1)));
    for (let i = 0; i < b.length; i++) b[i] = r() < 0.3 ? [0, 0xff, 0x20, 0x7b][Math.floor(r() * 4)]! : Math.floor(r() * 256);
    return b;
  };
}

const serialisable = (d: ConvertedData) => JSON.stringify(d, (_k, v) => (typeof v === "bigint" ? v.toString() : v));

test(`socket.json: ${CASES} random frames through every device's converter`, () => {
  const cfg = SocketConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "socket.json"), "utf8")));
  const rules = cfg.devices.map((d) => compileDevice(d).rule);
  const next = frames(SEED, 64);
  let converted = 0;
  for (let i = 0; i < CASES; i++) {
    const frame = next();
    for (const rule of rules) {
      try {
        const d = convertSocketFrame(rule, frame, 1_700_000_000_000);
        if (d) {
          converted++;
          serialisable(d);
        }
      } catch (e) {
        throw new Error(`case ${i} (seed ${SEED}): ${frame.toString("hex")} threw ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }
  expect(converted).toBeGreaterThan(0);
});

test(`can.json: ${CASES} random frames on every configured id`, () => {
  const routes = buildRoutes(CanConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "can.json"), "utf8"))));
  const next = frames(SEED + 1, 64);
  let converted = 0;
  for (let i = 0; i < CASES; i++) {
    const frame = next();
    for (const [id, route] of routes) {
      try {
        const r = convertCanFrame(route, Uint8Array.from(frame), 1_700_000_000_000);
        converted += r.data.length;
        for (const d of r.data) serialisable(d);
      } catch (e) {
        throw new Error(`case ${i} id ${id} (seed ${SEED}): ${frame.toString("hex")} threw ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }
  expect(converted).toBeGreaterThan(0);
});
