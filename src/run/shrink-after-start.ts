// Once the gateway is up, its heap still holds what only start-up needed: the config texts and
// their parse trees, schema-check results, diagnostics, and the bytecode and compiled code of
// functions that ran once (validation, schema construction, connecting). One pass of Bun.shrink
// (JavaScriptCore's shrinkFootprint: a full collection that also drops code not in use, then
// returns free memory to the system) gives that back. Functions needed later are relinked from
// the executable's bytecode on their next call, so only a one-off, sub-millisecond cost moves to
// the first message. Measured on an idle gateway (bench/idle-rss.ts): see the README, Memory at idle.
//
// The shrink drops compiled code in use too. A gateway that is busy before the delay is over
// (jit-policy.ts: the normal JIT policy comes back and its data path gets compiled) is shrunk at
// that moment instead, just before the policy changes, while its data path is still interpreted:
// shrunk at 3 s, the data path compiled in the first seconds was thrown away and compiled a
// second time (baseline, DFG and FTL: 146 compilations in the first 20 s at 10,000 datapoints/s,
// 84 when shrunk as it turns busy). Not shrinking a busy gateway at all also kept that code, but
// left the start-up memory in place (Modbus 300 slaves x 50 registers x 100 ms: peak RSS 95 and
// 112 MB against 89 and 91; shrunk as it turns busy: 89 and 91 against 87 and 89).

/**
 * Long enough for connectors and the platform session to be connected: start-up is over.
 * TB_GW_STARTUP_SHRINK_MS sets another delay (a test that must see the shrink at busy sets it long,
 * so that a slow start on a loaded machine cannot let the timer come first).
 */
export const SHRINK_DELAY_MS = Number(process.env.TB_GW_STARTUP_SHRINK_MS) || 3000;

type Shrinkable = { shrink?: () => void };

export class StartupShrink {
  private done = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** Runs right after the shrink (run-gateway: releaseCodePages). */
    private readonly then: () => void = () => {},
    private readonly shrink: (() => void) | undefined = (Bun as unknown as Shrinkable).shrink?.bind(Bun),
  ) {}

  /** Shrink after `delayMs` unless it happened already. */
  schedule(delayMs = SHRINK_DELAY_MS): void {
    if (this.done || this.timer) return;
    this.timer = setTimeout(() => this.now(), delayMs);
    this.timer.unref?.();
  }

  /** Shrink now, once (later calls and a scheduled one do nothing); true when it shrank now. */
  now(): boolean {
    if (this.done) return false;
    this.cancel();
    this.done = true;
    this.shrink?.();
    this.then();
    return true;
  }

  /** A gateway stopping early skips it. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
