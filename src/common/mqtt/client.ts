// A lean MQTT client (3.1, 3.1.1, 5) on Bun's native sockets, for the platform connection and the
// MQTT connector. Why our own: mqtt.js pulls in node:stream, node:net, node:http and websocket
// support; measured on the compiled binary, an idle process holding one mqtt.js connection takes
// 55 MB RSS against 28 MB for the same connection on Bun.connect.
//
// What it does: one connection attempt per connect() (reconnecting is connection.ts's job, with
// backoff), QoS 0/1/2 both ways, keepalive, a bound on a broker that stops acknowledging
// (ackTimeoutMs), TLS, MQTT 5 receive maximum, and acknowledgement of incoming QoS 1/2 messages
// when the application says so (the gateway acks a device's message only once the data is in
// storage). What it does not: keep unacknowledged publishes across
// connections. When a connection drops, every pending publish fails; the gateway's storage is the
// queue that resends (see platform/sender.ts), and the broker redelivers what we did not ack.

import type { Socket, TLSOptions } from "bun";
import {
  DISCONNECT,
  encodeAck,
  encodeConnect,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  PacketReader,
  PacketType,
  PINGREQ,
  type AckPacket,
  type ConnackPacket,
  type IncomingPacket,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
} from "./codec.ts";

export interface MqttClientOptions {
  host: string;
  port: number;
  /** TLS when set (true = system CAs, no client certificate). */
  tls?: TLSOptions | boolean;
  clientId: string;
  username?: string;
  password?: string;
  /** 3 = MQTT 3.1, 4 = 3.1.1 (default), 5. */
  protocolVersion?: ProtocolVersion;
  keepaliveSeconds?: number;
  clean?: boolean;
  /** MQTT 5: session expiry interval in seconds. */
  sessionExpirySeconds?: number;
  connectTimeoutMs?: number;
  /**
   * Incoming QoS 1/2 messages are acknowledged only when their `ack()` is called. Off: acked as
   * soon as the message handler returns.
   */
  manualAck?: boolean;
  /**
   * Drop the connection (an `AckTimeoutError`, then `close`) when publishes or subscribes have
   * waited this long and the broker acknowledged nothing at all meanwhile: a broker, or something
   * in between, that stops acknowledging while the connection stays up (PINGRESPs may still come).
   * A broker that acknowledges slowly but steadily is never dropped. Unset or 0: off.
   */
  ackTimeoutMs?: number;
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** MQTT 5 request/response properties, when the sender set them. */
  responseTopic?: string;
  correlationData?: Buffer;
  /** Acknowledge (QoS 1/2, manualAck). Harmless to call twice, or after the connection dropped. */
  ack(): void;
}

/** The broker refused the CONNECT: `code` is the 3.1.1 return code or MQTT 5 reason code. */
export class ConnectRefusedError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The broker acknowledged nothing for `quietMs` while `publishes` (QoS 1/2) and `subscribes`
 * (SUBSCRIBE, UNSUBSCRIBE) awaited an acknowledgement; the connection is dropped.
 */
export class AckTimeoutError extends Error {
  constructor(
    readonly quietMs: number,
    readonly publishes: number,
    readonly subscribes: number,
  ) {
    super(`the broker acknowledged nothing for ${seconds(quietMs)} s while ${awaitingText(publishes, subscribes)} awaited it`);
  }
}

/** "37 publishes", "1 publish and 2 subscribes" (for AckTimeoutError texts). */
export function awaitingText(publishes: number, subscribes: number): string {
  const parts: string[] = [];
  if (publishes > 0 || subscribes === 0) parts.push(`${publishes} publish${publishes === 1 ? "" : "es"}`);
  if (subscribes > 0) parts.push(`${subscribes} subscribe${subscribes === 1 ? "" : "s"}`);
  return parts.join(" and ");
}

/** Seconds for a log line: one decimal below 10 s. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
}

type Done = (err?: Error) => void;

/** How long connect() waits for CONNACK unless the options say otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The filters of a SUBSCRIBE the broker refused (granted code 0x80 or above), with their codes. */
export function refusedFilters(subs: ReadonlyArray<{ topic: string }>, granted: readonly number[]): Array<{ topic: string; code: number }> {
  const out: Array<{ topic: string; code: number }> = [];
  subs.forEach((s, i) => {
    const code = granted[i];
    if (code !== undefined && code >= 0x80) out.push({ topic: s.topic, code });
  });
  return out;
}

