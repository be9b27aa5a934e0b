// The codec against an independent implementation: mqtt-packet (the parser/generator under
// mqtt.js) reads what we encode and generates what a broker would send us.

import { describe, expect, test } from "bun:test";
import mp from "mqtt-packet";
import {
  DISCONNECT,
  encodeAck,
  encodeConnect,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  PacketReader,
  PacketType,
  PINGREQ,
  ProtocolError,
  type IncomingPacket,
  type ProtocolVersion,
  type QoS,
} from "./codec.ts";

const VERSIONS: ProtocolVersion[] = [3, 4, 5];

/** Every packet mqtt-packet finds in `buf`; fails the test on a parse error or leftover bytes. */
function parseRef(buf: Buffer, protocolVersion: ProtocolVersion): mp.Packet[] {
  const parser = mp.parser({ protocolVersion });
  const out: mp.Packet[] = [];
  const errors: Error[] = [];
  parser.on("packet", (p) => out.push(p));
  parser.on("error", (e) => errors.push(e));
  const left = parser.parse(buf);
  expect(errors).toEqual([]);
  expect(left).toBe(0);
  return out;
}

function parseOne(buf: Buffer, v: ProtocolVersion): mp.Packet {
  const all = parseRef(buf, v);
  expect(all.length).toBe(1);
  return all[0]!;
}

/** Decodes `chunks` in order with one reader. */
function decode(v: ProtocolVersion, ...chunks: Buffer[]): IncomingPacket[] {
  const r = new PacketReader(v);
  const out: IncomingPacket[] = [];
  for (const c of chunks) r.push(c, (p) => out.push(p));
  return out;
}

function gen(p: object, v: ProtocolVersion): Buffer {
  return mp.generate(p as mp.Packet, { protocolVersion: v });
}

