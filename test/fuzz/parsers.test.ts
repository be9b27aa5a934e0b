// The project's own binary and line protocol parsers fed random, mutated and truncated input, cut
// into random chunks (issue #17 "Fuzzing"): the MQTT packet reader, slcan lines, Socket framing,
// the Modbus slave's PDU answers and the RTU/ASCII serial framing, OCPP-J frames. None may throw
// anything but its documented protocol error, loop, or hand on more than it was given. Seeded.

import { expect, test } from "bun:test";
import mp from "mqtt-packet";
import { PacketReader, ProtocolError, type ProtocolVersion } from "../../src/common/mqtt/codec.ts";
import { LineSplitter, parseLine } from "../../src/connectors/can/slcan.ts";
import { crc16, FramedPort, lrc, type ByteStream } from "../../src/connectors/modbus/framed-port.ts";
import { answerPdu } from "../../src/connectors/modbus/slave-pdu.ts";
import { RegisterStore } from "../../src/connectors/modbus/slave-store.ts";
import { parseFrame } from "../../src/connectors/ocpp/frames.ts";
import { createFramer, type FramingConfig } from "../../src/connectors/socket/framing.ts";
import { seededRandom } from "../support/seeded-random.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 20261207);

function tools(seed: number) {
  const rand = seededRandom(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  /** Flip, drop, insert or cut bytes of a valid message. */
  const mutate = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    switch (int(4)) {
      case 0:
        for (let i = 0; i < 1 + int(3); i++) if (out.length) out[int(out.length)] = int(256);
        return out;
      case 1:
        return out.subarray(0, int(out.length + 1));
      case 2: {
        const at = int(out.length + 1);
        return Buffer.concat([out.subarray(0, at), bytes(1 + int(4)), out.subarray(at)]);
      }
      default: {
        const at = int(out.length + 1);
        return Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + int(3)))]);
      }
    }
  };
  /** `b` in 1..4 random chunks. */
  const chunks = (b: Buffer): Buffer[] => {
    const cuts = Array.from({ length: int(4) }, () => int(b.length + 1)).sort((x, y) => x - y);
    const out: Buffer[] = [];
    let from = 0;
    for (const c of [...cuts, b.length]) {
      out.push(b.subarray(from, c));
      from = c;
    }
    return out;
  };
  return { rand, int, bytes, mutate, chunks };
}

