// The gateway's own device object as other BACnet tools see it: Who-Is from a raw UDP socket (bytes
// written by hand from ASHRAE 135) gets the exact I-Am bytes for the configured instance, max APDU,
// segmentation and vendor; the stack-based device process finds it with Who-Is and reads its name.
import { createSocket } from "node:dgram";
import { describe, expect, test } from "bun:test";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { hex } from "./bbmd-peer.ts";
import { BacnetConnector } from "./connector.ts";
import { startPeer, waitOutput } from "./peer-process.ts";
import { BacnetConfigSchema } from "./schema.ts";

async function gateway(app: Record<string, unknown>) {
  const port = await freeUdpPort("127.0.0.1");
  const cfg = BacnetConfigSchema.parse({ application: { objectName: "tb-gw-under-test", host: "127.0.0.1", port, objectIdentifier: 599, ...app }, devices: [] });
  return { conn: new BacnetConnector(cfg, recordingContext({ type: "bacnet" })), port };
}

/** BVLC Original-Unicast + NPDU + Who-Is, optionally with a device range (context tags 0 and 1). */
function whoIs(range?: [number, number]): Uint8Array {
  const body = [0x01, 0x00, 0x10, 0x08, ...(range ? [0x09, range[0], 0x19, range[1]] : [])];
  return Uint8Array.of(0x81, 0x0a, 0x00, 4 + body.length, ...body);
}

describe("bacnet local device object", () => {
  test("answers Who-Is with the configured I-Am, respecting the range; the bytes are exact", async () => {
    setStderrLogging(false);
    const { conn, port } = await gateway({ maxApduLengthAccepted: 480, segmentationSupported: "noSegmentation", vendorIdentifier: 15 });
    const sock = createSocket("udp4");
    const got: string[] = [];
    let notify = () => {};
    sock.on("message", (m) => {
      got.push(hex(new Uint8Array(m)));
      notify();
    });
    const next = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`expected ${n} answers, got ${got.join(" | ")}`)), 3000);
        notify = () => got.length >= n && (clearTimeout(t), resolve());
        notify();
      });
    try {
      await conn.start();
      await new Promise<void>((r) => sock.bind(0, "127.0.0.2", r));
      const send = (b: Uint8Array) => sock.send(b, port, "127.0.0.1");
      // Out of range first: 600-700 must stay unanswered, so the first answer belongs to the second Who-Is.
      send(whoIs([100, 200]));
      send(whoIs());
      await next(1);
      // 599 = 0x257 → object id 0x02000257; max APDU 480 = 0x01e0; noSegmentation = 3; vendor 15.
      expect(got[0]).toBe("81 0a 00 14 01 00 10 00 c4 02 00 02 57 22 01 e0 91 03 21 0f");
      send(whoIs([0x57, 0xff])); // 87..255 does not include 599 either
      send(whoIs([0, 0xff]));
      send(Uint8Array.of(0x81, 0x0a, 0x00, 0x0e, 0x01, 0x00, 0x10, 0x08, 0x0a, 0x02, 0x00, 0x1a, 0x02, 0x58)); // 512..600 (2-octet limits)
      await next(2);
      // ReadProperty objectName (invoke id 7) as an end marker: nothing may arrive between.
      send(Uint8Array.of(0x81, 0x0a, 0x00, 0x11, 0x01, 0x04, 0x00, 0x05, 0x07, 0x0c, 0x0c, 0x02, 0x00, 0x02, 0x57, 0x19, 0x4d));
      await next(3);
      expect(got[1]).toBe(got[0]!);
      // Complex-ACK readProperty, object device:599, property 77, opening tag 3, CharacterString "tb-gw-under-test", closing tag 3.
      const name = [..."tb-gw-under-test"].map((c) => c.charCodeAt(0).toString(16)).join(" ");
      expect(got[2]).toBe(`81 0a 00 25 01 00 30 07 0c 0c 02 00 02 57 19 4d 3e 75 11 00 ${name} 3f`);
      expect(got.length).toBe(3);
    } finally {
      sock.close();
      await conn.stop();
      setStderrLogging(true);
    }
  }, 10000);

  test("a BACnet tool (the stack-based peer process) finds the gateway and reads its name", async () => {
    setStderrLogging(false);
    const { conn, port } = await gateway({ maxApduLengthAccepted: 1024, segmentationSupported: "segmentedBoth", vendorIdentifier: 1234 });
    let peer: Awaited<ReturnType<typeof startPeer>> | undefined;
    try {
      await conn.start();
      peer = await startPeer(5, 0, { whoIs: `127.0.0.1:${port}` });
      await waitOutput(peer, /iam device=599 maxApdu=1024 segmentation=0 vendor=1234 from 127\.0\.0\.1:\d+/);
      await waitOutput(peer, /objectName of 599 = tb-gw-under-test/);
    } finally {
      await peer?.stop();
      await conn.stop();
      setStderrLogging(true);
    }
  }, 15000);
});
