// Offering converted data to the gateway until storage takes it. A refusal (NOT_STORED: storage
// full or closing) is not a reason to drop data a source handed over: the batch is offered again
// with a growing pause (0.1 s up to 1 s, back to 0.1 s while space is freeing), one item at a time
// from where storage stopped taking it, so a batch larger than the free space still gets in as
// space frees (offering it whole again would store the same first items over and over). Items
// stored by a refused whole-batch attempt may be stored twice: at least once, never lost.
// Meanwhile the caller holds its source: the MQTT connector its acknowledgements, the Socket
// connector its reading (TCP pushes back to the device). Batches given while one is being offered
// again wait behind it: a later batch must not slip into storage first when space frees, or a
// device's data would arrive at the platform out of order.

import type { ConnectorContext } from "./connector.ts";
import type { ConvertedData } from "./model.ts";
import { errorText } from "../observe/logger.ts";

export class StoreUntilTaken {
  private stopping = false;
  private readonly sleepers = new Set<() => void>();
  /** Start of the current refusal episode (logged once at its start and once at its end). */
  private refusedSince = 0;
  private lastStatus = "SUCCESS";
  /** Batches waiting in line or being offered again after a refusal. */
  private queued = 0;
  /** Settles when the last batch in line is taken (or given up at stop). */
  private line: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: ConnectorContext,
    /** What the caller does while it waits, for the log ("holding acknowledgements"). */
    private readonly holding: string,
    /** What becomes of data still unstored at stop, for the log. */
    private readonly atStop: string,
  ) {}

  /**
   * True once stored (or permanently refused: FAILURE, FORBIDDEN_DEVICE); false when stopped first.
   * Calls may overlap (a caller need not wait for one batch before the next); while one is being
   * offered again, later ones wait behind it, so data reaches storage in the order it was given.
   */
  async store(data: ConvertedData[], what: string): Promise<boolean> {
    if (this.queued === 0) {
      const status = await this.offer(data.length === 1 ? data[0]! : data);
      if (!isRefusal(status)) return this.settled(status);
      if (this.queued === 0) return this.inLine(data, what, status);
    }
    // someone is being offered again: go after them (an item already refused, or a batch not yet offered)
    return this.inLine(data, what);
  }

  /** Queue behind the batches being offered again, then offer `data` until it is taken. */
  private async inLine(data: ConvertedData[], what: string, refused?: string): Promise<boolean> {
    this.queued++;
    const before = this.line;
    let done!: () => void;
    this.line = new Promise<void>((r) => (done = r));
    try {
      await before;
      return await this.untilTaken(data, what, refused ?? (await this.offer(data.length === 1 ? data[0]! : data)));
    } finally {
      this.queued--;
      done();
    }
  }

  private async untilTaken(data: ConvertedData[], what: string, first: string): Promise<boolean> {
    let status = first;
    let next = 0;
    for (let attempt = 0; isRefusal(status); attempt++) {
      if (this.stopping) {
        this.ctx.log.warn(`${what} not stored at stop (storage did not take them); ${this.atStop}`);
        return false;
      }
      if (!this.refusedSince) {
        this.refusedSince = Date.now();
        this.ctx.log.warn(`storage did not take device data (${status}); ${this.holding} and offering it again`);
      }
      await this.pause(Math.min(100 * 2 ** attempt, 1000));
      const from = next;
      while (next < data.length) {
        status = await this.offer(data[next]!);
        if (isRefusal(status)) break;
        next++;
      }
      if (next > from) attempt = -1; // space is freeing: look again soon
    }
    if (this.refusedSince && this.queued <= 1) {
      this.ctx.log.info(`storage takes data again after ${((Date.now() - this.refusedSince) / 1000).toFixed(1)} s; held device data stored`);
      this.refusedSince = 0;
    }
    return this.settled(status);
  }

  private settled(status: string): true {
    if (status !== this.lastStatus) {
      if (status !== "SUCCESS") this.ctx.log.warn(`gateway did not accept data (${status})`);
      this.lastStatus = status;
    }
    return true;
  }

  /** Stop offering refused data again: store() calls waiting on storage return false. */
  stop(): void {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
  }

  private async offer(data: ConvertedData | ConvertedData[]): Promise<string> {
    try {
      return await this.ctx.sendData(data);
    } catch (e) {
      return `NOT_STORED: ${errorText(e)}`;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

const isRefusal = (status: string) => status.startsWith("NOT_STORED");
