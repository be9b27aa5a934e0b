// Storage → platform. Reads batches while the session is ready, groups each batch by device,
// packs publishes by the payload limit and keeps a bounded number of publishes awaiting PUBACK.
// A batch is acknowledged to storage only when every publish carrying it was acknowledged.
// (Upstream sends one pack and waits for all its acks, which caps it at round-trip speed.)

import type { Batch, EventStorage } from "../storage/types.ts";
import type { EventBus } from "../observe/events.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import type { PlatformClient } from "./client.ts";
import { OversizedLog, tooLarge } from "./oversized.ts";
import { buildPublishes, type Publish } from "./packing.ts";
import { RateLimiter } from "./rate-limit.ts";

/** The gateway's safety-net sleep when storage is empty (see SenderOptions.idleDelayMs). */
export const IDLE_CHECK_MS = 1000;

export interface SenderOptions {
  /** Records asked of storage per batch. */
  batchRecords: number;
  /**
   * After a read that emptied storage (traffic slower than the sender), the next read waits for
   * storage to announce new data and comes at least this long after that read, so the records of
   * several device messages go in one read, one publish and one platform acknowledgement instead
   * of one each. A full batch is followed by the next read at once.
   */
  gatherMs?: number;
  /**
   * Longest sleep when storage is empty. Storage announces new data (onAvailable), so this is only
   * a safety net: upstream polls every minPackSendDelayMS (50 ms), which woke an idle gateway 20
   * times a second for nothing.
   */
  idleDelayMs: number;
  /** Name on the platform for a connector-side device name (renaming). */
  platformName: (device: string) => string;
  /** Connector a device's data came from (device registry), for per-connector sent/acked counts. */
  connectorOf?: (device: string) => string | undefined;
  /** Datapoints of a (connector-side) device dropped because the platform would refuse them by size. */
  onDropped?: (device: string, datapoints: number, reason: string) => void;
}

export interface SenderStats {
  messagesSent: number;
  datapointsSent: number;
  bytesSent: number;
  recordsAcked: number;
  datapointsAcked: number;
  /** Datapoints sent and acknowledged per connector; data of devices no connector owns is not in here. */
  perConnector: Map<string, ConnectorSendStats>;
}

export interface ConnectorSendStats {
  datapointsSent: number;
  datapointsAcked: number;
}

export class Sender {
  private inflight = 0;
  /** Platform sessions seen, and the current one's number (publishes are tagged with it). */
  private sessions = 0;
  private session = 0;
  private running = false;
  private wake: (() => void) | undefined;
  /** Ends a gather() pause early at stop. */
  private stopWake: (() => void) | undefined;
  /** Storage announced new data since the last read. */
  private dataSignalled = false;
  /** The last read emptied storage: the next one waits for new data, and not before this time. */
  private gatherUntil = 0;
  /** The loop waits for a publish slot: a PUBACK wakes it (otherwise PUBACKs do not). */
  private waitingForSlot = false;
  private failed = false;
  private readonly telemetryLimiter = new RateLimiter([]);
  private readonly dpLimiter = new RateLimiter([]);
  private readonly messageLimiter = new RateLimiter([]);
  readonly stats: SenderStats = { messagesSent: 0, datapointsSent: 0, bytesSent: 0, recordsAcked: 0, datapointsAcked: 0, perConnector: new Map() };
  private loopDone: Promise<void> | undefined;
  private readonly oversized: OversizedLog;

