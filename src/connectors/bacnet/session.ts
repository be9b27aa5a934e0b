// One local BACnet/IP endpoint (a UDP socket on host:port) shared by the connector and `scan`.
// Wraps @bacnet-js/client: promises for open/close, ReadPropertyMultiple chunked to what the
// device accepts with a fallback to single ReadProperty, writes with priority, Who-Is collection.

import BacnetExport, { MaxApduLengthAccepted, MaxSegmentsAccepted, ObjectType as O, PropertyIdentifier as P, type BACNetAppData } from "@bacnet-js/client";
import { createSocket } from "node:dgram";
import { normaliseSender, stackAddress } from "./names.ts";
import { BacnetTransport } from "./transport.ts";
import type { DecodedValue } from "./values.ts";
import { errorText } from "../../observe/logger.ts";

export interface IAm {
  /** "host:port" */
  address: string;
  deviceId: number;
  maxApdu: number;
  segmentation: number;
  vendorId: number;
}

export interface CovValue {
  address: string;
  subscriberProcessId: number;
  deviceId: number;
  objectType: number;
  instance: number;
  values: Array<{ propertyId: number; values: DecodedValue[] }>;
}

export interface PropertyRef {
  objectType: number;
  instance: number;
  propertyId: number;
}

export interface ReadRequest extends PropertyRef {
  arrayIndex?: number;
  reply(values: BACNetAppData[]): void;
  fail(errorClass: number, errorCode: number): void;
}

export interface PropertyResult extends PropertyRef {
  values: DecodedValue[];
}

const ALL = 0xffffffff;

/**
 * The client class. The package is CommonJS with `exports.default`; Bun running sources honours its
 * __esModule flag, but in the compiled binary the default import is the whole module object.
 */
type Bacnet = BacnetExport;
const Bacnet: typeof BacnetExport = typeof BacnetExport === "function" ? BacnetExport : (BacnetExport as unknown as { default: typeof BacnetExport }).default;

function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, host, () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

function apduEnum(max: number): MaxApduLengthAccepted {
  if (max >= 1476) return MaxApduLengthAccepted.OCTETS_1476;
  if (max >= 1024) return MaxApduLengthAccepted.OCTETS_1024;
  if (max >= 480) return MaxApduLengthAccepted.OCTETS_480;
  if (max >= 206) return MaxApduLengthAccepted.OCTETS_206;
  if (max >= 128) return MaxApduLengthAccepted.OCTETS_128;
  return MaxApduLengthAccepted.OCTETS_50;
}

export class BacnetSession {
  private client?: Bacnet;
  private iAmListeners = new Set<(i: IAm) => void>();
  private covListeners = new Set<(c: CovValue) => void>();

  constructor(
    readonly host: string,
    public port: number,
    readonly broadcastAddress: string,
    private readonly timeoutMs = 3000,
  ) {}

  /** Binds the socket; rejects with a clear message when the address is taken or not local. */
  async open(): Promise<void> {
    // The stack treats port 0 as "default" (47808); pick a free one ourselves instead.
    if (this.port === 0) this.port = await freeUdpPort(this.host);
    return new Promise((resolve, reject) => {
      const transport = new BacnetTransport({ port: this.port, interface: this.host, broadcastAddress: this.broadcastAddress });
      const c = new Bacnet({ port: this.port, interface: this.host, broadcastAddress: this.broadcastAddress, apduTimeout: this.timeoutMs, transport });
      let ready = false;
      c.on("error", (e) => {
        if (!ready) {
          ready = true;
          try {
            c.close();
          } catch {}
          reject(new Error(`cannot open BACnet/IP socket on ${this.host}:${this.port}: ${errorText(e)}`));
        }
      });
      c.on("listening", () => {
        ready = true;
        this.client = c;
        resolve();
      });
      c.on("iAm", ({ header, payload }) => {
        // Through a BBMD the I-Am arrives as Forwarded-NPDU: the device is at the originating address.
        const from = header?.sender.forwardedFrom || header?.sender.address || "";
        const i: IAm = { ...payload, address: normaliseSender(from) };
        for (const l of this.iAmListeners) l(i);
      });
      const onCov = ({ header, payload }: { header?: { sender: { address?: string } }; payload: import("@bacnet-js/client").CovNotifyPayload }) => {
        const v: CovValue = {
          address: normaliseSender(header?.sender.address ?? ""),
          subscriberProcessId: payload.subscriberProcessId,
          // Typed as a number, but the decoder hands over the whole object identifier.
          deviceId: typeof payload.initiatingDeviceId === "number" ? payload.initiatingDeviceId : (payload.initiatingDeviceId as { instance: number }).instance,
          objectType: payload.monitoredObjectId.type,
          instance: payload.monitoredObjectId.instance,
          values: payload.values.map((x) => ({ propertyId: x.property.id, values: x.value as DecodedValue[] })),
        };
        for (const l of this.covListeners) l(v);
      };
      c.on("covNotifyUnconfirmed", onCov);
      c.on("covNotify", (m) => {
        onCov(m);
        // Confirmed notifications need a simple ACK or the device retries.
        if (m.header?.sender && m.invokeId !== undefined) c.simpleAckResponse(m.header.sender, m.service ?? 1, m.invokeId);
      });
    });
  }

