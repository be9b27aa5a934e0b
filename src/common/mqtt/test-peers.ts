// Test helpers for the MQTT client tests: an event recorder for our client, an mqtt.js peer, and
// a scriptable fake broker on Bun.listen for behaviour a real broker will not show.

import type { Socket, TCPSocketListener } from "bun";
import mqtt from "mqtt";
import mp from "mqtt-packet";
import type { Broker } from "../../../test/support/mosquitto.ts";
import { MqttClient, type IncomingMessage, type MqttClientOptions } from "./client.ts";
import type { ConnackPacket, ProtocolVersion } from "./codec.ts";

/** Resolves waits whose condition became true; `notify()` after every change they look at. */
export class Waiter {
  private waits: Array<{ pred: () => boolean; resolve: () => void }> = [];

  notify(): void {
    this.waits = this.waits.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  }

  until(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => this.waits.push({ pred, resolve }));
  }
}

/** Our client with everything it emits recorded. */
export interface Watched {
  client: MqttClient;
  messages: IncomingMessage[];
  errors: Array<Error & { code?: unknown }>;
  connacks: ConnackPacket[];
  closes: number;
  w: Waiter;
}

export function watch(client: MqttClient): Watched {
  const x: Watched = { client, messages: [], errors: [], connacks: [], closes: 0, w: new Waiter() };
  client.on("connect", (c) => (x.connacks.push(c), x.w.notify()));
  client.on("message", (m) => (x.messages.push(m), x.w.notify()));
  client.on("error", (e) => (x.errors.push(e), x.w.notify()));
  client.on("close", () => (x.closes++, x.w.notify()));
  return x;
}

/** Connects a new client; resolves once it is accepted, rejects with its first error. */
export async function connectWatched(options: MqttClientOptions): Promise<Watched> {
  const x = watch(new MqttClient(options));
  x.client.connect();
  await x.w.until(() => x.connacks.length > 0 || x.closes > 0);
  if (x.connacks.length === 0) throw x.errors[0] ?? new Error("closed before CONNACK");
  return x;
}

/** Settles to "ok" or the error, never rejects: lets a test look at a publish's outcome later. */
export function outcome(p: Promise<unknown>): Promise<"ok" | Error> {
  return p.then(
    () => "ok" as const,
    (e: Error) => e,
  );
}

/** An mqtt.js client (the independent peer) with its received messages recorded. */
export interface Peer {
  client: mqtt.MqttClient;
  received: Array<{ topic: string; payload: Buffer; qos: number; properties?: mp.IPublishPacket["properties"] }>;
  w: Waiter;
}

export async function mqttjsPeer(broker: Broker, protocolVersion: ProtocolVersion = 4, subscribe?: string): Promise<Peer> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion, reconnectPeriod: 0, clientId: `peer-${Math.random().toString(16).slice(2, 10)}` });
  const peer: Peer = { client, received: [], w: new Waiter() };
  client.on("message", (topic, payload, packet) => {
    peer.received.push({ topic, payload, qos: packet.qos, properties: packet.properties });
    peer.w.notify();
  });
  if (subscribe) await client.subscribeAsync(subscribe, { qos: 2 });
  return peer;
}

/** Polls the broker's log (its only voice) until it matches; fails with the log after `limitMs` (a hang bound). */
export async function waitForLog(broker: Broker, what: RegExp | ((log: string) => boolean), limitMs = 15000): Promise<void> {
  const ok = typeof what === "function" ? what : (log: string) => what.test(log);
  const until = Date.now() + limitMs;
  while (!ok(broker.output())) {
    if (Date.now() > until) throw new Error(`broker log never matched ${what}:\n${broker.output()}`);
    await Bun.sleep(20);
  }
}

/** One client connection to the fake broker: what it sent, parsed by mqtt-packet. */
export interface FakeConn {
  socket: Socket<undefined>;
  packets: mp.Packet[];
  closed: boolean;
  send(b: Buffer | Uint8Array): void;
}

export interface FakeBroker {
  port: number;
  conns: FakeConn[];
  w: Waiter;
  stop(): void;
}

/**
 * A broker that only does what `onPacket` says (nothing by default): `version` is what it parses
 * the client's packets as.
 */
export function fakeBroker(version: ProtocolVersion, onPacket: (c: FakeConn, p: mp.Packet) => void = () => {}): FakeBroker {
  const w = new Waiter();
  const conns: FakeConn[] = [];
  const bySocket = new Map<Socket<undefined>, { conn: FakeConn; parser: mp.Parser }>();
  const listener: TCPSocketListener<undefined> = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const conn: FakeConn = { socket, packets: [], closed: false, send: (b) => void socket.write(b) };
        const parser = mp.parser({ protocolVersion: version });
        parser.on("packet", (p) => {
          conn.packets.push(p);
          onPacket(conn, p);
          w.notify();
        });
        bySocket.set(socket, { conn, parser });
        conns.push(conn);
        w.notify();
      },
      data(socket, data) {
        bySocket.get(socket)?.parser.parse(data);
      },
      close(socket) {
        const c = bySocket.get(socket);
        if (c) c.conn.closed = true;
        w.notify();
      },
    },
  });
  return { port: listener.port, conns, w, stop: () => listener.stop(true) };
}

export function gen(p: object, version: ProtocolVersion): Buffer {
  return mp.generate(p as mp.Packet, { protocolVersion: version });
}

/** CONNACK accepting the connection, in the broker's protocol version. */
export function connack(version: ProtocolVersion, properties?: object): Buffer {
  return version === 5 ? gen({ cmd: "connack", reasonCode: 0, sessionPresent: false, properties }, 5) : gen({ cmd: "connack", returnCode: 0, sessionPresent: false }, version);
}
