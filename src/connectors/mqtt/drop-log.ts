// Logging of dropped device messages, once per topic per episode. A topic stands for its device
// here: a message that cannot be read has no device name yet. The first drop on a topic is logged
// at once with its reason; further drops on it (any reason) are only counted, and when the topic
// has been free of drops for `quietMs` the episode is closed with one line giving the count per
// reason. A broken device that sends garbage all day therefore writes two lines, not one per
// message (nor one per distinct parser message). Every drop is also counted in the connector's
// statistics through `count`.
import type { Logger } from "../../observe/logger.ts";

interface Episode {
  started: number;
  last: number;
  /** Drops after the logged first one, per reason. */
  more: Map<string, number>;
}

/** Topics with an open episode above which the oldest are closed (a flood over endless topics). */
const MAX_EPISODES = 10_000;
/** Distinct reasons counted per episode. */
const MAX_REASONS = 20;

export class DropLog {
  private readonly episodes = new Map<string, Episode>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** Total messages dropped since start (for tests and statistics). */
  dropped = 0;

  constructor(
    private readonly log: Logger,
    private readonly count: (reason: string) => void = () => {},
    private readonly quietMs = 60_000,
    // monotonic: a step of the system clock neither prolongs nor ends an episode
    private readonly now: () => number = () => performance.now(),
  ) {}

  report(topic: string, reason: string): void {
    this.dropped++;
    this.count(reason);
    const now = this.now();
    const open = this.episodes.get(topic);
    if (open && now - open.last < this.quietMs) {
      open.last = now;
      // reasons may carry an error text that varies per message: at most MAX_REASONS kept apart
      const key = open.more.has(reason) || open.more.size < MAX_REASONS ? reason : "other reasons";
      open.more.set(key, (open.more.get(key) ?? 0) + 1);
      return;
    }
    if (open) this.close(topic, open);
    this.log.warn(`dropped message on ${topic}: ${reason}`);
    if (this.episodes.size >= MAX_EPISODES) this.close(this.episodes.keys().next().value!, this.episodes.values().next().value!);
    this.episodes.set(topic, { started: now, last: now, more: new Map() });
    this.sweeper ??= unrefTimer(setInterval(() => this.sweep(), this.quietMs));
  }

  /** Close the episodes that have been quiet for `quietMs` (also run by a timer). */
  sweep(): void {
    const now = this.now();
    for (const [topic, e] of this.episodes) if (now - e.last >= this.quietMs) this.close(topic, e);
    if (this.episodes.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Stop the timer; open episodes are closed with their counts. */
  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const [topic, e] of this.episodes) this.close(topic, e);
  }

  private close(topic: string, e: Episode): void {
    this.episodes.delete(topic);
    if (e.more.size === 0) return;
    let total = 0;
    const reasons: string[] = [];
    for (const [reason, n] of e.more) {
      total += n;
      reasons.push(`${n} × ${reason}`);
    }
    const secs = Math.round((e.last - e.started) / 1000);
    this.log.warn(`dropped ${total} more message(s) on ${topic} in ${secs} s after the first: ${reasons.join("; ")}`);
  }
}

function unrefTimer<T>(t: T): T {
  (t as { unref?: () => void }).unref?.();
  return t;
}
