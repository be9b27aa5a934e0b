// The gateway's own BACnet device object (`application` in the config): it answers Who-Is with an
// I-Am that announces the configured instance, max APDU, segmentation and vendor, and answers
// ReadProperty on its device object, so BACnet tools (YABE, bacnet-stack's bacwi/bacrp) see the
// gateway. The I-Am is encoded here rather than by the stack, whose I-Am always announces its
// socket's 1482-octet payload instead of the configured max APDU.

import { ApplicationTag as T, ErrorClass, ErrorCode, ObjectType as O, PropertyIdentifier as P, type BACNetAppData } from "@bacnet-js/client";
import type { Logger } from "../../observe/logger.ts";
import type { BacnetConfig } from "./schema.ts";
import type { BacnetSession } from "./session.ts";

/** max-APDU-length-accepted values the standard allows for BACnet/IP (clause 20.1.2.5). */
const APDU_SIZES = [50, 128, 206, 480, 1024, 1476];

/** BACnetSegmentation enumeration (clause 21). */
const SEGMENTATION: Record<string, number> = { segmentedboth: 0, segmentedtransmit: 1, segmentedreceive: 2, nosegmentation: 3 };

export interface LocalDevice {
  instance: number;
  name: string;
  maxApdu: number;
  segmentation: number;
  vendorId: number;
}

/** The local device from `application`; odd values are rounded to what the standard allows, with a warning. */
export function localDeviceOf(app: BacnetConfig["application"], log: Logger): LocalDevice {
  const wanted = app.maxApduLengthAccepted;
  const maxApdu = [...APDU_SIZES].reverse().find((s) => s <= wanted) ?? 50;
  if (maxApdu !== wanted) log.warn(`application.maxApduLengthAccepted ${wanted} is not one of ${APDU_SIZES.join(", ")}; announcing ${maxApdu}`);
  const segKey = app.segmentationSupported.replace(/[-_\s]/g, "").toLowerCase();
  let segmentation = SEGMENTATION[segKey];
  if (segmentation === undefined) {
    log.warn(`application.segmentationSupported "${app.segmentationSupported}" is not segmentedBoth/segmentedTransmit/segmentedReceive/noSegmentation; announcing segmentedBoth`);
    segmentation = 0;
  }
  return { instance: app.objectIdentifier, name: app.objectName, maxApdu, segmentation, vendorId: app.vendorIdentifier };
}

/** Application-tagged unsigned (clause 20.2.4): tag number, then the value in as few octets as fit. */
function unsigned(tag: number, n: number): number[] {
  const octets = n < 0x100 ? [n] : n < 0x10000 ? [n >> 8, n & 255] : n < 0x1000000 ? [n >> 16, (n >> 8) & 255, n & 255] : [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  return [(tag << 4) | octets.length, ...octets];
}

/** NPDU + APDU of I-Am (clause 16.10): objectIdentifier, maxAPDU, segmentation, vendorId. */
export function encodeIAm(d: LocalDevice): Uint8Array {
  const oid = ((O.DEVICE << 22) | d.instance) >>> 0;
  return Uint8Array.of(
    0x01, 0x00, // NPDU: version 1, no routing information, no reply expected
    0x10, 0x00, // unconfirmed request, service I-Am
    0xc4, oid >>> 24, (oid >> 16) & 255, (oid >> 8) & 255, oid & 255, // BACnetObjectIdentifier
    ...unsigned(2, d.maxApdu),
    ...unsigned(9, d.segmentation), // ENUMERATED uses the same octet layout
    ...unsigned(2, d.vendorId),
  );
}

/** Device-object properties the gateway answers ReadProperty for. */
function deviceProperties(d: LocalDevice): Map<number, BACNetAppData[]> {
  const one = (type: T, value: unknown): BACNetAppData[] => [{ type, value } as BACNetAppData];
  const id = { type: O.DEVICE, instance: d.instance };
  return new Map([
    [P.OBJECT_IDENTIFIER, one(T.OBJECTIDENTIFIER, id)],
    [P.OBJECT_NAME, one(T.CHARACTER_STRING, d.name)],
    [P.OBJECT_TYPE, one(T.ENUMERATED, O.DEVICE)],
    [P.SYSTEM_STATUS, one(T.ENUMERATED, 0)], // operational
    [P.VENDOR_NAME, one(T.CHARACTER_STRING, "tb-gw")],
    [P.VENDOR_IDENTIFIER, one(T.UNSIGNED_INTEGER, d.vendorId)],
    [P.MODEL_NAME, one(T.CHARACTER_STRING, "tb-gw ThingsBoard gateway")],
    [P.PROTOCOL_VERSION, one(T.UNSIGNED_INTEGER, 1)],
    [P.PROTOCOL_REVISION, one(T.UNSIGNED_INTEGER, 14)],
    [P.MAX_APDU_LENGTH_ACCEPTED, one(T.UNSIGNED_INTEGER, d.maxApdu)],
    [P.SEGMENTATION_SUPPORTED, one(T.ENUMERATED, d.segmentation)],
    [P.OBJECT_LIST, one(T.OBJECTIDENTIFIER, id)],
    [P.DATABASE_REVISION, one(T.UNSIGNED_INTEGER, 1)],
  ]);
}

/**
 * Serves the local device on a session: I-Am for every Who-Is whose range includes us (sent back to
 * the asker; through the BBMD when the Who-Is came forwarded and we are a registered foreign
 * device), ReadProperty of the device object, and one I-Am broadcast at start.
 */
export function serveLocalDevice(session: BacnetSession, d: LocalDevice, bbmd: () => string | undefined): () => void {
  const iAm = encodeIAm(d);
  const props = deviceProperties(d);
  const offWhoIs = session.onWhoIs(({ from, forwarded, low, high }) => {
    if (low !== undefined && high !== undefined && (d.instance < low || d.instance > high)) return;
    const via = bbmd();
    if (forwarded && via) session.sendNpdu({ bbmd: via }, iAm);
    else session.sendNpdu({ to: forwarded ?? from }, iAm);
  });
  const offRead = session.onReadProperty((req) => {
    const isUs = req.objectType === O.DEVICE && (req.instance === d.instance || req.instance === 4194303);
    const value = isUs ? props.get(req.propertyId) : undefined;
    if (!isUs) return req.fail(ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT);
    if (!value) return req.fail(ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY);
    if (req.arrayIndex === 0 && req.propertyId === P.OBJECT_LIST) return req.reply([{ type: T.UNSIGNED_INTEGER, value: 1 } as BACNetAppData]);
    req.reply(value);
  });
  session.sendNpdu({ broadcast: true }, iAm);
  return () => {
    offWhoIs();
    offRead();
  };
}
