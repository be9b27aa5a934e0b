// The compiled binary starts with JIT tier-up thresholds raised ×1000 (build.ts, jitPolicy), so
// code that runs only during start-up (config validation, schema construction, connecting) stays
// interpreted and never costs compiled code or the compiler's pages: less memory at idle. Once
// the gateway is busy (BUSY_RECORDS taken in), the normal policy comes back so the data path is
// compiled as it gets hot. A gateway with light traffic may stay interpreted for a long time; at
// that rate the interpreter's cost is negligible, and the raised thresholds still compile any
// function called often enough.

import type { Gateway } from "../core/gateway.ts";

/** Records stored since start after which the gateway counts as busy. */
export const BUSY_RECORDS = 20_000;
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