/** What `fn` throws (the test fails if it throws nothing). */
function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("encoding, read back by mqtt-packet", () => {
  for (const v of VERSIONS) {
    test(`CONNECT v${v} without credentials`, () => {
      const p = parseOne(encodeConnect({ version: v, clientId: "gw-1", keepaliveSeconds: 30, clean: true }), v) as mp.IConnectPacket;
      expect(p.cmd).toBe("connect");
      expect(p.protocolId).toBe(v === 3 ? "MQIsdp" : "MQTT");
      expect(p.protocolVersion).toBe(v);
      expect(p.clientId).toBe("gw-1");
      expect(p.keepalive).toBe(30);
      expect(p.clean).toBe(true);
      expect(p.username).toBeUndefined();
      expect(p.password).toBeUndefined();
      expect(p.will).toBeUndefined();
    });

    test(`CONNECT v${v} with user name and password, persistent session`, () => {
      const pass = v === 5 ? new Uint8Array([0, 1, 0xff, 0x80]) : "pässwörd";
      const buf = encodeConnect({ version: v, clientId: "dev-ä€", keepaliveSeconds: 65535, clean: false, username: "üser", password: pass, sessionExpirySeconds: 3600 });
      const p = parseOne(buf, v) as mp.IConnectPacket;
      expect(p.clientId).toBe("dev-ä€");
      expect(p.keepalive).toBe(65535);
      expect(p.clean).toBe(false);
      expect(p.username).toBe("üser");
      expect(p.password).toEqual(Buffer.from(pass));
      // session expiry is an MQTT 5 property; earlier versions have nowhere to put it
      if (v === 5) expect(p.properties?.sessionExpiryInterval).toBe(3600);
      else expect(p.properties).toBeUndefined();
    });
  }

  test("CONNECT v5 without session expiry carries no properties", () => {
    const p = parseOne(encodeConnect({ version: 5, clientId: "x", keepaliveSeconds: 0, clean: true }), 5) as mp.IConnectPacket;
    expect(p.properties?.sessionExpiryInterval).toBeUndefined();
    expect(p.keepalive).toBe(0);
  });

  test("CONNECT v5 with only a password (allowed in 5, not in 3.1.1)", () => {
    const p = parseOne(encodeConnect({ version: 5, clientId: "x", keepaliveSeconds: 10, clean: true, password: "secret" }), 5) as mp.IConnectPacket;
    expect(p.username).toBeUndefined();
    expect(p.password?.toString()).toBe("secret");
  });

  const topics = ["v1/devices/me/telemetry", "sensors/Wärme/温度/🌡", ""];
  const payloads: Array<[string, string | Uint8Array]> = [
    ["string", '{"temperature":21.5,"ort":"Küche ✓"}'],
    ["binary", new Uint8Array([0, 0xff, 0x80, 0x7f, 0xc3, 0x28, 10, 13])],
    ["empty", ""],
    ["64 KB binary", new Uint8Array(65537).map((_, i) => (i * 31) & 0xff)],
  ];
  for (const v of VERSIONS) {
    for (const qos of [0, 1, 2] as QoS[]) {
      for (const [kind, payload] of payloads) {
        test(`PUBLISH v${v} QoS ${qos}, ${kind} payload`, () => {
          const topic = topics[(qos + kind.length) % 2]!;
          const buf = encodePublish(v, topic, payload, qos, qos === 1, 4242, qos === 2);
          const p = parseOne(buf, v) as mp.IPublishPacket;
          expect(p.cmd).toBe("publish");
          expect(p.topic).toBe(topic);
          expect(p.qos).toBe(qos);
          expect(p.retain).toBe(qos === 1);
          expect(p.dup).toBe(qos === 2);
          if (qos > 0) expect(p.messageId).toBe(4242);
          else expect(p.messageId).toBeUndefined();
          expect(Buffer.from(p.payload)).toEqual(Buffer.from(payload));
        });
      }
    }
  }

  test("PUBLISH QoS 0 ignores the packet id; ids at the ends of the range", () => {
    expect(encodePublish(4, "t", "p", 0, false, 7)).toEqual(encodePublish(4, "t", "p", 0, false, 0));
    for (const id of [1, 255, 256, 65535]) expect((parseOne(encodePublish(5, "t", "p", 1, false, id), 5) as mp.IPublishPacket).messageId).toBe(id);
  });

  for (const v of VERSIONS) {
    test(`SUBSCRIBE and UNSUBSCRIBE v${v}`, () => {
      const subs = [
        { topic: "a/+/c", qos: 0 as QoS },
        { topic: "sensors/温度/#", qos: 1 as QoS },
        { topic: "#", qos: 2 as QoS },
      ];
      const s = parseOne(encodeSubscribe(v, 513, subs), v) as mp.ISubscribePacket;
      expect(s.cmd).toBe("subscribe");
      expect(s.messageId).toBe(513);
      expect(s.subscriptions.map((x) => ({ topic: x.topic, qos: x.qos }))).toEqual(subs);
      const u = parseOne(encodeUnsubscribe(v, 65535, ["a/+/c", "sensors/温度/#"]), v) as mp.IUnsubscribePacket;
      expect(u.cmd).toBe("unsubscribe");
      expect(u.messageId).toBe(65535);
      expect(u.unsubscriptions).toEqual(["a/+/c", "sensors/温度/#"]);
    });

    test(`acks, PINGREQ and DISCONNECT v${v}`, () => {
      const acks = [PacketType.Puback, PacketType.Pubrec, PacketType.Pubrel, PacketType.Pubcomp] as const;
      const stream = Buffer.concat([...acks.map((t, i) => encodeAck(t, 300 + i)), PINGREQ, DISCONNECT]);
      const got = parseRef(stream, v);
      expect(got.map((p) => p.cmd)).toEqual(["puback", "pubrec", "pubrel", "pubcomp", "pingreq", "disconnect"]);
      expect(got.slice(0, 4).map((p) => p.messageId)).toEqual([300, 301, 302, 303]);
      for (const p of got.slice(0, 4)) if (v === 5) expect((p as mp.IPubackPacket).reasonCode ?? 0).toBe(0);
    });
  }
});

