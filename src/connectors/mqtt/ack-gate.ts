// Batching and late acknowledgement. Converted data goes to ctx.sendData as one array per batch;
// the PUBACK/PUBREC of each QoS 1/2 message in it is sent only once that sendData resolved (the
// data is in storage). The client keeps reading meanwhile; above `maxHeld` unacknowledged
// messages it stops reading until storage catches up. An ack for a connection that has since
// dropped is not sent: the broker redelivers the message to the next session.
//
// How long a batch gathers: under heavy traffic one event-loop turn brings many messages and the
// batch goes at the end of that turn. Under light traffic (fewer than GATHER_MIN messages in a
// turn) it gathers for up to `windowMs` (one storage commit, one write of acknowledgements and,
// downstream, one publish for several messages instead of one each). A message that comes after a
// quiet spell longer than the window (the first after start, or traffic sparser than one message
// per window) goes at the end of its turn: a window would only add its latency and a timer
// wake-up, with nothing else to gather. A broker that allows only k
// unacknowledged messages in flight would stall for the whole window once k are held, capping
// intake at k per window; the gate learns k: when a window ended holding h messages and the next
// message arrived right after their acknowledgements (the broker had been waiting for them), twice
// in a row, batches go as soon as h are held. Holding more than h, or 10 s passing, forgets it (a
// wrong guess only makes batches smaller).
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

/** Messages in one batch from which it goes at the end of the turn, without gathering longer. */
const GATHER_MIN = 16;
/** A message this soon after a timed batch's acknowledgements went shows a broker that waited for them. */
const PROMPT_MS = 3;
/** Such evidence needed in a row before batches go at the held count it was seen at. */
const EVIDENCE_NEEDED = 2;
/** A learned limit is forgotten after this long and learned again (it may have been chance). */
const RELEARN_MS = 10_000;
/** After a window, this long for the messages the socket held back to be read into the batch. */
const READ_HELD_MS = 1;
/**
 * While traffic lasts, a window follows the previous one at once, so its first message does not
 * wake the process (one wake-up per batch instead of two); every PROBE_EVERY-th window is not
 * followed, leaving reading open after its acknowledgements to see whether the broker waited for them.
 */
const PROBE_EVERY = 4;

