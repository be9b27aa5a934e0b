// Packets recorded from other BACnet stacks and real devices, replayed to the connector over
// loopback. Only the bytes are taken (as data); each constant names its public source. Where a
// request needs an answer, the raw UDP "device" answers with the recorded packet, the invoke ID
// patched to the one the gateway used (the only byte changed).
import { expect, test } from "bun:test";
import { createSocket, type Socket } from "node:dgram";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { BacnetConnector } from "./connector.ts";
import { BacnetConfigSchema } from "./schema.ts";
import { BacnetSession, type CovValue } from "./session.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const SRC = "entraeiendom/bacnet-typelib, src/test/java/no/entra/bacnet/BacnetMessageParserTest.java";

// I-Am as broadcast by a device (BVLC Original-Broadcast, NPDU to DNET 0xffff): device,8,
// max APDU 1476, no segmentation, vendor 502. Source: SRC, test "bugfix".
const I_AM = hex("810b00190120ffff00ff1000c4020000082205c491032201f6");

// ReadPropertyMultiple ComplexACK (invoke 71, 1359 octets) from an "FW Series Bacnet Device" fan coil
// unit: device,8 objectName/description, units and presentValue answered with Error property /
// unknown-property, then analogValue 0..18 with objectName, description, units, presentValue.
// Source: SRC, test "parsePropertiesFoundResponse".
const RPM_ACK = hex(
  "810a054f010030470e0c020000081e294d4e75060046574643554f291c4e751800465720536572696573204261636e6574204465766963654f29755e910291205f29555e910291205f1f0c008000001e294d4e7514005549315f5a6f6e6554656d70657261747572654f291c4e750f00416e616c6f672056616c756520304f29754e915f4f29554e4441b3332c4f1f0c008000011e294d4e7519005549325f44697363686172676554656d70657261747572654f291c4e750f00416e616c6f672056616c756520314f29754e915f4f29554e4441acccf84f1f0c008000021e294d4e751300554f315f537570706c7946616e53706565644f291c4e750f00416e616c6f672056616c756520324f29754e915f4f29554e44000000004f1f0c008000031e294d4e751100554f325f436f6f6c696e6756616c76654f291c4e750f00416e616c6f672056616c756520334f29754e915f4f29554e44000000004f1f0c008000041e294d4e751100554f335f48656174696e6756616c76654f291c4e750f00416e616c6f672056616c756520344f29754e915f4f29554e4442b90d164f1f0c008000051e294d4e7512004f63637570616e6379536574706f696e744f291c4e750f00416e616c6f672056616c756520354f29754e915f4f29554e4441f000004f1f0c008000061e294d4e751400556e6f63637570616e6379536574706f696e744f291c4e750f00416e616c6f672056616c756520364f29754e915f4f29554e44415000004f1f0c008000071e294d4e751900456666656374697665436f6f6c696e67536574706f696e744f291c4e750f00416e616c6f672056616c756520374f29754e915f4f29554e4441f800004f1f0c008000081e294d4e75190045666665637469766548656174696e67536574706f696e744f291c4e750f00416e616c6f672056616c756520384f29754e915f4f29554e4441b000004f1f0c008000091e294d4e750f00416e616c6f672056616c756520394f291c4e750f00416e616c6f672056616c756520394f29754e915f4f29554e44000000004f1f0c0080000a1e294d4e751000416e616c6f672056616c75652031304f291c4e751000416e616c6f672056616c75652031304f29754e915f4f29554e44000000004f1f0c0080000b1e294d4e751000416e616c6f672056616c75652031314f291c4e751000416e616c6f672056616c75652031314f29754e915f4f29554e44000000004f1f0c0080000c1e294d4e751000416e616c6f672056616c75652031324f291c4e751000416e616c6f672056616c75652031324f29754e915f4f29554e44000000004f1f0c0080000d1e294d4e751000416e616c6f672056616c75652031334f291c4e751000416e616c6f672056616c75652031334f29754e915f4f29554e44000000004f1f0c0080000e1e294d4e751000416e616c6f672056616c75652031344f291c4e751000416e616c6f672056616c75652031344f29754e915f4f29554e44000000004f1f0c0080000f1e294d4e751000416e616c6f672056616c75652031354f291c4e751000416e616c6f672056616c75652031354f29754e915f4f29554e44000000004f1f0c008000101e294d4e751000416e616c6f672056616c75652031364f291c4e751000416e616c6f672056616c75652031364f29754e915f4f29554e44000000004f1f0c008000111e294d4e751000416e616c6f672056616c75652031374f291c4e751000416e616c6f672056616c75652031374f29754e915f4f29554e44000000004f1f0c008000121e294d4e751000416e616c6f672056616c75652031384f291c4e751000416e616c6f672056616c75652031384f29754e915f4f29554e44000000004f1f",
);