export interface MqttClientEvents {
  connect: (connack: ConnackPacket) => void;
  message: (msg: IncomingMessage) => void;
  /** A transport, protocol or refusal error; a `close` follows. */
  error: (err: Error & { code?: unknown }) => void;
  close: () => void;
}

type Listeners = { [K in keyof MqttClientEvents]: Array<MqttClientEvents[K]> };

const noop = (): void => {};

export class MqttClient {
  private socket: Socket<undefined> | undefined;
  private reader: PacketReader;
  private readonly version: ProtocolVersion;
  private isConnected = false;
  /** Counts connections; acks and replies from an older one are dropped. */
  private generation = 0;
  private nextId = 0;
  /** Outgoing QoS 1/2 publishes awaiting PUBACK/PUBCOMP, by packet id. */
  private readonly pending = new Map<number, Done>();
  private readonly subWaits = new Map<number, (granted: number[] | Error) => void>();
  /** Publishes waiting for the broker's receive maximum to allow them. */
  private readonly queued: Array<{ topic: string; payload: string | Uint8Array; qos: QoS; retain: boolean; done: Done }> = [];
  private inflightQos = 0;
  private receiveMaximum = 65535;
  /** QoS 2 messages received, PUBREC sent, waiting for PUBREL. */
  private readonly awaitingRelease = new Set<number>();
  private out: Buffer[] = [];
  private outLen = 0;
  private flushScheduled = false;
  private writeBlocked = false;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingOutstanding = false;
  /** Checks every quarter of ackTimeoutMs that the broker still acknowledges (one per connection). */
  private ackTimer: ReturnType<typeof setInterval> | undefined;
  /** Acknowledgements received (publish completions, SUBACK, UNSUBACK); the ack timer compares. */
  private acks = 0;
  private acksAtTick = 0;
  /** Since this tick something has awaited an acknowledgement and none came; -1: nothing awaited. */
  private quietSince = -1;
  private readonly listeners: Listeners = { connect: [], message: [], error: [], close: [] };
  private closing = false;
  /** end() was called and no connect() since: nobody should reconnect this client. */
  ended = false;
  private readingPaused = false;
  /** A connect() whose `close` has not been emitted yet: end() on a closed client emits no second one. */
  private live = false;

  constructor(readonly options: MqttClientOptions) {
    this.version = options.protocolVersion ?? 4;
    this.reader = new PacketReader(this.version);
  }

  get connected(): boolean {
    return this.isConnected;
  }

  on<K extends keyof MqttClientEvents>(event: K, fn: MqttClientEvents[K]): this {
    (this.listeners[event] as Array<MqttClientEvents[K]>).push(fn);
    return this;
  }

  private emit<K extends keyof MqttClientEvents>(event: K, ...args: Parameters<MqttClientEvents[K]>): void {
    for (const fn of this.listeners[event]) (fn as (...a: unknown[]) => void)(...args);
  }