  constructor(
    private readonly storage: EventStorage,
    private readonly client: PlatformClient,
    private readonly opts: SenderOptions,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {
    this.oversized = new OversizedLog(log);
    storage.onAvailable(() => {
      this.dataSignalled = true;
      this.poke();
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Something changed (data available, session ready, an ack freed a slot). */
  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private applyLimits(): void {
    const rl = this.client.limits.rateLimits;
    this.telemetryLimiter.set(rl.telemetryMessages ?? []);
    this.dpLimiter.set(rl.telemetryDataPoints ?? []);
    this.messageLimiter.set(rl.messages ?? []);
  }

  /**
   * Called when the session (re)starts: limits may have changed, and whatever was in flight when
   * the previous session dropped is sent again from storage, oldest first, so nothing depends on
   * the MQTT client's own resend (duplicates are possible; order per device is kept).
   */
  sessionReady(): void {
    this.applyLimits();
    if (this.sessions++ > 0) {
      this.session++;
      this.inflight = 0;
      this.failed = false;
      this.storage.rewind();
    }
    this.poke();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!this.client.ready || this.inflight >= this.client.limits.maxInflight || this.failed) {
        await this.slotSleep();
        continue;
      }
      if (this.gatherUntil !== 0) {
        // The last read emptied storage: sleep until storage announces new data (no timer firing
        // per batch under steady traffic), then let it gather until gatherMs after that read, so
        // several device messages go in one read and one publish. The idle timeout is a safety net.
        if (!this.dataSignalled) await this.sleep(this.opts.idleDelayMs || IDLE_CHECK_MS);
        const wait = this.gatherUntil - performance.now();
        this.gatherUntil = 0;
        if (wait > 0 && this.running) await this.gather(wait);
        continue;
      }
      this.dataSignalled = false;
      const batch = this.storage.next(this.opts.batchRecords);
      if (!batch) {
        await this.sleep(this.opts.idleDelayMs || IDLE_CHECK_MS);
        continue;
      }
      try {
        await this.sendBatch(batch);
      } catch (e) {
        this.log.error(`sending a batch failed: ${errorText(e)}`);
        this.failed = true;
      }
      if (batch.records.length < this.opts.batchRecords && this.opts.gatherMs) this.gatherUntil = performance.now() + this.opts.gatherMs;
    }
  }

  /** Wait for a publish slot (a PUBACK), the session, or recovery; at most 1 s. */
  private async slotSleep(): Promise<void> {
    this.waitingForSlot = true;
    try {
      await this.sleep(1000);
    } finally {
      this.waitingForSlot = false;
    }
  }

  /** A pause that new data does not cut short (stop does). */
  private gather(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.stopWake = undefined;
        resolve();
      }, ms);
      this.stopWake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async sendBatch(batch: Batch): Promise<void> {
    // Per connector: one map entry per device of the batch, summed per connector once; the
    // counters are the connector's own objects, so the ack adds without another lookup.
    const perDevice = this.opts.connectorOf ? new Map<string, number>() : undefined;
    const publishes = this.withoutOversized(buildPublishes(batch.records, this.client.limits.maxPayloadBytes, this.opts.platformName, perDevice));
    const perConnector = perDevice && this.byConnector(perDevice);
    let pending = publishes.length;
    let batchFailed = false;
    let dps = 0;
    for (const p of publishes) dps += p.datapoints;
    const session = this.session;
    const settle = (err?: Error) => {
      // Publishes of an earlier session no longer count against the window (storage was rewound),
      // but their PUBACKs still acknowledge what they carried.
      if (session === this.session) this.inflight--;
      if (err) batchFailed = true;
      if (--pending === 0) {
        if (batchFailed) this.onBatchFailed(err);
        else {
          this.storage.ack(batch);
          this.stats.recordsAcked += batch.records.length;
          this.stats.datapointsAcked += dps;
          if (perConnector) for (const [c, n] of perConnector) c.datapointsAcked += n;
          if (this.events.wants("acked")) this.events.emit({ kind: "acked", records: batch.records.length, datapoints: dps, batch: batch.records });
        }
      }
      // a freed slot matters only to a loop waiting for one (waking it per PUBACK cost a timer each)
      if (this.waitingForSlot) this.poke();
    };
    if (publishes.length === 0) {
      this.storage.ack(batch);
      return;
    }
    for (const p of publishes) {
      await this.respectLimits(p);
      // Stopping: what is not published yet stays in storage (the batch is never acked).
      if (!this.running) break;
      while (this.inflight >= this.client.limits.maxInflight && this.running) await this.slotSleep();
      this.inflight++;
      this.stats.messagesSent++;
      this.stats.datapointsSent += p.datapoints;
      this.stats.bytesSent += p.payload.length;
      this.client.publishRaw(p.topic, p.payload, settle);
    }
    if (perConnector) for (const [c, n] of perConnector) c.datapointsSent += n;
    if (this.events.wants("sent")) {
      let bytes = 0;
      for (const p of publishes) bytes += p.payload.length;
      this.events.emit({ kind: "sent", messages: publishes.length, datapoints: dps, bytes });
    }
  }

  /** Publishes the platform would refuse by size are dropped with an error (see oversized.ts); the rest go. */
  private withoutOversized(publishes: Publish[]): Publish[] {
    const limit = this.client.limits.platformPayloadBytes;
    let out: Publish[] | undefined;
    for (let i = 0; i < publishes.length; i++) {
      const p = publishes[i]!;
      if (!tooLarge(p, limit)) {
        out?.push(p);
        continue;
      }
      out ??= publishes.slice(0, i);
      const devices = this.oversized.dropped(p, limit);
      // the packer gives an oversized value a publish of its own: one device
      if (devices[0] !== undefined) this.opts.onDropped?.(devices[0], p.datapoints, "larger than the platform accepts");
    }
    return out ?? publishes;
  }

  private byConnector(perDevice: Map<string, number>): Map<ConnectorSendStats, number> {
    const out = new Map<ConnectorSendStats, number>();
    for (const [device, n] of perDevice) {
      const name = this.opts.connectorOf!(device);
      if (name === undefined) continue;
      let c = this.stats.perConnector.get(name);
      if (!c) this.stats.perConnector.set(name, (c = { datapointsSent: 0, datapointsAcked: 0 }));
      out.set(c, (out.get(c) ?? 0) + n);
    }
    return out;
  }

  private async respectLimits(p: Publish): Promise<void> {
    for (;;) {
      let wait = this.messageLimiter.take(1);
      if (wait === 0 && p.telemetry) {
        wait = Math.max(this.telemetryLimiter.take(1), this.dpLimiter.take(p.datapoints));
      }
      if (wait === 0 || !this.running) return;
      // a rate-limit window may be long (e.g. 60 s): stop() must not wait for it
      await this.sleep(wait);
    }
  }

  private onBatchFailed(err: Error | undefined): void {
    this.log.warn(`platform did not acknowledge a publish (${err ? errorText(err) : "unknown"}); the batch stays in storage and is sent again`);
    this.failed = true;
    if (this.inflight === 0) this.recover();
    else setTimeout(() => this.recoverWhenIdle(), 100);
  }

  private recoverWhenIdle(): void {
    if (this.inflight === 0) this.recover();
    else setTimeout(() => this.recoverWhenIdle(), 100);
  }

  private recover(): void {
    this.storage.rewind();
    this.failed = false;
    this.poke();
  }

  get inflightPublishes(): number {
    return this.inflight;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    this.stopWake?.();
    await this.loopDone;
  }

  /** Wait until nothing is awaiting PUBACK (bounded), for a graceful shutdown. */
  async drain(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return this.inflight === 0;
  }
}
