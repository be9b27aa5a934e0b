// Batching and late acknowledgement. Converted data of one event-loop turn goes to ctx.sendData
// as one array; the PUBACK/PUBREC of each QoS 1/2 message in it is held back until that sendData
// resolved (the data is in storage).
//
// Why not delay mqtt.js's customHandleAcks callback instead: mqtt.js handles incoming packets one
// at a time and only reads the next one after that callback, so delaying it would allow a single
// message per storage commit. Here the callback is called at once (reading continues) and the
// ack packet itself is held: the client's `_sendPacket` is wrapped to park acks of held message
// ids. Acks of a connection that has since dropped are discarded (the broker redelivers).

import type { MqttClient } from "mqtt";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";

type Packet = { cmd: string; messageId?: number };
type SendPacket = (packet: Packet, cb?: (e?: Error) => void, cbStorePut?: unknown, noStore?: boolean) => void;
type AckDone = (error: Error | number, code?: number) => void;

export interface MessageSink {
  /** Convert one message, pushing results into `batch`; a promise when a converter is async. */
  convertInto(batch: ConvertedData[], topic: string, payload: Buffer): void | Promise<void>;
}

interface Batch {
  data: ConvertedData[];
  waits: Promise<void>[];
  held: number;
  packets: Packet[];
  gens: number[];
  done: boolean;
}

const newBatch = (): Batch => ({ data: [], waits: [], held: 0, packets: [], gens: [], done: false });

export class AckGate {
  private current = newBatch();
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly heldIds = new Map<number, Batch>();
  private heldCount = 0;
  private readonly paused: Array<() => void> = [];
  private gen = 0;
  private sendRaw: SendPacket | undefined;
  private lastStatus = "SUCCESS";

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly maxHeld: number,
  ) {}

  attach(client: MqttClient): void {
    const c = client as unknown as { _sendPacket: SendPacket };
    const orig: SendPacket = c._sendPacket.bind(client);
    this.sendRaw = orig;
    c._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if ((packet.cmd === "puback" || packet.cmd === "pubrec") && packet.messageId !== undefined) {
        const b = this.heldIds.get(packet.messageId);
        if (b) {
          this.heldIds.delete(packet.messageId);
          if (!b.done) {
            b.packets.push(packet);
            b.gens.push(this.gen);
            cb?.();
            return;
          }
        }
      }
      orig(packet, cb, cbStorePut, noStore);
    };
    client.on("connect", () => {
      this.gen++;
      this.heldIds.clear();
    });
  }

  /** One device message. `messageId`/`done` are set for QoS 1/2 (customHandleAcks). */
  receive(topic: string, message: Buffer, messageId: number | undefined, done: AckDone | undefined, sink: MessageSink): void {
    const b = this.current;
    const before = b.data.length;
    let wait: void | Promise<void> = undefined;
    try {
      wait = sink.convertInto(b.data, topic, message);
    } catch (e) {
      // a converter bug must not stop the connector; the message is acknowledged and dropped
      this.ctx.log.error(`converting message on ${topic} failed: ${errorText(e)}`);
    }
    if (wait) b.waits.push(wait);
    const hasData = b.data.length > before || wait !== undefined;
    if (hasData && this.immediate === undefined) this.immediate = setImmediate(this.flush);
    if (done === undefined || messageId === undefined) return;
    if (hasData) {
      this.heldIds.set(messageId, b);
      b.held++;
      this.heldCount++;
    }
    if (this.heldCount > this.maxHeld) this.paused.push(() => done(0));
    else done(0);
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
    try {
      if (b.waits.length > 0) await Promise.all(b.waits);
      if (b.data.length > 0) {
        const status = await this.ctx.sendData(b.data.length === 1 ? b.data[0]! : b.data);
        if (status !== this.lastStatus) {
          if (status !== "SUCCESS") this.ctx.log.warn(`gateway did not accept data (${status})`);
          this.lastStatus = status;
        }
      }
    } catch (e) {
      // storage refused: upstream drops such data too; acknowledge so the broker does not stall
      this.ctx.log.error(`handing ${b.data.length} records to the gateway failed: ${errorText(e)}`);
    } finally {
      b.done = true;
      for (let i = 0; i < b.packets.length; i++) if (b.gens[i] === this.gen) this.sendRaw?.(b.packets[i]!);
      this.heldCount -= b.held;
      while (this.paused.length > 0 && this.heldCount <= this.maxHeld) this.paused.shift()!();
    }
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