  /** Opens one connection attempt; `connect` or `error`+`close` follow. */
  connect(): void {
    if (this.socket) return;
    this.closing = false;
    this.ended = false;
    this.live = true;
    const gen = ++this.generation;
    const o = this.options;
    this.reader = new PacketReader(this.version);
    const connectTimeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.connectTimer = setTimeout(() => this.fail(gen, new Error(`no CONNACK within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
    const handlers = {
      open: (s: Socket<undefined>) => {
        if (gen !== this.generation) {
          s.end();
          return;
        }
        this.socket = s;
        s.setNoDelay(true);
        if (this.readingPaused) s.pause();
        // Over TLS the CONNECT (it carries the credentials) waits for the verified handshake.
        if (!o.tls) this.send(this.connectPacket());
      },
      handshake: (_s: Socket<undefined>, _success: boolean, authorizationError: Error | null) => {
        if (gen !== this.generation) return;
        const verify = typeof o.tls === "object" ? o.tls.rejectUnauthorized !== false : o.tls === true;
        if (authorizationError && verify) return this.fail(gen, authorizationError);
        this.send(this.connectPacket());
      },
      data: (_s: Socket<undefined>, data: Buffer) => {
        if (gen !== this.generation) return;
        try {
          this.reader.push(data, this.onPacket);
        } catch (e) {
          this.fail(gen, e as Error);
        }
      },
      drain: () => {
        if (gen !== this.generation) return;
        this.writeBlocked = false;
        this.flush();
      },
      close: () => this.closed(gen),
      end: () => this.closed(gen),
      error: (_s: Socket<undefined>, err: Error) => this.fail(gen, err),
      connectError: (_s: Socket<undefined>, err: Error) => this.fail(gen, err),
      timeout: () => this.fail(gen, new Error("socket timeout")),
    };
    Bun.connect({ hostname: o.host, port: o.port, tls: o.tls, socket: handlers }).catch((err: Error) => this.fail(gen, err));
  }

  private connectPacket(): Buffer {
    const o = this.options;
    return encodeConnect({
      version: this.version,
      clientId: o.clientId,
      keepaliveSeconds: o.keepaliveSeconds ?? 60,
      clean: o.clean ?? true,
      username: o.username,
      password: o.password,
      sessionExpirySeconds: o.sessionExpirySeconds,
    });
  }

  private fail(gen: number, err: Error): void {
    if (gen !== this.generation || this.closing) return;
    this.emit("error", err);
    this.closed(gen);
  }

  /** The connection of generation `gen` is gone (once per generation). */
  private closed(gen: number): void {
    if (gen !== this.generation || !this.live) return;
    this.live = false;
    this.generation++;
    clearTimeout(this.connectTimer);
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    this.pingOutstanding = false;
    clearInterval(this.ackTimer);
    this.ackTimer = undefined;
    this.quietSince = -1;
    const s = this.socket;
    this.socket = undefined;
    // end() closed it gracefully (DISCONNECT still being written); otherwise drop it at once
    if (!this.closing) s?.terminate();
    this.isConnected = false;
    this.out = [];
    this.outLen = 0;
    this.writeBlocked = false;
    this.inflightQos = 0;
    this.awaitingRelease.clear();
    const lost = new Error("connection lost before the broker acknowledged");
    const pending = [...this.pending.values()];
    this.pending.clear();
    const queued = this.queued.splice(0);
    const subs = [...this.subWaits.values()];
    this.subWaits.clear();
    for (const done of pending) done(lost);
    for (const q of queued) q.done(lost);
    for (const w of subs) w(lost);
    this.emit("close");
  }

  private readonly onPacket = (p: IncomingPacket): void => {
    // A chunk may hold packets after one that closed the connection (DISCONNECT, a refusal):
    // once closed, the rest of it belongs to no connection.
    if (!this.socket) return;
    switch (p.type) {
      case PacketType.Publish:
        return this.onPublish(p);
      case PacketType.Puback:
      case PacketType.Pubcomp:
        return this.complete(p);
      case PacketType.Pubrec:
        // a refusal ends the QoS 2 exchange here; otherwise release it and wait for PUBCOMP
        if (p.code >= 0x80) return this.complete(p);
        this.send(encodeAck(PacketType.Pubrel, p.id));
        return;
      case PacketType.Pubrel:
        this.awaitingRelease.delete(p.id);
        this.send(encodeAck(PacketType.Pubcomp, p.id));
        return;
      case PacketType.Suback:
      case PacketType.Unsuback: {
        const w = this.subWaits.get(p.id);
        if (!w) return;
        this.subWaits.delete(p.id);
        this.acks++;
        w(p.type === PacketType.Suback ? p.granted : []);
        return;
      }
      case PacketType.Connack:
        return this.onConnack(p);
      case PacketType.Pingresp:
        this.pingOutstanding = false;
        return;
      case PacketType.Disconnect:
        this.fail(this.generation, new Error(`broker disconnected: reason 0x${p.code.toString(16)}${p.reasonString ? ` (${p.reasonString})` : ""}`));
        return;
      case PacketType.Auth:
        this.fail(this.generation, new Error("broker asked for enhanced authentication, which this client does not do"));
    }
  };

  /** An outgoing QoS 1/2 publish is over (acknowledged or refused): its slot goes to a queued one. */
  private complete(p: AckPacket): void {
    const done = this.pending.get(p.id);
    if (!done) return;
    this.pending.delete(p.id);
    this.inflightQos--;
    this.acks++;
    done(p.code >= 0x80 ? new Error(`broker refused the publish: reason 0x${p.code.toString(16)}${p.reasonString ? ` (${p.reasonString})` : ""}`) : undefined);
    this.sendQueued();
  }

  private onConnack(p: ConnackPacket): void {
    clearTimeout(this.connectTimer);
    if (p.code !== 0) {
      const err = new ConnectRefusedError(p.code, `connection refused (code ${p.code}${p.reasonString ? `: ${p.reasonString}` : ""})`);
      this.fail(this.generation, err);
      return;
    }
    this.isConnected = true;
    this.receiveMaximum = p.receiveMaximum;
    const keepalive = p.serverKeepAlive ?? this.options.keepaliveSeconds ?? 60;
    if (keepalive > 0) {
      const gen = this.generation;
      this.keepaliveTimer = setInterval(() => {
        if (this.pingOutstanding) return this.fail(gen, new Error(`no answer to keepalive within ${keepalive} s`));
        this.pingOutstanding = true;
        this.send(PINGREQ);
      }, keepalive * 1000);
      this.keepaliveTimer.unref?.();
    }
    const ackTimeoutMs = this.options.ackTimeoutMs ?? 0;
    if (ackTimeoutMs > 0) {
      const gen = this.generation;
      this.ackTimer = setInterval(() => this.checkAcks(gen, ackTimeoutMs), Math.max(10, Math.ceil(ackTimeoutMs / 4)));
      this.ackTimer.unref?.();
    }
    this.emit("connect", p);
  }

  /**
   * Ack timer tick. Quiet time is counted from a tick at which something was awaited and no
   * acknowledgement came after it, so it never exceeds the real quiet time (detection takes up to
   * a quarter of the limit longer). Progress rather than the oldest publish's age: over a slow link
   * the oldest publish waits behind the whole window's bytes, yet acknowledgements keep coming.
   */
  private checkAcks(gen: number, limitMs: number): void {
    const awaiting = this.pending.size + this.subWaits.size;
    const now = performance.now();
    if (awaiting === 0 || this.acks !== this.acksAtTick || this.quietSince < 0) {
      this.acksAtTick = this.acks;
      this.quietSince = awaiting === 0 ? -1 : now;
      return;
    }
    if (now - this.quietSince >= limitMs) this.fail(gen, new AckTimeoutError(now - this.quietSince, this.pending.size, this.subWaits.size));
  }

  private onPublish(p: PublishPacket): void {
    const gen = this.generation;
    let acked = p.qos === 0;
    const ack = (): void => {
      if (acked) return;
      acked = true;
      if (gen !== this.generation) return; // that connection is gone: the broker redelivers
      if (p.qos === 1) this.send(encodeAck(PacketType.Puback, p.id));
      else {
        this.awaitingRelease.add(p.id);
        this.send(encodeAck(PacketType.Pubrec, p.id));
      }
    };
    // QoS 2 redelivered after our PUBREC: already handed over once, only the PUBREC is repeated.
    if (p.qos === 2 && this.awaitingRelease.has(p.id)) {
      this.send(encodeAck(PacketType.Pubrec, p.id));
      return;
    }
    const msg: IncomingMessage = { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, ack };
    if (p.responseTopic !== undefined) msg.responseTopic = p.responseTopic;
    if (p.correlationData !== undefined) msg.correlationData = p.correlationData;
    this.emit("message", msg);
    if (!this.options.manualAck) ack();
  }

  private allocId(): number {
    for (let i = 0; i < 65535; i++) {
      this.nextId = (this.nextId % 65535) + 1;
      if (!this.pending.has(this.nextId) && !this.subWaits.has(this.nextId)) return this.nextId;
    }
    throw new Error("all 65535 MQTT packet ids are in use");
  }

  /**
   * Publish; `done` runs on PUBACK (QoS 1), PUBCOMP (QoS 2) or once handed to the socket (QoS 0),
   * with an error when not connected, refused, or the connection dropped first.
   */
  publish(topic: string, payload: string | Uint8Array, qos: QoS, retain: boolean, done: Done = noop): void {
    if (!this.isConnected) return done(new Error("not connected"));
    if (qos === 0) {
      this.send(encodePublish(this.version, topic, payload, 0, retain, 0));
      return done();
    }
    if (this.inflightQos >= this.receiveMaximum) {
      this.queued.push({ topic, payload, qos, retain, done });
      return;
    }
    this.sendQos(topic, payload, qos, retain, done);
  }

  private sendQos(topic: string, payload: string | Uint8Array, qos: QoS, retain: boolean, done: Done): void {
    let id: number;
    let packet: Buffer;
    try {
      id = this.allocId();
      packet = encodePublish(this.version, topic, payload, qos, retain, id);
    } catch (e) {
      return done(e as Error);
    }
    this.pending.set(id, done);
    this.inflightQos++;
    this.send(packet);
  }

  private sendQueued(): void {
    while (this.queued.length > 0 && this.inflightQos < this.receiveMaximum && this.isConnected) {
      const q = this.queued.shift()!;
      this.sendQos(q.topic, q.payload, q.qos, q.retain, q.done);
    }
  }

  publishAsync(topic: string, payload: string | Uint8Array, qos: QoS = 0, retain = false): Promise<void> {
    return new Promise((resolve, reject) => this.publish(topic, payload, qos, retain, (err) => (err ? reject(err) : resolve())));
  }

  /** Subscribe; resolves with the granted QoS per filter (0x80 and up = refused). */
  subscribe(subs: ReadonlyArray<{ topic: string; qos: QoS }>): Promise<number[]> {
    if (!this.isConnected) return Promise.reject(new Error("not connected"));
    const id = this.allocId();
    return new Promise((resolve, reject) => {
      this.subWaits.set(id, (r) => (r instanceof Error ? reject(r) : resolve(r)));
      this.send(encodeSubscribe(this.version, id, subs));
    });
  }

  unsubscribe(topics: readonly string[]): Promise<void> {
    if (!this.isConnected) return Promise.reject(new Error("not connected"));
    const id = this.allocId();
    return new Promise((resolve, reject) => {
      this.subWaits.set(id, (r) => (r instanceof Error ? reject(r) : resolve()));
      this.send(encodeUnsubscribe(this.version, id, topics));
    });
  }

  /**
   * Close. Not forced: waits (up to `graceMs`) for publishes awaiting acknowledgement, then sends
   * DISCONNECT. Forced: closes at once.
   */
  async end(force = false, graceMs = 5000): Promise<void> {
    if (!force && this.isConnected && this.pending.size > 0) {
      const until = Date.now() + graceMs;
      while (this.pending.size > 0 && this.isConnected && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    }
    const s = this.socket;
    const gen = this.generation;
    this.closing = true;
    this.ended = true;
    if (s && this.isConnected) {
      this.send(DISCONNECT);
      this.flush();
      // the kernel buffer was full: give the queued bytes (DISCONNECT last) a bounded chance to go
      const until = Date.now() + (force ? 0 : graceMs);
      while (this.writeBlocked && this.socket === s && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    }
    if (s) s.end();
    clearTimeout(this.connectTimer);
    // connect() in progress without a socket yet: forget it
    this.closed(gen);
  }

  /** Queues bytes for the socket; written together once per microtask (one syscall for many acks). */
  private send(b: Buffer): void {
    this.out.push(b);
    this.outLen += b.length;
    if (!this.flushScheduled && !this.writeBlocked) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const s = this.socket;
    if (!s || this.out.length === 0 || this.writeBlocked) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outLen);
    const written = s.write(data);
    if (written < data.length) {
      // kernel buffer full: keep the rest, continue on `drain`
      const rest = data.subarray(Math.max(0, written));
      this.out = [rest];
      this.outLen = rest.length;
      this.writeBlocked = true;
    } else {
      this.out = [];
      this.outLen = 0;
    }
  };

  /** Stop reading from the broker (the application holds too many unacknowledged messages). */
  pauseReading(): void {
    this.readingPaused = true;
    this.socket?.pause();
  }

  resumeReading(): void {
    this.readingPaused = false;
    this.socket?.resume();
  }

  /** Bytes accepted but not yet written to the socket (backpressure signal). */
  get bufferedBytes(): number {
    return this.outLen;
  }
}
