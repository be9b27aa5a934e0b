// The executable's code and read-only data stay mapped once touched: everything start-up ran
// (module loading, config parsing and validation, schema construction, connecting) counts in the
// gateway's RSS for its whole life, though an idle or steady gateway runs a small part of it again.
// Once start-up is over, madvise(MADV_DONTNEED) unmaps those pages from this process; the kernel
// maps back, from the page cache, only the pages still used (a minor fault each, once). Measured:
// bench/idle-rss.ts, see the README, Memory at idle.
//
// Safe only for mappings that were never written: unmapping a copy-on-write page would bring back
// the file's original bytes. So only the executable's read-only mappings ("r-xp", "r--p") whose
// smaps says "Anonymous: 0" (no private copy) are released; a read-only mapping made from written
// pages (JSC's config page, relocated data) has private copies and is skipped. Best effort: any
// failure (no bun:ffi, no libc, /proc unreadable) leaves the pages mapped and is logged at DEBUG.

import { readFileSync, readlinkSync } from "node:fs";
import { errorText, type Logger } from "../observe/logger.ts";

const MADV_DONTNEED = 4;

export interface CleanMapping {
  start: bigint;
  length: bigint;
  rssKb: number;
}

/** The never-written read-only mappings of `exe` in an smaps text. */
export function cleanReadOnlyMappings(smaps: string, exe: string): CleanMapping[] {
  const out: CleanMapping[] = [];
  for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (r-xp|r--p) \S+ \S+ \S+\s+(.*)$/m.exec(block);
    if (!head || head[4] !== exe) continue;
    const anonymous = /^Anonymous:\s+(\d+) kB/m.exec(block);
    if (!anonymous || anonymous[1] !== "0") continue;
    const start = BigInt(`0x${head[1]}`);
    out.push({ start, length: BigInt(`0x${head[2]}`) - start, rssKb: Number(/^Rss:\s+(\d+) kB/m.exec(block)?.[1] ?? 0) });
  }
  return out;
}

/** Unmaps the executable's clean read-only pages; returns the kB that were resident in them. */
export function releaseCodePages(log: Logger): number {
  try {
    const mappings = cleanReadOnlyMappings(readFileSync("/proc/self/smaps", "utf8"), readlinkSync("/proc/self/exe"));
    if (mappings.length === 0) return 0;
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen("libc.so.6", { madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
    let kb = 0;
    try {
      for (const m of mappings) if (libc.symbols.madvise(m.start, m.length, MADV_DONTNEED) === 0) kb += m.rssKb;
    } finally {
      libc.close();
    }
    log.debug(`start-up over: ${(kb / 1024).toFixed(1)} MB of code pages unmapped (mapped again as used)`);
    return kb;
  } catch (e) {
    log.debug(`code pages left mapped: ${errorText(e)}`);
    return 0;
  }
}
