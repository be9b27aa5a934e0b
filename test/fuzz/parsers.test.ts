// The binary parsers fed random, truncated and mutated input (seeded, in process): the MQTT
// client's packet reader (both protocol versions), Modbus slave request handling (RTU reader and
// PDU answers), the Socket connector's framers and the CAN slcan line reader. Each must either
// give a result or reject the input in its own terms (ProtocolError, a "bad" line, an exception
// PDU); never throw anything else, never hold more than its bound, and valid input cut at any
// point must decode the same as when it arrives whole.

import { expect, test } from "bun:test";
import { encodeAck, encodePublish, PacketReader, PacketType, ProtocolError, type IncomingPacket, type ProtocolVersion } from "../../src/common/mqtt/codec.ts";
import { LineSplitter, parseLine } from "../../src/connectors/can/slcan.ts";
import { answerPdu } from "../../src/connectors/modbus/slave-pdu.ts";
import { RtuRequestReader, rtuFrame } from "../../src/connectors/modbus/slave-serial.ts";
import { RegisterStore } from "../../src/connectors/modbus/slave-store.ts";
import { createFramer, type FramingConfig } from "../../src/connectors/socket/framing.ts";
import { fuzzTools as tools, type FuzzTools } from "../support/fuzz-tools.ts";

const CASES = Number(process.env.TB_GW_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TB_GW_FUZZ_SEED ?? 17);

/** What a broker might send: PUBLISH (QoS 0-2), PUBACK, PINGRESP, CONNACK, SUBACK. */
function validPackets(version: ProtocolVersion, t: FuzzTools): Buffer[] {
  const out: Buffer[] = [];
  for (let n = 1 + t.int(4); n > 0; n--) {
    const kind = t.int(5);
    if (kind === 0) out.push(encodePublish(version, `dev/${t.int(100)}`, t.bytes(t.int(300)), t.int(3) as 0 | 1 | 2, t.random() < 0.5, 1 + t.int(65535)));
    else if (kind === 1) out.push(encodeAck(PacketType.Puback, 1 + t.int(65535)));
    else if (kind === 2) out.push(Buffer.from([PacketType.Pingresp << 4, 0]));
    else if (kind === 3) out.push(version === 5 ? Buffer.from([0x20, 3, 0, 0, 0]) : Buffer.from([0x20, 2, 0, 0]));
    else out.push(version === 5 ? Buffer.from([0x90, 4, 0, 7, 0, 1]) : Buffer.from([0x90, 3, 0, 7, 1]));
  }
  return out;
}

/** Feed `parts` to a fresh reader: the packets, or the ProtocolError that ended the stream. */
function read(version: ProtocolVersion, parts: Buffer[]): { packets: IncomingPacket[]; error?: ProtocolError } {
  const reader = new PacketReader(version);
  const packets: IncomingPacket[] = [];
  try {
    for (const p of parts) reader.push(p, (x) => packets.push(x));
  } catch (e) {
    if (e instanceof ProtocolError) return { packets, error: e };
    throw e;
  }
  return { packets };
}

test(`MQTT packet reader: ${CASES} random, truncated and mutated streams per protocol version`, () => {
  for (const version of [4, 5] as const) {
    const t = tools(SEED + version);
    let rejected = 0;
    for (let i = 0; i < CASES; i++) {
      const valid = Buffer.concat(validPackets(version, t));
      const whole = read(version, [valid]);
      if (whole.error) throw new Error(`case ${i} v${version}: valid packets rejected: ${whole.error.message}`);
      // valid packets cut anywhere decode the same
      expect(read(version, t.chunks(valid)).packets).toEqual(whole.packets);
      const kind = t.int(3);
      const input = kind === 0 ? t.bytes(1 + t.int(200)) : kind === 1 ? valid.subarray(0, t.int(valid.length)) : t.mutate(valid);
      let r: ReturnType<typeof read>;
      try {
        r = read(version, t.chunks(input));
      } catch (e) {
        throw new Error(`case ${i} v${version} (seed ${SEED}): ${input.toString("hex")} threw ${e instanceof Error ? e.stack : String(e)}`);
      }
      if (r.error) rejected++;
    }
    // the mutations do reach the checks
    expect(rejected).toBeGreaterThan(CASES / 20);
  }
});

