// The compiled binary starts with JIT tier-up thresholds raised ×1000 (build.ts, jitPolicy), so
// code that runs only during start-up (config validation, schema construction, connecting) stays
// interpreted and never costs compiled code or the compiler's pages: less memory at idle. Once
// data flows (BUSY_RECORDS taken in), the normal policy comes back so the data path is compiled as
// it gets hot. The threshold is low on purpose: at 200 messages/s the interpreted data path cost
// 8.6-9.4 % of a core against 6.2-6.6 % compiled (bench/low-rate.ts, 1,000 datapoints/s, sqlite),
// and 20,000 records kept it interpreted for 100 s. Compiling costs memory (peak RSS 55 -> 69-71 MB
// in that run); an idle gateway, which stores no records, keeps its small footprint.

import type { Gateway } from "../core/gateway.ts";

/** Records stored since start after which the gateway counts as busy (5 s at 200 messages/s). */
export const BUSY_RECORDS = 1_000;
const CHECK_MS = 1000;

type Unsafe = { setJITPolicy?: (scale: number) => void };

const runtimeSetPolicy = (): ((scale: number) => void) | undefined => (Bun as unknown as { unsafe?: Unsafe }).unsafe?.setJITPolicy;

/** The normal policy at once: for every command but `run` (bench, scan, tail, validate work from the start). */
export function useNormalJitPolicy(): void {
  runtimeSetPolicy()?.(1);
}

function recordsStored(gw: Gateway): number {
  let n = 0;
  for (const s of gw.pipeline.stats.values()) n += s.recordsStored;
  return n;
}

/** Restores the normal JIT policy once the gateway is busy; returns a stop function. */
export function restoreJitPolicyWhenBusy(gw: Gateway, setPolicy = runtimeSetPolicy()): () => void {
  if (!setPolicy) return () => {};
  const timer = setInterval(() => {
    if (recordsStored(gw) < BUSY_RECORDS) return;
    clearInterval(timer);
    setPolicy(1);
  }, CHECK_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}
