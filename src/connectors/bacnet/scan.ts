// `tb-gw scan bacnet`: Who-Is (broadcast or unicast), then for each I-Am the device's name, vendor
// and object list, read with the connector's own session code. Progress on stderr, results on
// stdout (`--json` for scripts, `--emit-config` for a ready bacnet.json). Never writes to a device.

import chalk from "chalk";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { ObjectType as O, PropertyIdentifier as P } from "@bacnet-js/client";
import { DEFAULT_PORT, maskToPrefix, objectTypeName, subnetBroadcast } from "./names.ts";
import { BacnetSession, type IAm } from "./session.ts";
import { toTbValue } from "./values.ts";
import { errorText } from "../../observe/logger.ts";

export interface ScanOptions {
  interface: string;
  port: string;
  target?: string;
  /** absent: the subnet broadcast of `interface` (255.255.255.255 for 0.0.0.0) */
  broadcast?: string;
  range?: string;
  wait: string;
  objects: boolean;
  json?: boolean;
  emitConfig?: boolean;
}

export interface ScannedObject {
  objectType: string;
  objectId: number;
  name?: string;
  presentValue?: unknown;
}

export interface ScannedDevice {
  deviceId: number;
  address: string;
  vendorId: number;
  maxApdu: number;
  segmentation: number;
  name?: string;
  vendorName?: string;
  modelName?: string;
  objects?: ScannedObject[];
  error?: string;
}

const say = (m: string) => process.stderr.write(chalk.dim(m) + "\n");

function usage(m: string): number {
  process.stderr.write(`tb-gw scan bacnet: ${m}\n`);
  return 2;
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** The local IPv4 interface holding `ip`, with its prefix and subnet broadcast (from its netmask). */
export function interfaceSubnet(ip: string, interfaces: Interfaces): { name: string; prefix: number; broadcast: string } | undefined {
  for (const [name, addrs] of Object.entries(interfaces)) {
    // family is "IPv4" (a number, 4, in some Node 18 releases)
    const a = addrs?.find((x) => x.address === ip && (x.family === "IPv4" || (x.family as unknown) === 4));
    if (!a) continue;
    const prefix = maskToPrefix(a.netmask);
    const broadcast = subnetBroadcast(a.address, prefix);
    return broadcast ? { name, prefix, broadcast } : undefined;
  }
  return undefined;
}

/**
 * Where a broadcast Who-Is goes, and why. `--broadcast` wins; else, with `--interface`, that
 * interface's subnet broadcast, so the Who-Is leaves through that card (255.255.255.255 leaves only
 * through the default route); else 255.255.255.255. An address without a port gets the scan's own
 * port (the devices of one BACnet/IP network share one UDP port), none (47808) when that is 0.
 */
export function whoIsBroadcast(iface: string, port: number, broadcast: string | undefined, interfaces: Interfaces): { address: string; why: string } {
  const withPort = (a: string) => (a.includes(":") || port === 0 || port === DEFAULT_PORT ? a : `${a}:${port}`);
  if (broadcast) return { address: withPort(broadcast), why: "--broadcast" };
  if (iface === "0.0.0.0") return { address: withPort("255.255.255.255"), why: "no --interface" };
  const net = interfaceSubnet(iface, interfaces);
  if (!net) return { address: withPort("255.255.255.255"), why: `no local IPv4 interface has address ${iface}` };
  return { address: withPort(net.broadcast), why: `subnet broadcast of ${iface}/${net.prefix} on ${net.name}` };
}

async function readText(s: BacnetSession, address: string, type: number, instance: number, prop: number): Promise<string | undefined> {
  try {
    return String(toTbValue(await s.readProperty(address, { objectType: type, instance, propertyId: prop }), type, prop));
  } catch {
    return undefined;
  }
}

/** Details and objects of one device; failures land in `error`, never abort the scan. */
export async function describeDevice(s: BacnetSession, i: IAm, withObjects: boolean): Promise<ScannedDevice> {
  const d: ScannedDevice = { deviceId: i.deviceId, address: i.address, vendorId: i.vendorId, maxApdu: i.maxApdu, segmentation: i.segmentation };
  d.name = await readText(s, i.address, O.DEVICE, i.deviceId, P.OBJECT_NAME);
  d.vendorName = await readText(s, i.address, O.DEVICE, i.deviceId, P.VENDOR_NAME);
  d.modelName = await readText(s, i.address, O.DEVICE, i.deviceId, P.MODEL_NAME);
  if (!withObjects) return d;
  try {
    const list = (await s.objectList(i.address, i.deviceId)).filter((o) => o.type !== O.DEVICE);
    const refs = list.flatMap((o) => [
      { objectType: o.type, instance: o.instance, propertyId: P.OBJECT_NAME },
      { objectType: o.type, instance: o.instance, propertyId: P.PRESENT_VALUE },
    ]);
    const { results } = await s.readMany(i.address, refs, i.maxApdu);
    d.objects = list.map((o) => {
      const get = (p: number) => {
        const r = results.find((x) => x.objectType === o.type && x.instance === o.instance && x.propertyId === p);
        try {
          return r ? toTbValue(r.values, o.type, p) : undefined;
        } catch {
          return undefined;
        }
      };
      const name = get(P.OBJECT_NAME);
      return { objectType: objectTypeName(o.type), objectId: o.instance, name: name === undefined ? undefined : String(name), presentValue: get(P.PRESENT_VALUE) };
    });
  } catch (e) {
    d.error = `object list: ${errorText(e)}`;
  }
  return d;
}

/** A bacnet.json for the devices found: each object's presentValue as telemetry. */
export function emitConfig(devices: ScannedDevice[], host: string): unknown {
  return {
    application: { objectName: "TB_gateway", host: host === "0.0.0.0" ? "0.0.0.0" : host, port: DEFAULT_PORT, mask: "24", objectIdentifier: 599, vendorIdentifier: 15 },
    devices: devices.map((d) => {
      const [h, p] = d.address.split(":");
      return {
        deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "BACnet Device ${objectName}", deviceProfileExpressionSource: "constant", deviceProfileExpression: "default" },
        host: h,
        port: Number(p ?? DEFAULT_PORT),
        deviceId: d.deviceId,
        pollPeriod: 10000,
        attributes: [],
        timeseries: (d.objects ?? [])
          .filter((o) => o.presentValue !== undefined)
          .map((o) => ({ key: o.name || `${o.objectType}${o.objectId}`, objectType: o.objectType, objectId: o.objectId, propertyId: "presentValue" })),
        attributeUpdates: [],
        serverSideRpc: [],
      };
    }),
  };
}