describe("decoding what mqtt-packet generates as a broker", () => {
  test("CONNACK 3.1.1: session present, refusal codes", () => {
    const [a, b] = decode(4, Buffer.concat([gen({ cmd: "connack", returnCode: 0, sessionPresent: true }, 4), gen({ cmd: "connack", returnCode: 5, sessionPresent: false }, 4)]));
    expect(a).toEqual({ type: PacketType.Connack, sessionPresent: true, code: 0, receiveMaximum: 65535 });
    expect(b).toMatchObject({ type: PacketType.Connack, sessionPresent: false, code: 5 });
  });

  test("CONNACK 5 with properties we use and properties we skip", () => {
    const buf = gen(
      {
        cmd: "connack",
        reasonCode: 0,
        sessionPresent: false,
        properties: {
          sessionExpiryInterval: 120,
          receiveMaximum: 20,
          maximumQoS: 1,
          retainAvailable: true,
          maximumPacketSize: 1 << 20,
          assignedClientIdentifier: "auto-ÄÖ-1",
          topicAliasMaximum: 10,
          reasonString: "willkommen ✓",
          userProperties: { region: "eu", tags: ["a", "b"] },
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifiersAvailable: false,
          sharedSubscriptionAvailable: true,
          serverKeepAlive: 25,
          responseInformation: "resp/",
          serverReference: "other:1883",
          authenticationMethod: "none",
          authenticationData: Buffer.from([1, 2, 3]),
        },
      },
      5,
    );
    expect(decode(5, buf)).toEqual([
      { type: PacketType.Connack, sessionPresent: false, code: 0, receiveMaximum: 20, serverKeepAlive: 25, assignedClientId: "auto-ÄÖ-1", reasonString: "willkommen ✓" },
    ]);
  });

  test("CONNACK 5 refusal with a reason string", () => {
    const [p] = decode(5, gen({ cmd: "connack", reasonCode: 0x87, sessionPresent: false, properties: { reasonString: "not you" } }, 5));
    expect(p).toMatchObject({ code: 0x87, reasonString: "not you", receiveMaximum: 65535 });
  });

  for (const v of VERSIONS) {
    test(`PUBLISH v${v} from the broker, QoS 0/1/2, string and binary`, () => {
      const bin = Buffer.from([0xde, 0xad, 0, 0xbe, 0xef]);
      const sent = [
        { cmd: "publish", topic: "a/温度", payload: "héllo", qos: 0, dup: false, retain: true },
        { cmd: "publish", topic: "b", payload: bin, qos: 1, messageId: 1, dup: true, retain: false },
        { cmd: "publish", topic: "c/🌡/d", payload: Buffer.alloc(0), qos: 2, messageId: 65535, dup: false, retain: false },
      ];
      const got = decode(v, Buffer.concat(sent.map((p) => gen(p, v))));
      expect(got).toEqual([
        { type: PacketType.Publish, topic: "a/温度", payload: Buffer.from("héllo"), qos: 0, retain: true, dup: false, id: 0 },
        { type: PacketType.Publish, topic: "b", payload: bin, qos: 1, retain: false, dup: true, id: 1 },
        { type: PacketType.Publish, topic: "c/🌡/d", payload: Buffer.alloc(0), qos: 2, retain: false, dup: false, id: 65535 },
      ]);
    });
  }

  test("PUBLISH 5 with request/response and other properties", () => {
    const buf = gen(
      {
        cmd: "publish",
        topic: "rpc/request/1",
        payload: '{"method":"x"}',
        qos: 1,
        messageId: 9,
        dup: false,
        retain: false,
        properties: {
          payloadFormatIndicator: true,
          messageExpiryInterval: 60,
          responseTopic: "rpc/response/1/ü",
          correlationData: Buffer.from([0, 1, 2, 0xff]),
          userProperties: { k: "v", many: ["1", "2"] },
          subscriptionIdentifier: 268435455,
          contentType: "application/json",
        },
      },
      5,
    );
    const [p] = decode(5, buf);
    expect(p).toEqual({
      type: PacketType.Publish,
      topic: "rpc/request/1",
      payload: Buffer.from('{"method":"x"}'),
      qos: 1,
      retain: false,
      dup: false,
      id: 9,
      responseTopic: "rpc/response/1/ü",
      correlationData: Buffer.from([0, 1, 2, 0xff]),
    });
  });

  test("acks 3.1.1 and 5 (with reason codes and reason strings)", () => {
    expect(decode(4, Buffer.concat([gen({ cmd: "puback", messageId: 7 }, 4), gen({ cmd: "pubrec", messageId: 8 }, 4), gen({ cmd: "pubrel", messageId: 9 }, 4), gen({ cmd: "pubcomp", messageId: 10 }, 4)]))).toEqual([
      { type: PacketType.Puback, id: 7, code: 0, reasonString: undefined },
      { type: PacketType.Pubrec, id: 8, code: 0, reasonString: undefined },
      { type: PacketType.Pubrel, id: 9, code: 0, reasonString: undefined },
      { type: PacketType.Pubcomp, id: 10, code: 0, reasonString: undefined },
    ]);
    const v5 = [
      gen({ cmd: "puback", messageId: 1, reasonCode: 0x10 }, 5),
      gen({ cmd: "puback", messageId: 2, reasonCode: 0x97, properties: { reasonString: "quota", userProperties: { a: "b" } } }, 5),
      gen({ cmd: "pubrec", messageId: 3, reasonCode: 0x80, properties: { reasonString: "nope" } }, 5),
      gen({ cmd: "pubcomp", messageId: 4, reasonCode: 0 }, 5),
    ];
    expect(decode(5, Buffer.concat(v5))).toEqual([
      { type: PacketType.Puback, id: 1, code: 0x10, reasonString: undefined },
      { type: PacketType.Puback, id: 2, code: 0x97, reasonString: "quota" },
      { type: PacketType.Pubrec, id: 3, code: 0x80, reasonString: "nope" },
      { type: PacketType.Pubcomp, id: 4, code: 0, reasonString: undefined },
    ]);
  });

  test("SUBACK, UNSUBACK, PINGRESP, DISCONNECT", () => {
    const v4 = decode(4, Buffer.concat([gen({ cmd: "suback", messageId: 5, granted: [0, 1, 2, 128] }, 4), gen({ cmd: "unsuback", messageId: 6 }, 4), gen({ cmd: "pingresp" }, 4)]));
    expect(v4).toEqual([
      { type: PacketType.Suback, id: 5, granted: [0, 1, 2, 128] },
      { type: PacketType.Unsuback, id: 6, code: 0 },
      { type: PacketType.Pingresp, code: 0 },
    ]);
    const v5 = decode(
      5,
      Buffer.concat([
        gen({ cmd: "suback", messageId: 5, granted: [2, 0x87], properties: { reasonString: "partly", userProperties: { x: "y" } } }, 5),
        gen({ cmd: "unsuback", messageId: 6, granted: [0x11], properties: { reasonString: "none" } }, 5),
        gen({ cmd: "disconnect", reasonCode: 0x8e, properties: { reasonString: "taken over", serverReference: "elsewhere" } }, 5),
      ]),
    );
    expect(v5).toEqual([
      { type: PacketType.Suback, id: 5, granted: [2, 0x87] },
      { type: PacketType.Unsuback, id: 6, code: 0x11 },
      { type: PacketType.Disconnect, code: 0x8e, reasonString: "taken over" },
    ]);
  });
});

