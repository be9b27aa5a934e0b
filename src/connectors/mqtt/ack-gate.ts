// Batching and late acknowledgement. Converted data of one event-loop turn goes to ctx.sendData
// as one array; the PUBACK/PUBREC of each QoS 1/2 message in it is sent only once that sendData
// resolved (the data is in storage). The client keeps reading meanwhile (one storage commit per
// turn, not per message); above `maxHeld` unacknowledged messages it stops reading until
// storage catches up. An ack for a connection that has since dropped is not sent: the broker
// redelivers the message to the next session.
//
// When storage does not take a batch (full, or closing), its acknowledgements are held and the
// batch is offered again with a growing pause (0.1 s up to 1 s) until it is stored: the device
// broker meanwhile stops sending (its in-flight window is full) rather than the data being
// acknowledged and dropped. A batch still unstored when the connector stops is left
// unacknowledged; a persistent session gets it again from the broker.

import type { IncomingMessage } from "../../common/mqtt/client.ts";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";

export interface MessageSink {
  /** Convert one message, pushing results into `batch`; a promise when a converter is async. */
  convertInto(batch: ConvertedData[], topic: string, payload: Buffer): void | Promise<void>;
}

export interface ReadControl {
  pauseReading(): void;
  resumeReading(): void;
}

interface Batch {
  data: ConvertedData[];
  waits: Promise<void>[];
  acks: Array<() => void>;
}

const newBatch = (): Batch => ({ data: [], waits: [], acks: [] });

export class AckGate {
  private current = newBatch();
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private heldCount = 0;
  private paused = false;
  private lastStatus = "SUCCESS";
  private stopping = false;
  /** Wakes batches waiting to be offered again, at stop. */
  private readonly sleepers = new Set<() => void>();
  /** Batches refused by storage in the current episode (logged once at its start and end). */
  private refusedSince = 0;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly maxHeld: number,
    private readonly reading: ReadControl,
  ) {}

  /** One device message; QoS 1/2 messages are acknowledged through `msg.ack` once stored. */
  receive(msg: IncomingMessage, sink: MessageSink): void {
    const b = this.current;
    const before = b.data.length;
    let wait: void | Promise<void> = undefined;
    try {
      wait = sink.convertInto(b.data, msg.topic, msg.payload);
    } catch (e) {
      // a converter bug must not stop the connector; the message is acknowledged and dropped
      this.ctx.log.error(`converting message on ${msg.topic} failed: ${errorText(e)}`);
    }
    if (wait) b.waits.push(wait);
    const hasData = b.data.length > before || wait !== undefined;
    if (hasData && this.immediate === undefined) this.immediate = setImmediate(this.flush);
    if (msg.qos === 0) return;
    if (!hasData) return msg.ack(); // nothing to store (RPC reply, request, dropped message)
    b.acks.push(msg.ack);
    if (++this.heldCount > this.maxHeld && !this.paused) {
      this.paused = true;
      this.reading.pauseReading();
    }
  }

  private readonly flush = (): void => {
    this.immediate = undefined;
    const b = this.current;
    this.current = newBatch();
    const p = this.send(b);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  };

  private async send(b: Batch): Promise<void> {
    let acked = false;
    try {
      if (b.waits.length > 0) await Promise.all(b.waits);
      acked = b.data.length === 0 || (await this.store(b));
    } catch (e) {
      // a converter that failed asynchronously: its message is acknowledged and dropped
      this.ctx.log.error(`converting ${b.acks.length} message(s) failed: ${errorText(e)}`);
      acked = true;
    } finally {
      if (acked) for (const ack of b.acks) ack();
      this.heldCount -= b.acks.length;
      if (this.paused && this.heldCount <= this.maxHeld) {
        this.paused = false;
        this.reading.resumeReading();
      }
    }
  }

  /**
   * Hand a batch to the gateway until it is stored; false when the connector stopped first. After
   * a refusal the batch is offered one message at a time from where storage stopped taking it, so a
   * batch larger than the free space still gets in as space frees (offering it whole again would
   * store the same first messages over and over). Messages stored by the refused whole-batch
   * attempt may be stored twice: at least once, never lost.
   */
  private async store(b: Batch): Promise<boolean> {
    let status = await this.offer(b.data.length === 1 ? b.data[0]! : b.data);
    let next = 0;
    for (let attempt = 0; status.startsWith("NOT_STORED"); attempt++) {
      if (this.stopping) {
        this.ctx.log.warn(`${b.acks.length} device message(s) not acknowledged at stop: storage did not take them; the broker redelivers them to a persistent session`);
        return false;
      }
      if (!this.refusedSince) {
        this.refusedSince = Date.now();
        this.ctx.log.warn(`storage did not take device data (${status}); holding acknowledgements and offering it again (the broker pauses meanwhile)`);
      }
      await this.pause(Math.min(100 * 2 ** attempt, 1000));
      const from = next;
      while (next < b.data.length) {
        status = await this.offer(b.data[next]!);
        if (status.startsWith("NOT_STORED")) break;
        next++;
      }
      if (next > from) attempt = -1; // space is freeing: look again soon
    }
    if (this.refusedSince) {
      this.ctx.log.info(`storage takes data again after ${((Date.now() - this.refusedSince) / 1000).toFixed(1)} s; held device messages acknowledged`);
      this.refusedSince = 0;
    }
    if (status !== this.lastStatus) {
      if (status !== "SUCCESS") this.ctx.log.warn(`gateway did not accept data (${status})`);
      this.lastStatus = status;
    }
    return true;
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

  /** Stop offering refused batches again: they stay unacknowledged. */
  stop(): void {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
  }

  /** Send what is batched now and wait for every batch in flight. */
  async drain(): Promise<void> {
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.flush();
    }
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }
}
