// A small BACnet/IP device for tests and benches, run in its own process:
//   node_modules/.bin/bun src/connectors/bacnet/test-peer.ts --host 127.0.0.2 --port 47808 --device-id 1234
// It answers Who-Is, ReadProperty, ReadPropertyMultiple, WriteProperty (with a 16-level priority
// array for commandable objects) and SubscribeCOV (unconfirmed notifications on every change).
// Built on @bacnet-js/client's server side, so it is an independent peer of the gateway's client
// code paths (the gateway never uses these responder functions). Prints one "ready" line on stdout.
// --broadcast-listen 127.255.255.255: also take in datagrams sent to that broadcast address, as a
// device on a real subnet does (on Linux a socket bound to one address gets no broadcasts).

import Bacnet, {
  ApplicationTag as T,
  ConfirmedServiceChoice as S,
  ErrorClass,
  ErrorCode,
  ObjectType as O,
  PropertyIdentifier as P,
  Segmentation,
  type BACNetAppData,
  type BACNetObjectID,
} from "@bacnet-js/client";
import StackTransport from "@bacnet-js/client/dist/lib/transport.js";
import { createSocket } from "node:dgram";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const host = args.get("host") ?? "127.0.0.2";
const port = Number(args.get("port") ?? 47808);
const deviceId = Number(args.get("device-id") ?? 1234);
const vendorId = Number(args.get("vendor-id") ?? 260);
/** Number of extra analogValue objects (instances 100..) for benches. */
const extra = Number(args.get("extra-objects") ?? 0);

type Props = Map<number, BACNetAppData[]>;
interface Obj {
  id: BACNetObjectID;
  props: Props;
  /** Commandable objects: presentValue = highest-priority non-null slot, else relinquishDefault. */
  priority?: Array<BACNetAppData | null>;
}

const objects = new Map<string, Obj>();
const keyOf = (o: BACNetObjectID) => `${o.type}:${o.instance}`;
const v = (type: T, value: unknown): BACNetAppData[] => [{ type, value } as BACNetAppData];

function add(type: O, instance: number, name: string, pv: BACNetAppData[], commandable = false, more: Array<[number, BACNetAppData[]]> = []): void {
  const props: Props = new Map<number, BACNetAppData[]>([
    [P.OBJECT_IDENTIFIER, v(T.OBJECTIDENTIFIER, { type, instance })],
    [P.OBJECT_NAME, v(T.CHARACTER_STRING, name)],
    [P.OBJECT_TYPE, v(T.ENUMERATED, type)],
    [P.PRESENT_VALUE, pv],
    [P.STATUS_FLAGS, v(T.BIT_STRING, { bitsUsed: 4, value: [0] })],
    ...more,
  ]);
  const o: Obj = { id: { type, instance }, props };
  if (commandable) {
    o.priority = new Array(16).fill(null);
    props.set(P.RELINQUISH_DEFAULT, pv);
  }
  objects.set(keyOf(o.id), o);
}

add(O.DEVICE, deviceId, "TestDevice", v(T.NULL, null), false, [
  [P.VENDOR_IDENTIFIER, v(T.UNSIGNED_INTEGER, vendorId)],
  [P.VENDOR_NAME, v(T.CHARACTER_STRING, "tb-gw test peer")],
  [P.MODEL_NAME, v(T.CHARACTER_STRING, "bacnet-peer")],
  [P.MAX_APDU_LENGTH_ACCEPTED, v(T.UNSIGNED_INTEGER, 1476)],
  [P.SEGMENTATION_SUPPORTED, v(T.ENUMERATED, Segmentation.NO_SEGMENTATION)],
]);
objects.get(`${O.DEVICE}:${deviceId}`)!.props.delete(P.PRESENT_VALUE);
add(O.ANALOG_INPUT, 1, "Temperature", v(T.REAL, 21.5), false, [[P.UNITS, v(T.ENUMERATED, 62)]]);
add(O.ANALOG_OUTPUT, 1, "Brightness", v(T.REAL, 0), true);
add(O.ANALOG_OUTPUT, 2, "Setpoint", v(T.REAL, 18.25), true);
add(O.BINARY_VALUE, 1, "State", v(T.ENUMERATED, 1), true);
add(O.BINARY_OUTPUT, 1, "Relay", v(T.ENUMERATED, 0), true);
add(O.MULTI_STATE_VALUE, 1, "Mode", v(T.UNSIGNED_INTEGER, 2), true);
add(O.CHARACTERSTRING_VALUE, 1, "Label", v(T.CHARACTER_STRING, "hello"), true);
for (let i = 0; i < extra; i++) add(O.ANALOG_VALUE, 100 + i, `Value${i}`, v(T.REAL, i + 0.5), true);