// ReadProperty ComplexACK (invoke 5): device,8 protocolServicesSupported, a 56-bit BIT STRING.
// Source: SRC, test "readPropertyServicesSupported".
const RP_ACK_SERVICES = hex("810a001b010030050c0c0200000819613e850707000bc000f8003f");

// Abort from the server (invoke 0), reason 4 = segmentation-not-supported. Source: SRC, "parseAbort".
const ABORT = hex("810a00090100710004");

// ConfirmedCOVNotification (invoke 249): process 1, device,8, analogValue,1, time remaining 0,
// presentValue REAL 0x41b9335c (23.15), statusFlags all clear. Source: SRC, "parseConfirmedCovNotification".
const COV = hex("810a002a01000005f90109011c020000082c0080000139004e09552e4441b9335c2f096f2e8204002f4f");

/** The recorded answer with its invoke ID (APDU octet 1 after a 6-octet BVLC+NPDU) set to `id`. */
function withInvokeId(packet: Buffer, id: number): Buffer {
  const b = Buffer.from(packet);
  b[7] = id;
  return b;
}

async function rawDevice(host: string, onMessage: (apdu: Buffer, reply: (b: Buffer) => void) => void): Promise<{ sock: Socket; port: number }> {
  const port = await freeUdpPort(host);
  const sock = createSocket("udp4");
  sock.on("message", (msg, from) => onMessage(msg.subarray(6), (b) => sock.send(b, from.port, from.address)));
  await new Promise<void>((r) => sock.bind(port, host, r));
  return { sock, port };
}

test("connector decodes a recorded I-Am and a recorded ReadPropertyMultiple ACK with per-property errors", async () => {
  setStderrLogging(false);
  const seen: string[] = [];
  const dev = await rawDevice("127.0.0.2", (apdu, reply) => {
    if (apdu[0] === 0x10 && apdu[1] === 0x08) return reply(I_AM); // Who-Is
    if ((apdu[0]! & 0xf0) !== 0x00) return;
    seen.push(apdu[3]!.toString(16));
    if (apdu[3] === 0x0e) reply(withInvokeId(RPM_ACK, apdu[2]!));
  });
  const ctx = recordingContext({ type: "bacnet" });
  const conn = new BacnetConnector(
    BacnetConfigSchema.parse({
      application: { host: "127.0.0.1", port: await freeUdpPort("127.0.0.1"), objectIdentifier: 599 },
      devices: [
        {
          deviceInfo: { deviceNameExpression: "FCU #${objectId} v${vendorId}" },
          host: "127.0.0.2",
          port: dev.port,
          pollPeriod: 60000,
          attributes: [
            { key: "name", objectType: "device", objectId: 8, propertyId: "objectName" },
            { key: "about", objectType: "device", objectId: 8, propertyId: "description" },
            { key: "units", objectType: "device", objectId: 8, propertyId: "units" },
          ],
          timeseries: [
            { key: "zone", objectType: "analogValue", objectId: 0, propertyId: ["presentValue", "objectName"] },
            { key: "discharge", objectType: "analogValue", objectId: 1, propertyId: "presentValue" },
            { key: "heatingValve", objectType: "analogValue", objectId: 4, propertyId: "presentValue" },
            { key: "occupiedSetpoint", objectType: "analogValue", objectId: 5, propertyId: "presentValue" },
          ],
        },
      ],
    }),
    ctx,
  );
  try {
    await conn.start();
    await ctx.waitFor((s) => s.length > 0, 8000, "first poll");
    expect(ctx.sent[0]!.deviceName).toBe("FCU #8 v502");
    expect(ctx.sent[0]!.attributes).toEqual({ name: "FWFCU", about: "FW Series Bacnet Device" });
    expect(ctx.sent[0]!.telemetry).toEqual([
      { values: { "zone.presentValue": 22.4, "zone.objectName": "UI1_ZoneTemperature", discharge: 21.6, heatingValve: 92.53, occupiedSetpoint: 30 } },
    ]);
    expect(seen).toEqual(["e"]); // one ReadPropertyMultiple, no fallback to ReadProperty
  } finally {
    await conn.stop();
    dev.sock.close();
    setStderrLogging(true);
  }
}, 15000);