export class AckGate {
  private current = newBatch();
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private windowTimer: ReturnType<typeof setTimeout> | undefined;
  /** Learned in-flight limit of the broker (see the header); Infinity while none is known. */
  private brokerLimit = Infinity;
  /** Held count when the last window ran out, and when its acknowledgements went (0: not watching). */
  private heldAtTimeout = 0;
  private timedAckAt = 0;
  private evidence = 0;
  private learnedAt = 0;
  /** Reading paused for a gathering window (not for maxHeld). */
  private readsHeld = false;
  /** The window is over and reads were released: the first message read goes with this batch at the end of its turn. */
  private draining = false;
  /** The read after the window brought messages: traffic goes on. */
  private drainBrought = false;
  /** Windows that followed the one before them since start (for PROBE_EVERY). */
  private followed = 0;
  private readonly inflight = new Set<Promise<void>>();
  /** When the previous message arrived (performance.now()). */
  private lastMessageAt = -Infinity;
  private heldCount = 0;
  private paused = false;
  private readonly storing: StoreUntilTaken;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly maxHeld: number,
    private readonly reading: ReadControl,
    /** Longest a batch gathers under light traffic; 0: every batch goes at the end of its turn. */
    private readonly windowMs = 0,
  ) {
    this.storing = new StoreUntilTaken(ctx, "holding the broker's acknowledgements (it pauses meanwhile)", "left unacknowledged: the broker redelivers them to a persistent session");
  }

  /** One device message; QoS 1/2 messages are acknowledged through `msg.ack` once stored. */
  receive(msg: IncomingMessage, sink: MessageSink): void {
    const now = performance.now();
    const afterQuiet = now - this.lastMessageAt > this.windowMs;
    this.lastMessageAt = now;
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
    if (this.timedAckAt !== 0) this.watchPrompt();
    if (hasData && msg.qos !== 0) {
      b.acks.push(msg.ack);
      if (++this.heldCount > this.maxHeld && !this.paused) {
        this.paused = true;
        this.reading.pauseReading();
      }
      if (this.heldCount > this.brokerLimit) this.brokerLimit = Infinity; // it allows more than learned
    }
    if (this.draining) this.endWindowThisTurn();
    else if (hasData) this.schedule(b, afterQuiet);
    if (!hasData && msg.qos !== 0) msg.ack(); // nothing to store (RPC reply, request, dropped message)
  }

  /**
   * The read that follows a window brings what the socket held back: the batch goes at the end
   * of that turn (one wake-up) instead of on a timer after it (a second one). The READ_HELD_MS
   * timer stays as the fallback for a window after which nothing was waiting.
   */
  private endWindowThisTurn(): void {
    this.draining = false;
    this.drainBrought = true;
    if (this.immediate !== undefined) return;
    if (this.windowTimer !== undefined) {
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
    }
    this.immediate = setImmediate(this.windowDone);
  }

  private readonly windowDone = (): void => {
    this.heldAtTimeout = this.heldCount;
    const follow = this.drainBrought && this.windowMs > 0 && this.brokerLimit === Infinity && ++this.followed % PROBE_EVERY !== 0;
    // a followed window's acknowledgements go while reading is held: no prompt message to watch for
    this.flush(!follow);
    if (follow && !this.paused && this.immediate === undefined && this.windowTimer === undefined) {
      this.readsHeld = true;
      this.reading.pauseReading();
      this.windowTimer = setTimeout(this.windowOver, this.windowMs);
    }
  };

  /** At the end of this turn when the batch is big enough, the broker would wait or the line was quiet; else gather. */
  private schedule(b: Batch, afterQuiet: boolean): void {
    if (this.immediate !== undefined) return;
    if (this.brokerLimit !== Infinity && performance.now() - this.learnedAt > RELEARN_MS) this.brokerLimit = Infinity;
    if (this.windowMs <= 0 || b.data.length + b.waits.length >= GATHER_MIN || this.heldCount >= this.brokerLimit || this.paused || (afterQuiet && this.windowTimer === undefined)) {
      if (this.windowTimer !== undefined) {
        clearTimeout(this.windowTimer);
        this.windowTimer = undefined;
      }
      this.immediate = setImmediate(this.flush);
    } else if (this.windowTimer === undefined) {
      this.windowTimer = setTimeout(this.windowOver, this.windowMs);
      // Messages arriving meanwhile wait in the socket buffer and are read in one go at the end of
      // the window: one wake-up for the batch instead of one per message.
      if (!this.paused) {
        this.readsHeld = true;
        this.reading.pauseReading();
      }
    }
  }

  private readonly windowOver = (): void => {
    this.windowTimer = undefined;
    if (this.immediate !== undefined) return;
    if (this.readsHeld) {
      // read what the window held back (it comes with the next poll), then send the batch
      this.releaseReads();
      this.draining = true;
      this.windowTimer = setTimeout(this.windowOver, READ_HELD_MS);
      return;
    }
    this.windowDone();
  };

  private releaseReads(): void {
    this.readsHeld = false;
    if (!this.paused) this.reading.resumeReading();
  }

  /** First message after a timed batch's acknowledgements: did the broker wait for them? */
  private watchPrompt(): void {
    const prompt = performance.now() - this.timedAckAt <= PROMPT_MS;
    this.timedAckAt = 0;
    if (!prompt) {
      this.evidence = 0;
      return;
    }
    if (++this.evidence >= EVIDENCE_NEEDED && this.heldAtTimeout > 0) {
      this.brokerLimit = this.heldAtTimeout;
      this.learnedAt = performance.now();
      this.ctx.log.debug(`device broker waits for acknowledgements after ${this.brokerLimit} message(s): batches go without gathering at that count`);
      this.evidence = 0;
    }
  }

  private readonly flush = (timed?: unknown): void => {
    this.immediate = undefined;
    this.draining = false;
    this.drainBrought = false; // a batch that goes before its window's read is done (GATHER_MIN) ends the window
    if (this.windowTimer !== undefined) {
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
    }
    if (this.readsHeld) this.releaseReads();
    const b = this.current;
    this.current = newBatch();
    const p = this.send(b, timed === true);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  };

  private async send(b: Batch, timed: boolean): Promise<void> {
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
      if (timed && acked && b.acks.length > 0) this.timedAckAt = performance.now();
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
    if (this.immediate !== undefined || this.windowTimer !== undefined) {
      if (this.immediate !== undefined) clearImmediate(this.immediate);
      this.flush();
    }
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }
}