describe("stream framing", () => {
  function brokerStream(v: ProtocolVersion): Buffer {
    const parts = [
      v === 5 ? gen({ cmd: "connack", reasonCode: 0, sessionPresent: false, properties: { receiveMaximum: 3, reasonString: "ok" } }, 5) : gen({ cmd: "connack", returnCode: 0, sessionPresent: false }, v),
      gen({ cmd: "suback", messageId: 1, granted: [1] }, v),
      gen({ cmd: "publish", topic: "t/ü", payload: "x".repeat(200), qos: 1, messageId: 2, dup: false, retain: false }, v),
      gen({ cmd: "publish", topic: "t", payload: Buffer.alloc(20000, 7), qos: 0, dup: false, retain: false }, v),
      gen({ cmd: "pingresp" }, v),
      gen({ cmd: "puback", messageId: 3 }, v),
      gen({ cmd: "publish", topic: "t/2", payload: Buffer.from([1]), qos: 2, messageId: 4, dup: false, retain: true }, v),
    ];
    return Buffer.concat(parts);
  }

  for (const v of VERSIONS) {
    test(`v${v}: one byte at a time decodes to the same packets as all at once`, () => {
      const all = brokerStream(v);
      const whole = decode(v, all);
      expect(whole.length).toBe(7);
      const bytes: Buffer[] = [];
      for (let i = 0; i < all.length; i++) bytes.push(all.subarray(i, i + 1));
      expect(decode(v, ...bytes)).toEqual(whole);
      // and cut at every position into two pieces
      for (let cut = 1; cut < 400; cut++) expect(decode(v, all.subarray(0, cut), all.subarray(cut))).toEqual(whole);
    });
  }

  test("a 3 MB PUBLISH in 64 KB chunks, between small packets", () => {
    const payload = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 13)) & 0xff;
    const stream = Buffer.concat([
      gen({ cmd: "pingresp" }, 5),
      gen({ cmd: "publish", topic: "big/ä", payload, qos: 1, messageId: 77, dup: false, retain: false, properties: { correlationData: Buffer.from("c") } }, 5),
      gen({ cmd: "puback", messageId: 78 }, 5),
    ]);
    const chunks: Buffer[] = [];
    // not aligned to the packet boundaries: the 5-byte remaining length is split too
    for (let i = 0; i < stream.length; i += 65536) chunks.push(stream.subarray(i, i + 65536));
    const got = decode(5, ...chunks);
    expect(got.map((p) => p.type)).toEqual([PacketType.Pingresp, PacketType.Publish, PacketType.Puback]);
    const pub = got[1]!;
    if (pub.type !== PacketType.Publish) throw new Error("not a publish");
    expect(pub.topic).toBe("big/ä");
    expect(pub.id).toBe(77);
    expect(pub.correlationData).toEqual(Buffer.from("c"));
    expect(pub.payload.length).toBe(payload.length);
    expect(pub.payload.equals(payload)).toBe(true);
    expect(got).toEqual(decode(5, stream));
  });

  test("our own PUBLISH of 300 KB through the reader as if echoed by a broker", () => {
    const payload = new Uint8Array(300_000).map((_, i) => i & 0xff);
    const buf = encodePublish(4, "echo/€", payload, 1, false, 12);
    const [p] = decode(4, buf.subarray(0, 3), buf.subarray(3, 1000), buf.subarray(1000));
    expect(p).toEqual({ type: PacketType.Publish, topic: "echo/€", payload: Buffer.from(payload), qos: 1, retain: false, dup: false, id: 12 });
  });
});

