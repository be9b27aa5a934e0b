// Once the gateway is up, its heap still holds what only start-up needed: the config texts and
// their parse trees, schema-check results, diagnostics, and the bytecode and compiled code of
// functions that ran once (validation, schema construction, connecting). One pass of Bun.shrink
// (JavaScriptCore's shrinkFootprint: a full collection that also drops code not in use, then
// returns free memory to the system) gives that back. Functions needed later are relinked from
// the executable's bytecode on their next call, so only a one-off, sub-millisecond cost moves to
// the first message. Measured on an idle gateway (bench/idle-rss.ts): see the README, Memory at idle.

/** Long enough for connectors and the platform session to be connected: start-up is over. */
export const SHRINK_DELAY_MS = 3000;

type Shrinkable = { shrink?: () => void };

/**
 * Schedules the one shrink, and `then` right after it (run-gateway: releaseCodePages); returns a
 * cancel function (a gateway stopping early skips both).
 */
export function shrinkAfterStart(delayMs = SHRINK_DELAY_MS, shrink = (Bun as unknown as Shrinkable).shrink, then?: () => void): () => void {
  if (!shrink && !then) return () => {};
  const timer = setTimeout(() => {
    shrink?.call(Bun);
    then?.();
  }, delayMs);
  timer.unref?.();
  return () => clearTimeout(timer);
}