// The device's objectList (array of object identifiers), built after all objects exist.
objects.get(`${O.DEVICE}:${deviceId}`)!.props.set(
  P.OBJECT_LIST,
  [...objects.values()].map((o) => ({ type: T.OBJECTIDENTIFIER, value: o.id }) as BACNetAppData),
);

function read(id: BACNetObjectID, prop: number, index: number): BACNetAppData[] | { errorClass: number; errorCode: number } {
  // An object identifier with instance 4194303 on device type means "this device" (BACnet wildcard).
  const o = objects.get(id.type === O.DEVICE && id.instance === 4194303 ? `${O.DEVICE}:${deviceId}` : keyOf(id));
  if (!o) return { errorClass: ErrorClass.OBJECT, errorCode: ErrorCode.UNKNOWN_OBJECT };
  if (prop === P.PRIORITY_ARRAY && o.priority) return o.priority.map((p) => p ?? { type: T.NULL, value: null });
  const val = o.props.get(prop);
  if (!val) return { errorClass: ErrorClass.PROPERTY, errorCode: ErrorCode.UNKNOWN_PROPERTY };
  if (index !== 0xffffffff && index !== undefined) {
    if (index === 0) return v(T.UNSIGNED_INTEGER, val.length);
    const item = val[index - 1];
    return item ? [item] : { errorClass: ErrorClass.PROPERTY, errorCode: ErrorCode.INVALID_ARRAY_INDEX };
  }
  return val;
}

const covSubscribers: Array<{ address: string; processId: number; key: string; until: number }> = [];

function notifyCov(o: Obj): void {
  const now = Date.now();
  for (const s of covSubscribers) {
    if (s.key !== keyOf(o.id) || s.until < now) continue;
    client.unconfirmedCOVNotification({ address: s.address }, s.processId, deviceId, o.id, Math.round((s.until - now) / 1000), [
      { property: { id: P.PRESENT_VALUE, index: 0xffffffff }, value: o.props.get(P.PRESENT_VALUE)! },
      { property: { id: P.STATUS_FLAGS, index: 0xffffffff }, value: o.props.get(P.STATUS_FLAGS)! },
    ]);
  }
}

// The stack's own UDP transport; with --broadcast-listen a second socket on the broadcast address
// hands what it receives to that transport, so the stack sees one stream of datagrams.
const broadcastListen = args.get("broadcast-listen");
const transport = new StackTransport({ port, interface: host, broadcastAddress: host, reuseAddr: true });
let pendingSockets = broadcastListen ? 2 : 1;
if (broadcastListen) {
  const bsock = createSocket({ type: "udp4", reuseAddr: true });
  bsock.on("message", (msg, r) => transport.emit("message", msg, r.port === 47808 ? r.address : `${r.address}:${r.port}`));
  bsock.on("error", (e) => console.error(`peer broadcast socket error: ${e.message}`));
  bsock.bind(port, broadcastListen, () => socketReady());
}
const client = new Bacnet({ port, interface: host, broadcastAddress: host, apduTimeout: 3000, transport });

client.on("whoIs", ({ header, payload }) => {
  const lo = payload.lowLimit, hi = payload.highLimit;
  if (lo !== undefined && hi !== undefined && (deviceId < lo || deviceId > hi)) return;
  client.iAmResponse({ address: header!.sender.address }, deviceId, Segmentation.NO_SEGMENTATION, vendorId);
});

client.on("readProperty", ({ header, payload, invokeId }) => {
  const r = read(payload.objectId, payload.property.id, payload.property.index);
  const to = { address: header!.sender.address };
  if (Array.isArray(r)) client.readPropertyResponse(to, invokeId!, payload.objectId, payload.property, r);
  else client.errorResponse(to, S.READ_PROPERTY, invokeId!, r.errorClass, r.errorCode);
});

client.on("readPropertyMultiple", ({ header, payload, invokeId }) => {
  const values = payload.properties.map((spec) => {
    const o = objects.get(keyOf(spec.objectId));
    // PROPERTY ALL (8): every property the object has.
    const ids = spec.properties.some((p) => p.id === P.ALL) && o ? [...o.props.keys()].map((id) => ({ id, index: 0xffffffff })) : spec.properties;
    return {
      objectId: spec.objectId,
      values: ids.map((p) => {
        const r = read(spec.objectId, p.id, p.index);
        return { property: p, value: Array.isArray(r) ? r : [{ value: { type: "BacnetError", ...r } }] };
      }),
    };
  });
  client.readPropertyMultipleResponse({ address: header!.sender.address }, invokeId!, values);
});

