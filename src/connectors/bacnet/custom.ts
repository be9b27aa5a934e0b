// A user's uplink converter class for BACnet devices (upstream's `devices[].uplinkConverter`), from
// `<config folder>/extensions/bacnet/`. Upstream builds it per discovered device with its
// UplinkConverterConfig (device name and type, the I-Am details, the objects to read, the report
// strategy) and calls `convert(objectsRead, results)` with the item configs of the read and the
// read results as (objectIdentifier, propertyIdentifier, propertyArrayIndex, value) tuples. Here
// the same, in camelCase: see README.md "Custom uplink converter".

import type { ConvertedData } from "../../core/model.ts";
import type { ResolvedItem } from "./device.ts";
import { objectTypeName, propertyName } from "./names.ts";
import type { BacnetDevice } from "./schema.ts";
import type { PropertyResult } from "./session.ts";
import { plainValue } from "./values.ts";

/** Upstream's own class names (current asyncio one and the older bacpypes one): the built-in conversion. */
export const BUILT_IN_CONVERTERS = new Set(["AsyncBACnetUplinkConverter", "BACnetUplinkConverter"]);

/** The user's class named by a device config, or undefined when it names the built-in one (or none). */
export function customConverterName(cfg: BacnetDevice): string | undefined {
  const name = cfg.uplinkConverter?.trim();
  return name && !BUILT_IN_CONVERTERS.has(name) ? name : undefined;
}

/** One entry of upstream's `objects_to_read`: the item's config with `type` = its section, `objectId` one instance. */
export interface ObjectToRead {
  key: string;
  type: "attributes" | "timeseries";
  objectType: string;
  objectId: number;
  propertyId: string | string[];
  [more: string]: unknown;
}

/** Resolved items → upstream's `objects_to_read` list (camelCase names, one entry per object instance). */
export function objectsToRead(items: ResolvedItem[]): ObjectToRead[] {
  return items.map((it) => ({
    ...(it.source ?? {}),
    key: it.key,
    type: it.kind === "attributes" ? "attributes" : "timeseries",
    objectType: objectTypeName(it.objectType),
    objectId: it.instance,
    propertyId: it.properties === "*" ? "*" : it.properties.length === 1 ? propertyName(it.properties[0]!) : it.properties.map(propertyName),
  }));
}

/** `[objectIdentifier, propertyIdentifier, propertyArrayIndex, value]`, as upstream's decoded read results. */
export type ReadResult = [objectIdentifier: [objectType: string, instance: number], propertyIdentifier: string, propertyArrayIndex: number | null, value: unknown];

/** Read results → upstream's tuples; a property that answered with a BACnet error carries an Error as its value. */
export function readResults(results: PropertyResult[]): ReadResult[] {
  return results.map((r) => [[objectTypeName(r.objectType), r.instance], propertyName(r.propertyId), null, plainValue(r.values, r.objectType, r.propertyId)]);
}

/** What the class is built with: the device entry plus upstream's UplinkConverterConfig fields. */
export function converterConfig(
  cfg: BacnetDevice,
  device: { name: string; type: string; items: ResolvedItem[] },
  details: { objectId: number; address: string; vendorId: number; maxApdu: number; segmentation: number; objectName?: string },
): Record<string, unknown> {
  return { ...cfg, deviceName: device.name, deviceType: device.type, deviceDetails: details, objectsToRead: objectsToRead(device.items), reportStrategy: cfg.reportStrategy ?? {} };
}

/** The device's report strategy on results that carry none, as the built-in conversion does. */
export function withDeviceStrategy(data: ConvertedData[], cfg: BacnetDevice): ConvertedData[] {
  if (!cfg.reportStrategy) return data;
  return data.map((d) => (d.deviceStrategy ? d : { ...d, deviceStrategy: cfg.reportStrategy as ConvertedData["deviceStrategy"] }));
}
