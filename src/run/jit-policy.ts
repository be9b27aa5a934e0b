// The compiled binary starts with JIT tier-up thresholds raised ×1000 (build.ts, jitPolicy), so
// code that runs only during start-up (config validation, schema construction, connecting) stays
// interpreted and never costs compiled code or the compiler's pages: less memory at idle. Once
// data flows (BUSY_RECORDS taken in), the normal policy comes back so the data path is compiled as
// it gets hot. The threshold is low on purpose: at 200 messages/s the interpreted data path cost
// 8.6-9.4 % of a core against 6.2-6.6 % compiled (bench/low-rate.ts, 1,000 datapoints/s, sqlite),
// and 20,000 records kept it interpreted for 100 s. Compiling costs memory (peak RSS 55 -> 69-71 MB
// in that run); an idle gateway, which stores no records, keeps its small footprint.
// Datapoints count too: a poller sends few, large records (Modbus 100 slaves x 50 registers x 1 s is
// 100 records but 5,000 datapoints a second), whose converter, packing and JSON work per record is
// 50 keys' worth. On records alone it stayed interpreted for 10 s and was still compiling 10-30 s after
// start (7.6 core-s per million datapoints in that window against 5.8 once compiled, bench/modbus-gateway.ts).

import type { Gateway } from "../core/gateway.ts";

/** Records stored since start after which the gateway counts as busy (5 s at 200 messages/s). */
export const BUSY_RECORDS = 1_000;
/** Datapoints taken in since start after which the gateway counts as busy (4 s at 5,000 datapoints/s). */
export const BUSY_DATAPOINTS = 20_000;
const CHECK_MS = 1000;

type Unsafe = { setJITPolicy?: (scale: number) => void };

const runtimeSetPolicy = (): ((scale: number) => void) | undefined => (Bun as unknown as { unsafe?: Unsafe }).unsafe?.setJITPolicy;

/**
 * Keeps `fns` out of JSC's top tier (FTL); they still reach baseline and DFG. For large functions
 * on the data path whose FTL compile costs more than its code saves at the rates sites run: at
 * 10,000 datapoints/s, `buildPublishes` and `putOne` took ~20 ms of FTL compile each in the first
 * seconds after start, and `putOne`'s FTL code was thrown away again (an OSR exit) and recompiled.
 * Kept at DFG (bench/low-rate.ts, 10,000 datapoints/s, 15 runs alternating with the build before):
 * the first 10 s cost less in 13 of 15, the minute from start less in 11 (equal in 1), by 0.23
 * points of a core on average, a small gain next to this machine's drift but one that the compile
 * report explains; full load, peak RSS at 160,000 datapoints/s and Modbus 300 x 50 x 100 ms are
 * unchanged. The JSON mapping's `fill`, kept out too, made it worse: its FTL code pays for itself.
 * A Bun without bun:jsc's noFTL runs them as before.
 */
export function keepOutOfTopTier(fns: ReadonlyArray<(...args: never[]) => unknown>): void {
  let noFTL: ((f: unknown) => void) | undefined;
  try {
    noFTL = (require("bun:jsc") as { noFTL?: (f: unknown) => void }).noFTL;
  } catch {
    return;
  }
  for (const f of fns) noFTL?.(f);
}

/** The normal policy at once: for every command but `run` (bench, scan, tail, validate work from the start). */
export function useNormalJitPolicy(): void {
  runtimeSetPolicy()?.(1);
}

function busy(gw: Gateway): boolean {
  let records = 0;
  let datapoints = 0;
  for (const s of gw.pipeline.stats.values()) {
    records += s.recordsStored;
    datapoints += s.datapointsReceived;
  }
  return records >= BUSY_RECORDS || datapoints >= BUSY_DATAPOINTS;
}

/**
 * Restores the normal JIT policy once the gateway is busy, calling `beforeRestore` first (run-gateway:
 * the start-up shrink, while the data path is still interpreted); returns a stop function.
 */
export function restoreJitPolicyWhenBusy(gw: Gateway, setPolicy = runtimeSetPolicy(), beforeRestore: () => void = () => {}): () => void {
  if (!setPolicy) return () => {};
  const timer = setInterval(() => {
    if (!busy(gw)) return;
    clearInterval(timer);
    beforeRestore();
    setPolicy(1);
  }, CHECK_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}
