// More parsers fed random, mutated and truncated input cut into random chunks (issue #17
// "Fuzzing"; parsers.test.ts has the MQTT reader, Socket framers, slcan and the Modbus slave): the
// Modbus master's RTU/ASCII serial framing and OCPP-J frames. None may throw, loop, or hand on a
// frame it did not check. Seeded.

import { expect, test } from "bun:test";
import { parseLine } from "../../src/connectors/can/slcan.ts";
import { crc16, FramedPort, lrc, type ByteStream } from "../../src/connectors/modbus/framed-port.ts";
import { parseFrame } from "../../src/connectors/ocpp/frames.ts";
import { fuzzTools } from "../support/fuzz-tools.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

test(`Modbus serial framing (RTU and ASCII): ${CASES} random and mutated answers never throw; ASCII frames handed on carry a valid CRC`, async () => {
  const { random: rand, int, bytes, mutate, chunks } = fuzzTools(SEED + 4);
  const rtu = (body: number[]) => {
    const b = Buffer.from(body);
    const c = crc16(b);
    return Buffer.concat([b, Buffer.from([c & 0xff, c >> 8])]);
  };
  const ascii = (body: number[]) => Buffer.from(`:${Buffer.from([...body, lrc(Buffer.from(body))]).toString("hex").toUpperCase()}\r\n`, "latin1");
  const bodies = [[1, 3, 4, 0, 1, 0, 2], [1, 6, 0, 1, 0, 3], [2, 0x83, 2], [1, 1, 1, 5], [1, 16, 0, 0, 0, 2]];
  for (const framing of ["rtu", "ascii"] as const) {
    let delivered = 0;
    for (let i = 0; i < CASES / 2; i++) {
      let feed: (d: Uint8Array) => void = () => {};
      const stream: ByteStream = { open: async () => {}, write: () => {}, close: async () => {}, onData: (cb) => (feed = cb), onEnd: () => {} };
      const port = new FramedPort(stream, framing);
      port.on("data", (frame: Buffer) => {
        delivered++;
        const body = frame.subarray(0, frame.length - 2);
        if (framing === "ascii") expect(frame.readUInt16LE(frame.length - 2)).toBe(crc16(body));
      });
      port.write(rtu([1, 3, 0, 0, 0, 2]));
      const good = bodies[int(bodies.length)]!;
      const answer = rand() < 0.2 ? bytes(int(80)) : rand() < 0.5 ? mutate(framing === "rtu" ? rtu(good) : ascii(good)) : framing === "rtu" ? rtu(good) : ascii(good);
      for (const c of chunks(answer)) feed(c);
    }
    expect(delivered).toBeGreaterThan(CASES / 8);
  }
});

test(`OCPP-J frames: ${CASES} random and mutated messages parse to a frame or a CALLERROR, never throw`, () => {
  const { random: rand, int, bytes, mutate } = fuzzTools(SEED + 5);
  const good = [
    '[2,"19223201","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]',
    '[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-12-07T00:00:00Z","sampledValue":[{"value":"21.5"}]}]}]',
    '[3,"19223201",{"status":"Accepted"}]',
    '[4,"2","NotImplemented","",{}]',
    '[2,"x","Heartbeat",{}]',
  ].map((s) => Buffer.from(s));
  let frames = 0;
  let errors = 0;
  for (let i = 0; i < CASES; i++) {
    const text = (rand() < 0.2 ? bytes(int(60)) : mutate(good[int(good.length)]!)).toString("utf8");
    const r = parseFrame(text);
    if ("error" in r) {
      errors++;
      expect(r.description.length).toBeGreaterThan(0);
    } else frames++;
  }
  expect(frames).toBeGreaterThan(0);
  expect(errors).toBeGreaterThan(0);
});

test("slcan: two lines run together (a lost CR) are a bad line, not the first line's frame", () => {
  // found by fuzzing: the text after the data was ignored
  expect(parseLine("t1231AAt1231BB").kind).toBe("bad");
  expect(parseLine("t1231AA1F2E")).toMatchObject({ kind: "frame" }); // with the adapter's timestamp
});
