// One discovered BACnet device: its configured items resolved to concrete property reads, the
// device name built from the I-Am details, and poll results turned into ConvertedData.

import { ObjectType as O, PropertyIdentifier as P } from "@bacnet-js/client";
import type { ConvertedData } from "../../core/model.ts";
import type { Logger } from "../../observe/logger.ts";
import { addressPattern, deviceAddress, expandObjectIds, objectTypeNumber, propertyName, propertyNumber } from "./names.ts";
import type { BacnetDevice, BacnetItem } from "./schema.ts";
import type { IAm, PropertyRef, PropertyResult } from "./session.ts";
import { PropertyError, toTbValue } from "./values.ts";

/** One item on one object instance. `properties` "*" = every property the object has. */
export interface ResolvedItem {
  key: string;
  kind: "attributes" | "telemetry";
  objectType: number;
  instance: number;
  properties: number[] | "*";
  /** The config item it came from (none for `"*"` sections); a custom converter gets its fields. */
  source?: BacnetItem;
}

const ALL = P.ALL;

/** Does an I-Am belong to this device config? deviceId and address (or alt addresses) must agree. */
export function matchesIAm(cfg: BacnetDevice, i: IAm): boolean {
  if (cfg.deviceId !== undefined && cfg.deviceId !== "*" && cfg.deviceId !== i.deviceId) return false;
  const addr = deviceAddress({ address: cfg.address, host: cfg.host, port: cfg.port });
  if (!addr) return cfg.deviceId !== undefined;
  return [addr, ...cfg.altResponsesAddresses].some((a) => addressPattern(a).test(i.address));
}

/** A concrete "host:port" (no wildcard) that Who-Is can be sent to directly, if any. */
export function unicastTarget(cfg: BacnetDevice): string | undefined {
  const addr = deviceAddress({ address: cfg.address, host: cfg.host, port: cfg.port });
  return addr && !/[*xX]/.test(addr) ? addr : undefined;
}

/** `${tag}` substitution in device-name expressions; unknown tags stay as written. */
export function renderName(expr: string, details: Record<string, unknown>): string {
  return expr.replace(/\$\{([^}]+)\}/g, (m, tag: string) => (details[tag] !== undefined ? String(details[tag]) : m));
}

/** The device's name and profile from its config and what its I-Am (and object name read) told: constants as written, expressions rendered. */
export function deviceIdentity(cfg: BacnetDevice, details: Record<string, unknown>): { name: string; type: string } {
  const info = cfg.deviceInfo;
  return {
    name: info.deviceNameExpressionSource === "constant" ? info.deviceNameExpression : renderName(info.deviceNameExpression, details),
    type: info.deviceProfileExpressionSource === "constant" ? info.deviceProfileExpression : renderName(info.deviceProfileExpression, details),
  };
}

/** Items of a device config resolved against its objectList (needed only for "*" object ids). */
export function resolveItems(cfg: BacnetDevice, deviceId: number, objectList: Array<{ type: number; instance: number }> | undefined, log: Logger): ResolvedItem[] {
  const out: ResolvedItem[] = [];
  const add = (items: BacnetItem[] | "*", kind: ResolvedItem["kind"]) => {
    if (items === "*") {
      // Global discovery: every object's presentValue, keyed by its object name (filled in at read).
      for (const o of objectList ?? []) if (o.type !== O.DEVICE) out.push({ key: "${objectName}", kind, objectType: o.type, instance: o.instance, properties: [P.PRESENT_VALUE] });
      return;
    }
    for (const item of items) {
      const type = objectTypeNumber(item.objectType);
      if (type === undefined) {
        log.error(`item "${item.key}": unknown objectType "${item.objectType}" (use camelCase names such as analogInput); item skipped`);
        continue;
      }
      const names = Array.isArray(item.propertyId) ? item.propertyId : [item.propertyId];
      let properties: number[] | "*";
      if (names.includes("*")) properties = "*";
      else {
        properties = [];
        for (const n of names) {
          const p = propertyNumber(n);
          if (p === undefined) log.error(`item "${item.key}": unknown propertyId "${n}" (use camelCase names such as presentValue); property skipped`);
          else properties.push(p);
        }
        if (!properties.length) continue;
      }
      let instances = type === O.DEVICE ? [deviceId] : expandObjectIds(item.objectId);
      if (instances === "*") instances = (objectList ?? []).filter((o) => o.type === type).map((o) => o.instance);
      if (!instances) {
        log.error(`item "${item.key}": unreadable objectId ${JSON.stringify(item.objectId)} (a number, "*", "a-b" or a list); item skipped`);
        continue;
      }
      for (const instance of instances) out.push({ key: item.key, kind, objectType: type, instance, properties, source: item });
    }
  };
  add(cfg.attributes, "attributes");
  add(cfg.timeseries, "telemetry");
  return out;
}

