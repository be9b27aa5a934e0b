// Small pieces every storage kind needs: coalesced availability callbacks, the "full" and
// "write failing" episode loggers, and the waiters behind whenDurable().

import type { EventBus } from "../observe/events.ts";
import { errorText, type Logger } from "../observe/logger.ts";

/** While writes fail, at most this many records wait in memory; further puts are refused. */
export const MAX_HELD_WHILE_FAILING = 100_000;

/** Calls the registered callbacks at most once per tick, however many records arrived. */
export class AvailabilitySignal {
  private callbacks: Array<() => void> = [];
  private scheduled = false;

  add(cb: () => void): void {
    this.callbacks.push(cb);
  }

  fire(): void {
    if (this.scheduled || this.callbacks.length === 0) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const cb of this.callbacks) {
        try {
          cb();
        } catch {
          // the reader's problem must not break the writer's put()
        }
      }
    });
  }

  clear(): void {
    this.callbacks = [];
  }
}

/** After a logged "storage full", further episodes within this time are counted, not logged. */
export const FULL_LOG_EVERY_MS = 60_000;

/**
 * Tracks a "storage full" episode so the warning is logged once when it starts and once when
 * space returns, with counts, instead of once per refused record. A storage that hovers at its
 * limit (intake faster than the platform takes) flips between full and accepting many times a
 * second: within a minute of a logged episode, new ones are counted and named in the next line.
 */
export class FullEpisode {
  private refusedRecords = 0;
  private refusedCalls = 0;
  private active = false;
  private loggedAt = -Infinity;
  /** Episodes since the last logged one, and whether the current one is unlogged. */
  private unlogged = 0;
  private quiet = false;

  constructor(
    private readonly log: Logger,
    private readonly events?: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  get isFull(): boolean {
    return this.active;
  }

  refused(records: number, depth: number, limitText: string): void {
    if (!this.active) {
      this.active = true;
      this.refusedRecords = 0;
      this.refusedCalls = 0;
      const now = this.now();
      this.quiet = now - this.loggedAt < FULL_LOG_EVERY_MS;
      if (this.quiet) this.unlogged++;
      else {
        const again = this.unlogged ? ` (full ${this.unlogged} more time${this.unlogged === 1 ? "" : "s"} since the last report)` : "";
        this.log.warn(`storage full: ${depth} records stored (${limitText}); refusing new data until the platform acknowledges some${again}`);
        this.loggedAt = now;
        this.unlogged = 0;
      }
      this.events?.emit({ kind: "storage", state: "full", depth, detail: limitText });
    }
    this.refusedRecords += records;
    this.refusedCalls++;
  }

  accepted(depth: number): void {
    if (!this.active) return;
    this.active = false;
    if (!this.quiet) {
      this.log.warn(
        `storage accepting again after ${this.refusedRecords} refused records (${this.refusedCalls} puts); ${depth} records stored`,
      );
    }
    this.events?.emit({ kind: "storage", state: "ok", depth });
  }
}

/** Disk full (no space, or over quota): the write may work once space returns. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL";
}

/**
 * Writes to disk failing (disk full, I/O error): logged once when it starts, saying what happens to
 * the records, and once when writing works again, instead of once per attempt. A full disk is also
 * a `storage` event `full` (and `ok` when it is over).
 */
export class WriteTrouble {
  private since = 0;
  private fullEvent = false;

  constructor(
    private readonly log: Logger,
    private readonly kind: string,
    private readonly events?: EventBus,
  ) {}

  get active(): boolean {
    return this.since > 0;
  }

  /** Writing `target` failed; `held` records are kept in memory for the next attempt. */
  failed(target: string, error: unknown, held: number, depth: number): void {
    if (this.since) return;
    this.since = Date.now();
    const full = isDiskFull(error);
    this.log.error(
      `${this.kind} storage: ${full ? "disk full" : "write failed"} writing ${target} (${errorText(error)}): ` +
        `${held} records not on disk yet, held in memory and retried every second; ` +
        `their sources are acknowledged only once they are written`,
    );
    if (full) {
      this.fullEvent = true;
      this.events?.emit({ kind: "storage", state: "full", depth, detail: `disk full writing ${target}` });
    }
  }

  /** A write worked again; `written` held records went to disk with it. */
  recovered(written: number, depth: number): void {
    if (!this.since) return;
    const seconds = ((Date.now() - this.since) / 1000).toFixed(1);
    this.since = 0;
    this.log.info(`${this.kind} storage: writing works again after ${seconds} s; ${written} held records written`);
    if (this.fullEvent) {
      this.fullEvent = false;
      this.events?.emit({ kind: "storage", state: "ok", depth });
    }
  }
}

/** Promises that resolve once the write counter reaches the value they were created at. */
export class DurableWaiters {
  private waiters: Array<{ upTo: number; resolve: () => void; reject: (e: Error) => void }> = [];
  /** Records accepted so far (monotonic). */
  accepted = 0;
  /** Records known to be on disk. */
  durable = 0;

  wait(): Promise<void> {
    if (this.durable >= this.accepted) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ upTo: this.accepted, resolve, reject }));
  }

  /** Everything accepted until now is on disk. */
  settle(upTo = this.accepted): void {
    this.durable = Math.max(this.durable, upTo);
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.durable) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** On close nothing more will be written: whoever still waits learns that it never will be. */
  failAll(error: Error): void {
    for (const w of this.waiters) w.reject(error);
    this.waiters = [];
  }
}