  close(): void {
    const c = this.client;
    this.client = undefined;
    if (c)
      try {
        c.close();
      } catch {}
  }

  private get c(): Bacnet {
    if (!this.client) throw new Error("BACnet session is closed");
    return this.client;
  }

  onIAm(l: (i: IAm) => void): () => void {
    this.iAmListeners.add(l);
    return () => this.iAmListeners.delete(l);
  }

  onCov(l: (c: CovValue) => void): () => void {
    this.covListeners.add(l);
    return () => this.covListeners.delete(l);
  }

  /** Who-Is to one address ("host:port") or, without one, to the broadcast address. */
  whoIs(address?: string, low?: number, high?: number): void {
    const range = low !== undefined && high !== undefined ? { lowLimit: low, highLimit: high } : undefined;
    if (address) this.c.whoIs({ address: stackAddress(address) }, range);
    else this.c.whoIs(range ? { ...range } : undefined);
  }

  /** Who-Is requests received (for the local device object). `forwarded`: originator behind a BBMD. */
  onWhoIs(l: (w: { from: string; forwarded?: string; low?: number; high?: number }) => void): () => void {
    const h = ({ header, payload }: { header?: { sender: { address?: string; forwardedFrom?: string | null } }; payload: { lowLimit?: number; highLimit?: number } }) =>
      l({ from: normaliseSender(header?.sender.address ?? ""), forwarded: header?.sender.forwardedFrom ? normaliseSender(header.sender.forwardedFrom) : undefined, low: payload.lowLimit, high: payload.highLimit });
    this.c.on("whoIs", h);
    return () => this.client?.off("whoIs", h);
  }

  /** ReadProperty requests received; the handler must call reply or fail exactly once. */
  onReadProperty(l: (r: ReadRequest) => void): () => void {
    const c = this.c;
    const h = ({ header, payload, invokeId }: { header?: { sender: { address?: string; forwardedFrom?: string | null } }; payload: { objectId: { type: number; instance: number }; property: { id: number; index: number } }; invokeId?: number }) => {
      if (!header?.sender || invokeId === undefined) return;
      const to = { address: header.sender.address, forwardedFrom: header.sender.forwardedFrom ?? undefined };
      const index = payload.property.index;
      l({
        objectType: payload.objectId.type,
        instance: payload.objectId.instance,
        propertyId: payload.property.id,
        arrayIndex: index === ALL || index === undefined ? undefined : index,
        reply: (values) => c.readPropertyResponse(to, invokeId, payload.objectId, payload.property, values),
        fail: (errorClass, errorCode) => c.errorResponse(to, 12 /* readProperty */, invokeId, errorClass, errorCode),
      });
    };
    c.on("readProperty", h);
    return () => this.client?.off("readProperty", h);
  }

  /**
   * Sends an NPDU we encoded ourselves: unicast to `to`, as Distribute-Broadcast-To-Network to a
   * BBMD, or as a local broadcast. Send errors are logged by the socket, never thrown.
   */
  sendNpdu(target: { to: string } | { bbmd: string } | { broadcast: true }, npdu: Uint8Array): void {
    const buffer = Buffer.alloc(4 + npdu.length);
    buffer.set(npdu, 4); // the stack writes the 4-octet BVLC header in front
    const receiver = "to" in target ? { address: stackAddress(target.to) } : "bbmd" in target ? { address: stackAddress(target.bbmd), distributeBroadcastToNetwork: true } : null;
    this.c.sendBvlc(receiver, { buffer, offset: buffer.length });
  }

  /** Who-Is as Distribute-Broadcast-To-Network through the BBMD we are registered with. */
  whoIsThroughBbmd(bbmd: string, low?: number, high?: number): void {
    const range = low !== undefined && high !== undefined ? { lowLimit: low, highLimit: high } : undefined;
    this.c.whoIsThroughBBMD({ address: stackAddress(bbmd) }, range);
  }

  /** Register-Foreign-Device (BVLL, Annex J): resolves on a successful BVLC-Result, else rejects. */
  async registerForeignDevice(bbmd: string, ttlSeconds: number): Promise<void> {
    await this.c.registerForeignDevice({ address: stackAddress(bbmd) }, ttlSeconds);
  }