/** Property names a key template asks for, e.g. "${objectName} temp" → [objectName]. */
function keyTags(key: string): number[] {
  const out: number[] = [];
  for (const m of key.matchAll(/\$\{([^}]+)\}/g)) {
    const p = propertyNumber(m[1]!);
    if (p !== undefined) out.push(p);
  }
  return out;
}

/** Every property read a poll needs, deduplicated. */
export function pollRefs(items: ResolvedItem[]): PropertyRef[] {
  const seen = new Set<string>();
  const refs: PropertyRef[] = [];
  for (const it of items) {
    const props = it.properties === "*" ? [ALL] : [...it.properties, ...keyTags(it.key)];
    for (const propertyId of props) {
      const k = `${it.objectType}:${it.instance}:${propertyId}`;
      if (seen.has(k)) continue;
      seen.add(k);
      refs.push({ objectType: it.objectType, instance: it.instance, propertyId });
    }
  }
  return refs;
}

/**
 * Poll results → one ConvertedData. Properties that failed (BACnet errors) are skipped; `onError`
 * hears about each so the caller can log it once.
 */
export function convertResults(
  items: ResolvedItem[],
  results: PropertyResult[],
  device: { name: string; type: string },
  onError: (what: string, e: Error) => void,
): ConvertedData {
  const byObject = new Map<string, Map<number, PropertyResult>>();
  for (const r of results) {
    const k = `${r.objectType}:${r.instance}`;
    if (!byObject.has(k)) byObject.set(k, new Map());
    byObject.get(k)!.set(r.propertyId, r);
  }
  const attributes: Record<string, unknown> = {};
  const telemetry: Record<string, unknown> = {};
  for (const it of items) {
    const props = byObject.get(`${it.objectType}:${it.instance}`);
    if (!props) continue;
    const value = (p: number): unknown => {
      const r = props.get(p);
      if (!r) return undefined;
      try {
        return toTbValue(r.values, it.objectType, p);
      } catch (e) {
        if (e instanceof PropertyError) onError(`${it.key} (${it.objectType}:${it.instance} ${propertyName(p)})`, e);
        else throw e;
        return undefined;
      }
    };
    const key = it.key.replace(/\$\{([^}]+)\}/g, (m, tag: string) => {
      const p = propertyNumber(tag);
      const v = p !== undefined ? value(p) : undefined;
      return v !== undefined ? String(v) : m;
    });
    const wanted = it.properties === "*" ? [...props.keys()].filter((p) => p !== ALL) : it.properties;
    const target = it.kind === "attributes" ? attributes : telemetry;
    for (const p of wanted) {
      const v = value(p);
      if (v === undefined) continue;
      target[wanted.length === 1 && it.properties !== "*" ? key : `${key}.${propertyName(p)}`] = v;
    }
  }
  const out: ConvertedData = { deviceName: device.name, deviceType: device.type };
  if (Object.keys(attributes).length) out.attributes = attributes;
  if (Object.keys(telemetry).length) out.telemetry = [{ values: telemetry }];
  return out;
}
