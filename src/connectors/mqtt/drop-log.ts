// Rate-limited logging of dropped device messages: the first drop of a topic+reason is logged at
// once, repeats within a minute are only counted and reported with the next line after it.
import type { Logger } from "../../observe/logger.ts";

export class DropLog {
  private readonly seen = new Map<string, { last: number; suppressed: number }>();
  /** Total messages dropped since start (for tests and statistics). */
  dropped = 0;

  constructor(
    private readonly log: Logger,
    private readonly windowMs = 60_000,
  ) {}

  report(topic: string, reason: string, now = Date.now()): void {
    this.dropped++;
    const key = topic + "\u0000" + reason;
    const s = this.seen.get(key);
    if (s && now - s.last < this.windowMs) {
      s.suppressed++;
      return;
    }
    const more = s && s.suppressed > 0 ? ` (${s.suppressed} more like it in the last ${Math.round((now - s.last) / 1000)} s)` : "";
    this.log.warn(`dropped message on ${topic}: ${reason}${more}`);
    if (this.seen.size > 10_000) this.seen.clear();
    this.seen.set(key, { last: now, suppressed: 0 });
  }
}