export async function runScan(opts: ScanOptions): Promise<number> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return usage(`--port must be 0-65535, got "${opts.port}"`);
  const wait = Number(opts.wait);
  if (!(wait > 0)) return usage(`--wait must be a positive number of seconds, got "${opts.wait}"`);
  let low: number | undefined, high: number | undefined;
  if (opts.range) {
    const m = /^(\d+)-(\d+)$/.exec(opts.range.trim());
    if (!m || Number(m[1]) > Number(m[2])) return usage(`--range must look like 1000-1999, got "${opts.range}"`);
    low = Number(m[1]);
    high = Number(m[2]);
  }
  const target = opts.target ? (opts.target.includes(":") ? opts.target : `${opts.target}:${DEFAULT_PORT}`) : undefined;
  const broadcast = whoIsBroadcast(opts.interface, port, opts.broadcast, networkInterfaces());
  const session = new BacnetSession(opts.interface, port, broadcast.address);
  const abort = new AbortController();
  const onSigint = () => {
    say("interrupted; finishing");
    abort.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    await session.open();
    say(`Who-Is ${target ? `to ${target}` : `broadcast to ${broadcast.address} (${broadcast.why})`}${opts.range ? ` for devices ${opts.range}` : ""}, waiting ${wait}s for I-Am…`);
    const found = (await session.discover(wait * 1000, target, low, high, abort.signal)).sort((a, b) => a.deviceId - b.deviceId);
    const devices: ScannedDevice[] = [];
    for (const i of found) {
      if (abort.signal.aborted) break;
      say(`device ${i.deviceId} at ${i.address}: reading details${opts.objects ? " and objects" : ""}…`);
      devices.push(await describeDevice(session, i, opts.objects));
    }
    if (opts.emitConfig) process.stdout.write(JSON.stringify(emitConfig(devices, opts.interface), null, 2) + "\n");
    else if (opts.json) process.stdout.write(JSON.stringify({ devices }, null, 2) + "\n");
    else print(devices);
    if (!devices.length) say("no BACnet device answered");
    return devices.length ? 0 : 1;
  } catch (e) {
    process.stderr.write(chalk.red(`tb-gw scan bacnet: ${errorText(e)}`) + "\n");
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
    session.close();
  }
}

function print(devices: ScannedDevice[]): void {
  for (const d of devices) {
    const out = [`${chalk.bold(`device ${d.deviceId}`)}  ${d.address}  name=${JSON.stringify(d.name ?? "")}  vendor=${d.vendorId}${d.vendorName ? ` (${d.vendorName})` : ""}${d.modelName ? `  model=${JSON.stringify(d.modelName)}` : ""}`];
    for (const o of d.objects ?? []) out.push(`  ${`${o.objectType}:${o.objectId}`.padEnd(28)} ${JSON.stringify(o.name ?? "").padEnd(24)} ${o.presentValue === undefined ? "" : JSON.stringify(o.presentValue)}`);
    if (d.error) out.push(chalk.yellow(`  ${d.error}`));
    process.stdout.write(out.join("\n") + "\n");
  }
}