describe("malformed input throws ProtocolError", () => {
  // Each case is followed by a valid PINGRESP in the same chunk: a field cut short must not be
  // read from the next packet's bytes.
  const next = Buffer.from([0xd0, 0x00]);
  const cases: Array<[string, ProtocolVersion, number[]]> = [
    ["remaining length longer than 4 bytes", 4, [0x30, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ["PUBLISH with QoS 3", 4, [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]],
    ["PUBLISH whose topic is longer than the packet", 4, [0x30, 0x04, 0x00, 0x09, 0x61, 0x62]],
    ["PUBLISH v5 whose topic is longer than the packet", 5, [0x30, 0x04, 0x00, 0x09, 0x61, 0x62]],
    ["PUBLISH with no room for the topic length", 4, [0x30, 0x01, 0x00]],
    ["PUBLISH QoS 1 with no room for the packet id", 4, [0x32, 0x03, 0x00, 0x01, 0x61]],
    ["PUBLISH v5 whose property block overruns", 5, [0x30, 0x05, 0x00, 0x01, 0x61, 0x09, 0x01]],
    ["PUBLISH v5 with an unknown property", 5, [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x7f, 0x00]],
    ["PUBLISH v5 with a string property cut short", 5, [0x30, 0x07, 0x00, 0x01, 0x61, 0x03, 0x08, 0x00, 0x05]],
    ["PUBACK without its packet id", 4, [0x40, 0x01, 0x00]],
    ["PUBREC without any body", 4, [0x50, 0x00]],
    ["CONNACK of one byte", 4, [0x20, 0x01, 0x00]],
    ["SUBACK without its packet id", 4, [0x90, 0x01, 0x00]],
    ["UNSUBACK without its packet id", 5, [0xb0, 0x00]],
    ["a CONNECT from the broker", 4, [0x10, 0x00]],
    ["reserved packet type 0", 4, [0x00, 0x00]],
  ];
  for (const [name, v, bytes] of cases) {
    test(name, () => {
      const err = thrown(() => decode(v, Buffer.concat([Buffer.from(bytes), next])));
      expect(err).toBeInstanceOf(ProtocolError);
      // cut into single bytes: the same verdict
      const singles = [...bytes, ...next].map((b) => Buffer.from([b]));
      expect(thrown(() => decode(v, ...singles))).toBeInstanceOf(ProtocolError);
    });
  }

  test("random garbage throws nothing but ProtocolError", () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 3000; round++) {
      const len = 1 + Math.floor(rnd() * 40);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(rnd() * 256);
      for (const v of VERSIONS) {
        try {
          decode(v, b);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw new Error(`${(e as Error).name} for ${b.toString("hex")} (v${v}): ${(e as Error).message}`);
        }
      }
    }
  });
});
