// Recorded packets: a raw UDP "device" in this test answers with bytes written out by hand from
// ASHRAE 135 (BVLC / NPDU / APDU, application and context tags), not produced by any BACnet
// library. It rejects ReadPropertyMultiple, so the connector must fall back to ReadProperty, and
// it answers one property with an Error PDU, which must be skipped without stopping the poll.
import { expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { BacnetConnector } from "./connector.ts";
import { BacnetConfigSchema } from "./schema.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
/** BVLC Original-Unicast-NPDU (0x81 0x0a, length) + NPDU version 1, no control flags. */
const frame = (apdu: Buffer) => Buffer.concat([hex("810a"), Buffer.from([(apdu.length + 6) >> 8, (apdu.length + 6) & 255]), hex("0100"), apdu]);

// I-Am: unconfirmed (0x10) service 0; device,4711 (8<<22 | 4711 = 0x02001267), max APDU 1476,
// segmentation none (3), vendor 260.
const I_AM = frame(hex("1000 c4 02001267 22 05c4 91 03 22 0104"));

/** ReadProperty ComplexACK (0x30 id 0x0c): context 0 object id, context 1 property, [3] value [/3]. */
const rpAck = (invokeId: number, objectId: string, prop: string, value: string) => frame(hex(`30 ${invokeId.toString(16).padStart(2, "0")} 0c 0c ${objectId} 19 ${prop} 3e ${value} 3f`));

// Values, application-tagged: REAL 21.5 = 0x41ac0000; ENUMERATED 1 (active); BIT STRING with 4
// unused bits and in-alarm set; CharacterString "Boiler" (UTF-8 charset 0).
const ANSWERS: Record<string, string> = {
  "00000001:55": "44 41ac0000", // analogInput,1 presentValue
  "00000001:6f": "82 04 80", // analogInput,1 statusFlags
  "01400002:55": "91 01", // binaryValue,2 presentValue (5<<22 | 2)
  "02001267:4d": "75 07 00 426f696c6572", // device,4711 objectName "Boiler"
};

test("decodes hand-built I-Am, ReadProperty acks and errors; falls back from RPM", async () => {
  setStderrLogging(false);
  const devPort = await freeUdpPort("127.0.0.2");
  const dev = createSocket("udp4");
  const seen: string[] = [];
  dev.on("message", (msg, from) => {
    const apdu = msg.subarray(6); // BVLC 4 + NPDU 2 (the gateway sends no NPDU addresses here)
    const reply = (b: Buffer) => dev.send(b, from.port, from.address);
    if (apdu[0] === 0x10 && apdu[1] === 0x08) return reply(I_AM); // Who-Is
    if ((apdu[0]! & 0xf0) !== 0x00) return;
    const invokeId = apdu[2]!, service = apdu[3]!;
    if (service === 0x0e) {
      seen.push("rpm");
      return reply(frame(Buffer.from([0x60, invokeId, 0x09]))); // Reject: unrecognized-service
    }
    if (service !== 0x0c) return;
    // ReadProperty request: 0c <4-octet object id> 19 <1-octet property>
    const objectId = apdu.subarray(5, 9).toString("hex"), prop = apdu[10]!.toString(16).padStart(2, "0");
    seen.push(`rp ${objectId}:${prop}`);
    const value = ANSWERS[`${objectId}:${prop}`];
    if (value) return reply(rpAck(invokeId, objectId, prop, value));
    // Error PDU (0x50 id service): class property (2), code unknown-property (32).
    return reply(frame(Buffer.from([0x50, invokeId, 0x0c, 0x91, 0x02, 0x91, 0x20])));
  });
  await new Promise<void>((r) => dev.bind(devPort, "127.0.0.2", r));

  const ctx = recordingContext({ type: "bacnet" });
  const conn = new BacnetConnector(
    BacnetConfigSchema.parse({
      application: { host: "127.0.0.1", port: await freeUdpPort("127.0.0.1"), objectIdentifier: 599 },
      devices: [
        {
          deviceInfo: { deviceNameExpression: "${objectName} #${objectId} v${vendorId}" },
          host: "127.0.0.2",
          port: devPort,
          pollPeriod: 60000,
          timeseries: [
            { key: "temp", objectType: "analogInput", objectId: 1, propertyId: ["presentValue", "statusFlags", "description"] },
            { key: "pump", objectType: "binaryValue", objectId: 2, propertyId: "presentValue" },
          ],
        },
      ],
    }),
    ctx,
  );
  try {
    await conn.start();
    await ctx.waitFor((s) => s.length > 0, 8000, "first poll");
    expect(ctx.sent[0]).toEqual({
      deviceName: "Boiler #4711 v260",
      deviceType: "default",
      telemetry: [{ values: { "temp.presentValue": 21.5, "temp.statusFlags": [1, 0, 0, 0], pump: "1" } }],
    });
    expect(seen).toEqual(["rp 02001267:4d", "rpm", "rp 00000001:55", "rp 00000001:6f", "rp 00000001:1c", "rp 01400002:55"]);
  } finally {
    await conn.stop();
    dev.close();
    setStderrLogging(true);
  }
}, 15000);