test(`Modbus slave: ${CASES} random and mutated request frames through the RTU reader and the PDU answers`, () => {
  const t = tools(SEED);
  const store = new RegisterStore();
  let answered = 0;
  let exceptions = 0;
  for (let i = 0; i < CASES; i++) {
    const good = rtuFrame(1 + t.int(247), Uint8Array.of(1 + t.int(6), 0, t.int(256), 0, 1 + t.int(10)));
    const input = t.int(2) ? t.bytes(1 + t.int(300)) : t.mutate(Buffer.from(good));
    const frames: Uint8Array[] = [];
    const reader = new RtuRequestReader(1_000_000, (f) => frames.push(f.pdu), () => {});
    try {
      for (const c of t.chunks(input)) reader.push(c);
      reader.push(good);
      for (const pdu of [...frames, t.bytes(t.int(260))]) {
        const a = answerPdu(store, pdu);
        expect(a.response.length).toBeGreaterThan(0);
        expect(a.response.length).toBeLessThanOrEqual(253);
        if (a.response[0]! & 0x80) exceptions++;
        else answered++;
      }
    } catch (e) {
      throw new Error(`case ${i} (seed ${SEED}): ${Buffer.from(input).toString("hex")} threw ${e instanceof Error ? e.stack : String(e)}`);
    } finally {
      reader.stop();
    }
  }
  expect(answered).toBeGreaterThan(0);
  expect(exceptions).toBeGreaterThan(0);
});

test(`Socket framers: ${CASES} random streams per framing keep their bounds and lose no byte they keep`, () => {
  const t = tools(SEED);
  const configs: FramingConfig[] = [
    { type: "none" },
    { type: "delimiter", delimiter: Buffer.from("\r\n"), includeDelimiter: false },
    { type: "delimiter", delimiter: Buffer.from([0x7e]), includeDelimiter: true },
    { type: "fixed", length: 7 },
  ];
  const max = 64;
  for (const cfg of configs) {
    const framer = createFramer(cfg, max);
    let total = 0;
    let framed = 0;
    for (let i = 0; i < CASES; i++) {
      const input = t.int(4) === 0 ? Buffer.from(`${"x".repeat(t.int(100))}\r\n~`) : t.bytes(t.int(200));
      total += input.length;
      for (const c of t.chunks(input)) {
        framer.push(c, {
          frame: (b) => {
            framed += b.length;
            if (cfg.type === "fixed") expect(b.length).toBe(7);
            else expect(b.length).toBeLessThanOrEqual(max + (cfg.type === "delimiter" && cfg.includeDelimiter ? cfg.delimiter.length : 0));
          },
          oversize: () => {},
        });
        expect(framer.pending).toBeLessThanOrEqual(max + 2);
      }
    }
    // none and fixed hand on every byte (fixed keeps less than one frame back)
    if (cfg.type === "none") expect(framed).toBe(total);
    if (cfg.type === "fixed") expect(total - framed).toBe(framer.pending);
  }
});

test(`CAN slcan: ${CASES} random and mutated byte streams through the line reader and parser`, () => {
  const t = tools(SEED);
  let frames = 0;
  let bad = 0;
  for (let i = 0; i < CASES; i++) {
    const good = `t${t.int(0x800).toString(16).padStart(3, "0")}8${t.bytes(8).toString("hex")}\r`;
    const input = t.int(2) ? t.bytes(1 + t.int(400)) : t.mutate(Buffer.from(`${good}T1234567F4DEADBEEF\rd1239${t.bytes(12).toString("hex")}\r\x07`));
    const splitter = new LineSplitter((text, bell) => {
      expect(text.length).toBeLessThanOrEqual(LineSplitter.MAX_LINE + 400);
      const l = parseLine(text, bell);
      if (l.kind === "frame") {
        frames++;
        expect(l.frame.data.length).toBeLessThanOrEqual(64);
        expect(l.frame.id).toBeLessThan(2 ** 32);
      } else if (l.kind === "bad") bad++;
    });
    try {
      for (const c of t.chunks(input)) splitter.push(c);
    } catch (e) {
      throw new Error(`case ${i} (seed ${SEED}): ${input.toString("hex")} threw ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
  expect(frames).toBeGreaterThan(0);
  expect(bad).toBeGreaterThan(0);
});
