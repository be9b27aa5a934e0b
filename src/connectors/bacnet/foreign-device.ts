// Foreign-device registration with a BBMD (`foreignDevice` in the config; ASHRAE 135 Annex J.5.2).
// A foreign device is on a subnet without a BBMD of its own: it registers with a remote BBMD for
// `ttl` seconds and must re-register before the entry expires; while registered, its broadcasts
// (Who-Is) go to the BBMD as Distribute-Broadcast-To-Network and the BBMD forwards the network's
// broadcasts (I-Am) back as Forwarded-NPDU.

import type { Logger } from "../../observe/logger.ts";
import { errorText } from "../../observe/logger.ts";
import { normaliseSender } from "./names.ts";
import type { BacnetSession } from "./session.ts";

/** Longest wait between attempts after a failed registration. */
const MAX_RETRY_MS = 30_000;

export class ForeignDeviceRegistration {
  /** True while the BBMD holds an entry for us (last registration acknowledged). */
  registered = false;
  readonly bbmd: string;
  private timer?: ReturnType<typeof setTimeout>;
  private lastError?: string;
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly session: BacnetSession,
    bbmd: string,
    private readonly ttlSeconds: number,
    private readonly log: Logger,
    /** Called after the first successful registration (and after one that follows a failure). */
    private readonly onRegistered: () => void,
  ) {
    this.bbmd = normaliseSender(bbmd.trim());
  }

  start(): void {
    void this.attempt();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Re-register at half the TTL: the BBMD keeps an entry for TTL + 30 s (J.5.2.1), so half leaves
   * room for a lost frame and a retry even with short TTLs.
   */
  private refreshMs(): number {
    return Math.max(500, this.ttlSeconds * 500);
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    let next: number;
    try {
      await this.session.registerForeignDevice(this.bbmd, this.ttlSeconds);
      if (this.stopped) return;
      const fresh = !this.registered;
      this.registered = true;
      this.failures = 0;
      if (fresh) this.log.info(`registered as a foreign device with BBMD ${this.bbmd} (ttl ${this.ttlSeconds} s); Who-Is goes through it`);
      this.lastError = undefined;
      if (fresh) this.onRegistered();
      next = this.refreshMs();
    } catch (e) {
      if (this.stopped) return;
      const msg = /Result:48\b/.test(errorText(e)) ? "the BBMD refused the registration (NAK)" : errorText(e);
      this.registered = false;
      this.failures++;
      next = Math.min(MAX_RETRY_MS, this.refreshMs() * this.failures);
      if (msg !== this.lastError) this.log.error(`foreign-device registration with BBMD ${this.bbmd} failed: ${msg}; retrying (next in ${Math.round(next / 1000)} s), Who-Is is broadcast locally meanwhile`);
      this.lastError = msg;
    }
    this.timer = setTimeout(() => void this.attempt(), next);
  }
}