test(`MQTT packet reader: ${CASES} random and mutated packet streams give packets or a ProtocolError, nothing else`, () => {
  const { rand, int, bytes, mutate, chunks } = tools(SEED);
  const samples = (v: ProtocolVersion): Buffer[] =>
    [
      { cmd: "connack", returnCode: 0, sessionPresent: false, ...(v === 5 ? { reasonCode: 0, properties: { receiveMaximum: 10, topicAliasMaximum: 5 } } : {}) },
      { cmd: "publish", topic: "v1/devices/me/rpc/request/1", payload: Buffer.from('{"method":"x"}'), qos: 1, messageId: 7, retain: false, dup: false, ...(v === 5 ? { properties: { userProperties: { a: "b" } } } : {}) },
      { cmd: "publish", topic: "a", payload: Buffer.alloc(0), qos: 0, retain: true, dup: false },
      { cmd: "puback", messageId: 9 },
      { cmd: "suback", messageId: 2, granted: [0, 1, 128] },
      { cmd: "pingresp" },
      { cmd: "unsuback", messageId: 3, ...(v === 5 ? { granted: [0] } : {}) },
    ].map((p) => mp.generate(p as mp.Packet, { protocolVersion: v }));
  let packets = 0;
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const v = ([3, 4, 5] as const)[int(3)]!;
    const good = samples(v);
    const parts: Buffer[] = [];
    for (let n = 1 + int(4); n > 0; n--) parts.push(rand() < 0.15 ? bytes(int(40)) : rand() < 0.5 ? mutate(good[int(good.length)]!) : good[int(good.length)]!);
    const reader = new PacketReader(v);
    try {
      for (const c of chunks(Buffer.concat(parts))) reader.push(c, () => packets++);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw new Error(`case ${i} (v${v}): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
      refused++;
    }
  }
  expect(packets).toBeGreaterThan(CASES / 2);
  expect(refused).toBeGreaterThan(0);
});

test(`slcan: ${CASES} random and mutated adapter streams never throw; an over-long line is never a frame`, () => {
  const { rand, int, bytes, mutate, chunks } = tools(SEED + 1);
  const good = ["t1238AABBCCDDEEFF0011\r", "T1ABCDEF0211223344\r", "r1230\r", "d1239" + "00".repeat(12) + "\r", "z\r", "\x07", "t12\r", "t7FF0\r"].map((s) => Buffer.from(s, "latin1"));
  let frames = 0;
  for (let i = 0; i < CASES; i++) {
    const split = new LineSplitter((text, bell) => {
      const r = parseLine(text, bell);
      if (r.kind === "frame") {
        frames++;
        expect(r.frame.data.length).toBeLessThanOrEqual(64);
        expect(text.length).toBeLessThanOrEqual(LineSplitter.MAX_LINE);
      }
    });
    const stream = Buffer.concat(Array.from({ length: 1 + int(5) }, () => (rand() < 0.2 ? bytes(int(300)) : rand() < 0.5 ? mutate(good[int(good.length)]!) : good[int(good.length)]!)));
    for (const c of chunks(stream)) split.push(c);
  }
  expect(frames).toBeGreaterThan(CASES / 2);
  // found by this test: two lines run together (a lost CR) passed as the first line's frame
  expect(parseLine("t1231AAt1231BB").kind).toBe("bad");
  expect(parseLine("t1231AA1F2E")).toMatchObject({ kind: "frame" }); // with the adapter's timestamp
});

test(`Socket framing: ${CASES} random streams give frames no longer than allowed and account for every byte`, () => {
  const { int, bytes, chunks } = tools(SEED + 2);
  const configs: FramingConfig[] = [
    { type: "none" },
    { type: "delimiter", delimiter: Buffer.from("\n"), includeDelimiter: false },
    { type: "delimiter", delimiter: Buffer.from("\r\n"), includeDelimiter: true },
    { type: "fixed", length: 7 },
  ];
  for (let i = 0; i < CASES; i++) {
    const cfg = configs[int(configs.length)]!;
    const max = 1 + int(64);
    const framer = createFramer(cfg, max);
    // bytes drawn mostly from the delimiter characters, so frames do form
    const stream = Buffer.from(bytes(int(400)).map((b) => (b < 40 ? 10 : b < 60 ? 13 : b)));
    let out = 0;
    let dropped = 0;
    for (const c of chunks(stream))
      framer.push(c, {
        frame: (f) => {
          out += f.length;
          if (cfg.type !== "delimiter" || !cfg.includeDelimiter) expect(f.length).toBeLessThanOrEqual(cfg.type === "fixed" ? cfg.length : max);
        },
        oversize: (n) => (dropped += n),
      });
    expect(out + dropped + framer.pending).toBeLessThanOrEqual(stream.length);
    if (cfg.type !== "delimiter") expect(out + framer.pending).toBe(stream.length);
  }
});

test(`Modbus slave: ${CASES} random and mutated PDUs get a well-formed answer or exception`, () => {
  const { rand, int, bytes, mutate } = tools(SEED + 3);
  const store = new RegisterStore();
  const good = [
    [3, 0, 0, 0, 10],
    [4, 0, 5, 0, 2],
    [1, 0, 0, 0, 16],
    [2, 0, 3, 0, 9],
    [5, 0, 1, 0xff, 0],
    [6, 0, 2, 0x12, 0x34],
    [15, 0, 0, 0, 10, 2, 0xff, 0x03],
    [16, 0, 0, 0, 2, 4, 0, 1, 0, 2],
    [43, 14, 1, 0],
  ].map((p) => Buffer.from(p));
  for (let i = 0; i < CASES; i++) {
    const pdu = rand() < 0.3 ? bytes(int(260)) : mutate(good[int(good.length)]!);
    const a = answerPdu(store, pdu);
    expect(a.response.length).toBeGreaterThanOrEqual(2);
    expect(a.response.length).toBeLessThanOrEqual(253); // a PDU never exceeds 253 bytes
    const fc = pdu[0] ?? 0;
    expect(a.response[0]! & 0x7f).toBe(fc & 0x7f);
  }
});

test(`Modbus serial framing (RTU and ASCII): ${CASES} random and mutated answers never throw; ASCII frames handed on carry a valid CRC`, async () => {
  const { rand, int, bytes, mutate, chunks } = tools(SEED + 4);
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
  const { rand, int, bytes, mutate } = tools(SEED + 5);
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