client.on("writeProperty", ({ header, payload, invokeId }) => {
  const to = { address: header!.sender.address };
  const o = objects.get(keyOf(payload.objectId));
  if (!o) return client.errorResponse(to, S.WRITE_PROPERTY, invokeId!, ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT);
  const prop = payload.value.property.id;
  const values = payload.value.value.map((x) => ({ type: x.type, value: x.value }) as BACNetAppData);
  if (!o.props.has(prop)) return client.errorResponse(to, S.WRITE_PROPERTY, invokeId!, ErrorClass.PROPERTY, ErrorCode.UNKNOWN_PROPERTY);
  if (prop === P.PRESENT_VALUE && o.priority) {
    const level = payload.value.priority >= 1 && payload.value.priority <= 16 ? payload.value.priority : 16;
    o.priority[level - 1] = values[0]?.type === T.NULL ? null : values[0]!;
    const winner = o.priority.find((p) => p !== null);
    o.props.set(P.PRESENT_VALUE, winner ? [winner] : o.props.get(P.RELINQUISH_DEFAULT)!);
  } else if (prop === P.PRESENT_VALUE && o.id.type === O.ANALOG_INPUT) {
    return client.errorResponse(to, S.WRITE_PROPERTY, invokeId!, ErrorClass.PROPERTY, ErrorCode.WRITE_ACCESS_DENIED);
  } else {
    o.props.set(prop, values);
  }
  console.log(`write ${o.id.type}:${o.id.instance} prop=${prop} priority=${payload.value.priority} value=${JSON.stringify(values.map((x) => x.value))}`);
  client.simpleAckResponse(to, S.WRITE_PROPERTY, invokeId!);
  notifyCov(o);
});

client.on("subscribeCov", ({ header, payload: typed, invokeId }) => {
  // The decoder sets cancellationRequest although its type does not declare it.
  const payload = typed as typeof typed & { cancellationRequest?: boolean };
  const to = { address: header!.sender.address };
  const o = objects.get(keyOf(payload.monitoredObjectId));
  if (!o) return client.errorResponse(to, S.SUBSCRIBE_COV, invokeId!, ErrorClass.OBJECT, ErrorCode.UNKNOWN_OBJECT);
  const key = keyOf(o.id);
  const at = covSubscribers.findIndex((s) => s.address === to.address && s.processId === payload.subscriberProcessId && s.key === key);
  if (at >= 0) covSubscribers.splice(at, 1);
  if (!payload.cancellationRequest) {
    const lifetime = payload.lifetime || 3600;
    covSubscribers.push({ address: to.address!, processId: payload.subscriberProcessId, key, until: Date.now() + lifetime * 1000 });
  }
  console.log(`subscribeCov ${key} from ${to.address} cancel=${Boolean(payload.cancellationRequest)}`);
  client.simpleAckResponse(to, S.SUBSCRIBE_COV, invokeId!);
  if (!payload.cancellationRequest) notifyCov(o); // the standard asks for an initial notification
});

// --who-is host:port: act as a BACnet tool looking for another device (the gateway's own device
// object): send Who-Is there, print each I-Am, then read that device's objectName.
const probe = args.get("who-is");
client.on("iAm", ({ header, payload }) => {
  const from = header?.sender.address ?? "";
  console.log(`iam device=${payload.deviceId} maxApdu=${payload.maxApdu} segmentation=${payload.segmentation} vendor=${payload.vendorId} from ${from}`);
  if (!probe) return;
  client
    .readProperty({ address: from }, { type: O.DEVICE, instance: payload.deviceId }, P.OBJECT_NAME)
    .then((r) => console.log(`objectName of ${payload.deviceId} = ${String(r.values[0]?.value)}`))
    .catch((e: Error) => console.log(`objectName of ${payload.deviceId} failed: ${e.message}`));
});

client.on("error", (e) => console.error(`peer error: ${e.message}`));
function socketReady(): void {
  if (--pendingSockets > 0) return;
  console.log(`bacnet test peer ready on ${host}:${port} device ${deviceId} objects ${objects.size}${broadcastListen ? ` broadcasts to ${broadcastListen}` : ""}`);
  if (probe) client.whoIs({ address: probe });
}
client.on("listening", () => socketReady());

const shutdown = () => {
  client.close();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