test("session decodes a recorded ReadProperty ACK (bit string) and a recorded Abort", async () => {
  let answer = RP_ACK_SERVICES;
  const dev = await rawDevice("127.0.0.2", (apdu, reply) => {
    if ((apdu[0]! & 0xf0) === 0x00 && apdu[3] === 0x0c) reply(withInvokeId(answer, apdu[2]!));
  });
  const s = new BacnetSession("127.0.0.1", 0, "127.255.255.255", 2000);
  await s.open();
  try {
    const ref = { objectType: 8, instance: 8, propertyId: 97 };
    const v = await s.readProperty(`127.0.0.2:${dev.port}`, ref);
    expect(v).toHaveLength(1);
    expect(v[0]!.type).toBe(8); // BIT STRING
    const bits = v[0]!.value as { bitsUsed: number; value: number[] };
    expect(bits.bitsUsed).toBe(41); // 7 octets: the unused-bit count (7), then 6 octets of bits
    // The stack keeps BACnet bit n in bit (n % 8), counted from the least significant end, of octet n / 8.
    const set = Array.from({ length: bits.bitsUsed }, (_, n) => n).filter((n) => (bits.value[n >> 3]! >> (n & 7)) & 1);
    // readProperty 12, readPropertyMultiple 14, writeProperty 15, writePropertyMultiple 16,
    // deviceCommunicationControl 17, then 32..36 (timeSynchronization, who-Has, who-Is, readRange,
    // utcTimeSynchronization).
    expect(set).toEqual([12, 14, 15, 16, 17, 32, 33, 34, 35, 36]);
    answer = ABORT;
    await expect(s.readProperty(`127.0.0.2:${dev.port}`, ref)).rejects.toThrow(/BacnetAbort - Reason:4/);
  } finally {
    s.close();
    dev.sock.close();
  }
}, 10000);

test("session decodes a recorded confirmed COV notification and acknowledges it", async () => {
  let gotAck!: (apdu: Buffer) => void;
  const ack = new Promise<Buffer>((r) => (gotAck = r));
  const dev = await rawDevice("127.0.0.2", (apdu) => gotAck(Buffer.from(apdu)));
  const gwPort = await freeUdpPort("127.0.0.1");
  const s = new BacnetSession("127.0.0.1", gwPort, "127.255.255.255", 2000);
  await s.open();
  try {
    const got = new Promise<CovValue>((resolve) => s.onCov(resolve));
    dev.sock.send(COV, gwPort, "127.0.0.1");
    const cov = await got;
    expect(cov).toMatchObject({ subscriberProcessId: 1, deviceId: 8, objectType: 2, instance: 1, address: `127.0.0.2:${dev.port}` });
    const byProp = Object.fromEntries(cov.values.map((x) => [x.propertyId, x.values]));
    expect(byProp[85]![0]!.type).toBe(4); // REAL
    expect(byProp[85]![0]!.value as number).toBeCloseTo(23.15, 3);
    expect(byProp[111]![0]!.type).toBe(8); // statusFlags BIT STRING
    expect((byProp[111]![0]!.value as { value: number[] }).value).toEqual([0]);
    // SimpleACK (0x20) for invoke 249, service 1.
    expect([...(await ack).subarray(0, 3)]).toEqual([0x20, 0xf9, 0x01]);
  } finally {
    s.close();
    dev.sock.close();
  }
}, 10000);

// I-Am broadcast by a device running the CAS BACnet Stack (Chipkin), as logged in the example
// output of chipkin/BACnetServerExampleNodeJS, README.md: device,389001, max APDU 1476, no
// segmentation, vendor 389.
const CAS_I_AM = hex("810b00190120ffff00ff1000c40205ef892205c49103220185");

test("session decodes a recorded I-Am of the CAS BACnet Stack", async () => {
  const dev = await rawDevice("127.0.0.2", () => {});
  const gwPort = await freeUdpPort("127.0.0.1");
  const s = new BacnetSession("127.0.0.1", gwPort, "127.255.255.255", 2000);
  await s.open();
  try {
    const got = new Promise((resolve) => s.onIAm(resolve));
    dev.sock.send(CAS_I_AM, gwPort, "127.0.0.1");
    expect(await got).toMatchObject({ address: `127.0.0.2:${dev.port}`, deviceId: 389001, maxApdu: 1476, segmentation: 3, vendorId: 389 });
  } finally {
    s.close();
    dev.sock.close();
  }
}, 10000);
