// Names and addresses as upstream configs write them, mapped to BACnet numbers and back.
// Config files use camelCase (analogInput, presentValue); the stack's enums use UPPER_SNAKE;
// bacpypes-style kebab-case (analog-input) is accepted too. Pure functions, no I/O.

import { ObjectType, PropertyIdentifier } from "@bacnet-js/client";

export const DEFAULT_PORT = 47808;

/** "analogInput" | "analog-input" | "ANALOG_INPUT" → "ANALOG_INPUT". */
function toEnumKey(name: string): string {
  return name
    .trim()
    .replace(/[-\s]+/g, "_")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toUpperCase();
}

/** "ANALOG_INPUT" → "analogInput". */
export function toCamel(enumKey: string): string {
  return enumKey.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function lookup(table: Record<string, string | number>, name: string | number): number | undefined {
  if (typeof name === "number") return Number.isInteger(name) && name >= 0 ? name : undefined;
  if (/^\d+$/.test(name.trim())) return Number(name);
  const v = table[toEnumKey(name)];
  return typeof v === "number" ? v : undefined;
}

export function objectTypeNumber(name: string | number): number | undefined {
  return lookup(ObjectType as unknown as Record<string, number>, name);
}

export function propertyNumber(name: string | number): number | undefined {
  return lookup(PropertyIdentifier as unknown as Record<string, number>, name);
}

export function objectTypeName(n: number): string {
  const k = (ObjectType as unknown as Record<number, string>)[n];
  return k ? toCamel(k) : `proprietary${n}`;
}

export function propertyName(n: number): string {
  const k = (PropertyIdentifier as unknown as Record<number, string>)[n];
  return k ? toCamel(k) : `property${n}`;
}

/**
 * Item objectId: an instance number, "*" (every object of the type), "a-b" range, or a list of
 * numbers/ranges. Returns the instances, or "*" ; undefined when unreadable.
 */
export function expandObjectIds(spec: unknown): number[] | "*" | undefined {
  if (spec === "*") return "*";
  const parts = Array.isArray(spec) ? spec : [spec];
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number" && Number.isInteger(p) && p >= 0) out.push(p);
    else if (typeof p === "string" && /^\s*\d+\s*$/.test(p)) out.push(Number(p));
    else if (typeof p === "string" && /^\s*\d+\s*-\s*\d+\s*$/.test(p)) {
      const [a, b] = p.split("-").map((x) => Number(x.trim())) as [number, number];
      if (b < a || b - a > 100_000) return undefined;
      for (let i = a; i <= b; i++) out.push(i);
    } else return undefined;
  }
  return out.length ? out : undefined;
}

/** Upstream mask rules: CIDR 0–32 or a dotted netmask with contiguous ones; anything else → 24. */
export function maskToPrefix(mask: unknown): number {
  if (typeof mask === "number") return Number.isInteger(mask) && mask >= 0 && mask <= 32 ? mask : 24;
  if (typeof mask !== "string") return 24;
  const s = mask.trim();
  if (/^\d{1,2}$/.test(s)) {
    const n = Number(s);
    return n <= 32 ? n : 24;
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return 24;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return 24;
  const bits = octets.map((o) => o.toString(2).padStart(8, "0")).join("");
  return /^1*0*$/.test(bits) ? bits.indexOf("0") === -1 ? 32 : bits.indexOf("0") : 24;
}

/** Broadcast address of the IPv4 subnet `ip`/`prefix` (192.168.1.20/24 → 192.168.1.255); undefined for a non-IPv4 text. */
export function subnetBroadcast(ip: string, prefix: number): string | undefined {
  const o = ip.trim().split(".");
  if (o.length !== 4 || !o.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) return undefined;
  const n = o.reduce((acc, x) => ((acc << 8) | Number(x)) >>> 0, 0);
  const b = (n | (prefix >= 32 ? 0 : 0xffffffff >>> prefix)) >>> 0;
  return [b >>> 24, (b >>> 16) & 255, (b >>> 8) & 255, b & 255].join(".");
}

/** The address a device item names, as "host:port" (patterns kept as written). */
export function deviceAddress(d: { address?: string; host?: string; port?: number | string }): string | undefined {
  if (d.address) {
    const [hostMask, port] = splitPort(d.address);
    const host = hostMask.split("/")[0]!;
    return `${host}:${port ?? DEFAULT_PORT}`;
  }
  if (d.host) return `${d.host}:${d.port ?? DEFAULT_PORT}`;
  return undefined;
}

function splitPort(a: string): [string, string | undefined] {
  const i = a.lastIndexOf(":");
  return i > 0 ? [a.slice(0, i), a.slice(i + 1)] : [a, undefined];
}

/**
 * Address pattern → RegExp over "host:port" strings. `*` alone matches anything; an octet `*` or
 * with `X` placeholders matches digits; `host:*` any port; `*:port` any host; no port = 47808.
 * `net:addr` remote-network addresses are matched literally.
 */
export function addressPattern(pattern: string): RegExp {
  const p = pattern.trim();
  if (p === "*" || p === "*:*") return /^.*$/;
  const [hostMask, port] = splitPort(p);
  const host = hostMask.split("/")[0]!;
  const hostRe =
    host === "*"
      ? "[^:]+"
      : host
          .split(".")
          .map((o) => (o === "*" ? "\\d{1,3}" : /^[\dxX]+$/.test(o) ? o.replace(/[xX]/g, "\\d") : escapeRe(o)))
          .join("\\.");
  const portRe = port === undefined ? String(DEFAULT_PORT) : port === "*" ? "\\d+" : port.replace(/[^\d]/g, "");
  return new RegExp(`^${hostRe}:${portRe}$`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The stack reports a sender on the default port as a bare IP; normalise to "host:port". */
export function normaliseSender(address: string): string {
  return /:\d+$/.test(address) ? address : `${address}:${DEFAULT_PORT}`;
}

/** "host:port" for the stack: the default port is dropped because the stack adds it back. */
export function stackAddress(hostPort: string): string {
  return hostPort.endsWith(`:${DEFAULT_PORT}`) ? hostPort.slice(0, -`:${DEFAULT_PORT}`.length) : hostPort;
}
