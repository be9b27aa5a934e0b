// Turns a slave's attributes/timeseries into read keys, then merges neighbouring keys into as few
// requests as the protocol allows (≤ 125 registers / 2000 bits), so one poll costs few round trips.

import type { ReportStrategyConfig } from "../../core/model.ts";
import { canonicalType, typeWidth, type CanonicalType, type PostOptions } from "./codec.ts";
import type { KeyConfig } from "./schema.ts";

export interface ReadKey {
  section: "attributes" | "timeseries";
  tag: string;
  functionCode: number;
  address: number;
  /** Registers or bits read for this key. */
  count: number;
  type: CanonicalType;
  config: KeyConfig;
  strategy?: ReportStrategyConfig;
  /** decodeKey's post-processing options, built on first use */
  post?: PostOptions;
}

export interface ReadBlock {
  functionCode: number;
  address: number;
  count: number;
  keys: ReadKey[];
}

export const MAX_REGISTERS = 125;
export const MAX_BITS = 2000;

export function objectsCountOf(k: KeyConfig): number {
  return k.objectsCount ?? k.registersCount ?? k.registerCount ?? 1;
}

function isBitFc(fc: number): boolean {
  return fc === 1 || fc === 2;
}

/** How many registers/bits a key occupies. */
export function readCount(fc: number, type: CanonicalType, objectsCount: number): number {
  if (isBitFc(fc)) return objectsCount;
  if (type === "string" || type === "bytes" || type === "bits") return objectsCount;
  return Math.max(objectsCount, typeWidth(type));
}

function substitute(tag: string, vars: Record<string, string | number>): string {
  return tag.replace(/\$\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** Expand one configured key (a wide range "a-b" becomes one key per objectsCount chunk). */
export function expandKey(k: KeyConfig, section: ReadKey["section"], unitId: number, warn: (m: string) => void): ReadKey[] {
  const fc = k.functionCode ?? 3;
  const count = objectsCountOf(k);
  const type = canonicalType(k.type, count);
  const n = readCount(fc, type, count);
  const base = { section, functionCode: fc, count: n, type, config: k, strategy: k.reportStrategy };
  if (typeof k.address === "number") return [{ ...base, tag: k.tag, address: k.address }];
  const [from, to] = k.address.split("-").map((s) => Number.parseInt(s.trim(), 10)) as [number, number?];
  if (to === undefined) return [{ ...base, tag: k.tag, address: from }];
  let tag = k.tag;
  if (!tag.includes("${address}")) {
    warn(`key "${k.tag}" reads the range ${k.address} but its tag has no \${address}; appending _\${address}`);
    tag = `${tag}_\${address}`;
  }
  const out: ReadKey[] = [];
  for (let a = from; a <= to; a += count) {
    const vars = { address: a, unitId, functionCode: fc, type: k.type, objectsCount: count };
    out.push({ ...base, tag: substitute(tag, vars), address: a });
  }
  return out;
}

/**
 * Merge keys of one function code whose ranges touch, overlap or leave a gap of at most `maxGap`
 * registers/bits, within the per-request limit. A gap the device does not map makes the merged read
 * fail with an exception; the poller then splits that block back into single keys (device.ts).
 */
export function mergeReads(keys: ReadKey[], maxGap = 16, limits = { registers: MAX_REGISTERS, bits: MAX_BITS }): ReadBlock[] {
  const sorted = [...keys].sort((a, b) => a.functionCode - b.functionCode || a.address - b.address);
  const blocks: ReadBlock[] = [];
  let cur: ReadBlock | undefined;
  for (const k of sorted) {
    const limit = isBitFc(k.functionCode) ? limits.bits : limits.registers;
    if (cur && cur.functionCode === k.functionCode && k.address <= cur.address + cur.count + maxGap) {
      const end = Math.max(cur.address + cur.count, k.address + k.count);
      if (end - cur.address <= limit) {
        cur.count = end - cur.address;
        cur.keys.push(k);
        continue;
      }
    }
    cur = { functionCode: k.functionCode, address: k.address, count: k.count, keys: [k] };
    blocks.push(cur);
  }
  return blocks;
}