  /** Sends Who-Is and collects I-Am answers for `waitMs` (deduplicated by device id). */
  async discover(waitMs: number, address?: string, low?: number, high?: number, signal?: AbortSignal): Promise<IAm[]> {
    const found = new Map<number, IAm>();
    const off = this.onIAm((i) => {
      if (low !== undefined && i.deviceId < low) return;
      if (high !== undefined && i.deviceId > high) return;
      if (!found.has(i.deviceId)) found.set(i.deviceId, i);
    });
    try {
      this.whoIs(address, low, high);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        signal?.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        });
      });
    } finally {
      off();
    }
    return [...found.values()];
  }

  async readProperty(address: string, ref: PropertyRef, arrayIndex?: number): Promise<DecodedValue[]> {
    const r = await this.c.readProperty({ address: stackAddress(address) }, { type: ref.objectType, instance: ref.instance }, ref.propertyId, arrayIndex !== undefined ? { arrayIndex } : {});
    return r.values as DecodedValue[];
  }

  /**
   * Reads many properties: ReadPropertyMultiple in chunks that fit the device's max APDU (a
   * property answer is budgeted at 24 octets, enough for scalars), falling back to one
   * ReadProperty each when the device rejects RPM. Per-property errors come back as ERROR values.
   */
  async readMany(address: string, refs: PropertyRef[], maxApdu = 1476, useRpm = true): Promise<{ results: PropertyResult[]; rpm: boolean }> {
    const results: PropertyResult[] = [];
    const perChunk = Math.max(1, Math.floor((Math.min(maxApdu, 1476) - 16) / 24));
    for (let i = 0; i < refs.length; i += perChunk) {
      const chunk = refs.slice(i, i + perChunk);
      if (useRpm) {
        try {
          results.push(...(await this.rpm(address, chunk, maxApdu)));
          continue;
        } catch (e) {
          // Unrecognised service / reject / abort: this device does not do RPM (or not this big).
          if (!/Reject|Abort|SERVICES|Class:5/i.test(errorText(e))) throw e;
          useRpm = false;
        }
      }
      for (const ref of chunk) {
        try {
          results.push({ ...ref, values: await this.readProperty(address, ref) });
        } catch (e) {
          const m = /Class:(\d+) - Code:(\d+)/.exec(e instanceof Error ? e.message : "");
          if (!m) throw e;
          results.push({ ...ref, values: [{ type: 105, value: { errorClass: Number(m[1]), errorCode: Number(m[2]) } }] });
        }
      }
    }
    return { results, rpm: useRpm };
  }

  private async rpm(address: string, refs: PropertyRef[], maxApdu: number): Promise<PropertyResult[]> {
    // Group the properties by object, keeping the order the caller asked for.
    const byObject = new Map<string, { objectId: { type: number; instance: number }; properties: Array<{ id: number; index: number }> }>();
    for (const r of refs) {
      const k = `${r.objectType}:${r.instance}`;
      if (!byObject.has(k)) byObject.set(k, { objectId: { type: r.objectType, instance: r.instance }, properties: [] });
      byObject.get(k)!.properties.push({ id: r.propertyId, index: ALL });
    }
    const ack = await this.c.readPropertyMultiple({ address: stackAddress(address) }, [...byObject.values()], {
      maxApdu: apduEnum(maxApdu),
      maxSegments: MaxSegmentsAccepted.SEGMENTS_0,
    });
    const out: PropertyResult[] = [];
    for (const obj of ack.values)
      for (const p of obj.values) out.push({ objectType: obj.objectId.type, instance: obj.objectId.instance, propertyId: p.id, values: p.value as DecodedValue[] });
    return out;
  }

  async writeProperty(address: string, ref: PropertyRef, value: BACNetAppData, priority?: number): Promise<void> {
    await this.c.writeProperty({ address: stackAddress(address) }, { type: ref.objectType, instance: ref.instance }, ref.propertyId, [value], priority ? { priority } : {});
  }

  async subscribeCov(address: string, objectType: number, instance: number, processId: number, lifetimeSec: number, cancel = false): Promise<void> {
    await this.c.subscribeCov({ address: stackAddress(address) }, { type: objectType, instance }, processId, cancel, false, lifetimeSec);
  }

  /** objectList of a device: whole array first, element by element when that is too big. */
  async objectList(address: string, deviceId: number): Promise<Array<{ type: number; instance: number }>> {
    const ref = { objectType: O.DEVICE, instance: deviceId, propertyId: P.OBJECT_LIST };
    try {
      return (await this.readProperty(address, ref)).map((v) => v.value as { type: number; instance: number });
    } catch (e) {
      if (!/Abort|Reject|segment/i.test(errorText(e))) throw e;
    }
    const count = Number((await this.readProperty(address, ref, 0))[0]?.value ?? 0);
    const out: Array<{ type: number; instance: number }> = [];
    for (let i = 1; i <= count; i++) out.push((await this.readProperty(address, ref, i))[0]!.value as { type: number; instance: number });
    return out;
  }
}
