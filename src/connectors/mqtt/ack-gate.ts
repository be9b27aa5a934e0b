// Batching and late acknowledgement. Converted data of one event-loop turn goes to ctx.sendData
// as one array; the PUBACK/PUBREC of each QoS 1/2 message in it is sent only once that sendData
// resolved (the data is in storage). The client keeps reading meanwhile (one storage commit per
// turn, not per message); above `maxHeld` unacknowledged messages it stops reading until
// storage catches up. An ack for a connection that has since dropped is not sent: the broker
// redelivers the message to the next session.
//
// When storage does not take a batch (full, or closing), its acknowledgements are held and the
// batch is offered again until it is stored (src/core/store-until-taken.ts): the device broker
// meanwhile stops sending (its in-flight window is full) rather than the data being acknowledged
// and dropped. A batch still unstored when the connector stops is left unacknowledged; a
// persistent session gets it again from the broker.

import type { IncomingMessage } from "../../common/mqtt/client.ts";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { StoreUntilTaken } from "../../core/store-until-taken.ts";
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
  private readonly storing: StoreUntilTaken;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly maxHeld: number,
    private readonly reading: ReadControl,
  ) {
    this.storing = new StoreUntilTaken(ctx, "holding the broker's acknowledgements (it pauses meanwhile)", "left unacknowledged: the broker redelivers them to a persistent session");
  }

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
      acked = b.data.length === 0 || (await this.storing.store(b.data, `${b.acks.length} device message(s)`));
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

  /** Stop offering refused batches again: they stay unacknowledged. */
  stop(): void {
    this.storing.stop();
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
