// The MQTT client against real peers: Mosquitto as the broker and mqtt.js as the independent
// client on the other side; a fake broker (Bun.listen) where a broker has to misbehave.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { makeTestPki } from "../../../test/gateway/certs.ts";
import { startMosquitto, type Broker } from "../../../test/support/mosquitto.ts";
import { freePort } from "../../../test/support/ports.ts";
import { Logger } from "../../observe/logger.ts";
import { ConnectRefusedError, MqttClient, type MqttClientOptions, refusedFilters } from "./client.ts";
import type { ProtocolVersion, QoS } from "./codec.ts";
import { connectOnce, openConnection } from "./connection.ts";
import { connack, connectWatched, fakeBroker, gen, mqttjsPeer, outcome, waitForLog, watch, Waiter, type Peer, type Watched } from "./test-peers.ts";

const local = (port: number, clientId: string, more: Partial<MqttClientOptions> = {}): MqttClientOptions => ({ host: "127.0.0.1", port, clientId, ...more });

/** Runs `fn` with a fresh broker, stopping it (and whatever `fn` registered) afterwards. */
async function withBroker(opts: Parameters<typeof startMosquitto>[0], fn: (b: Broker, cleanup: Array<() => unknown>) => Promise<void>): Promise<void> {
  const broker = await startMosquitto(opts);
  const cleanup: Array<() => unknown> = [];
  try {
    await fn(broker, cleanup);
  } finally {
    for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => {});
    await broker.dispose();
  }
}

const ours = (x: Watched) => () => x.client.end(true);
const theirs = (p: Peer) => () => p.client.endAsync(true);
const macrotask = () => new Promise((r) => setImmediate(r));

const VERSIONS: ProtocolVersion[] = [3, 4, 5];

describe("publishing to an mqtt.js subscriber through Mosquitto", () => {
  for (const v of VERSIONS) {
    test(`v${v}: QoS 0/1/2, string and binary payloads, arrive exactly and in order`, async () => {
      await withBroker({}, async (broker, cleanup) => {
        const peer = await mqttjsPeer(broker, 5, "out/#");
        cleanup.push(theirs(peer));
        const c = await connectWatched(local(broker.port, `pub-v${v}`, { protocolVersion: v }));
        cleanup.push(ours(c));
        const sent: Array<{ topic: string; payload: Buffer; qos: QoS }> = [];
        const done: Array<Promise<void>> = [];
        for (let i = 0; i < 30; i++) {
          const qos = (i % 3) as QoS;
          const topic = `out/q${qos}/wärme/温度`;
          const payload = i % 2 ? `message ${i} ✓ ü` : new Uint8Array([i, 0, 0xff, 0x80, 0xc3]);
          sent.push({ topic, payload: Buffer.from(payload), qos });
          done.push(c.client.publishAsync(topic, payload, qos));
        }
        await Promise.all(done);
        await peer.w.until(() => peer.received.length >= 30);
        expect(peer.received.length).toBe(30);
        // MQTT orders messages per topic (a broker may interleave QoS levels)
        for (const qos of [0, 1, 2]) {
          const topic = `out/q${qos}/wärme/温度`;
          expect(peer.received.filter((r) => r.topic === topic).map((r) => ({ topic: r.topic, payload: r.payload, qos: r.qos }))).toEqual(sent.filter((s) => s.topic === topic));
        }
        expect(c.errors).toEqual([]);
      });
    });
  }

  test("QoS 1 completes on PUBACK, QoS 2 on PUBCOMP (PUBREL after PUBREC), not earlier", async () => {
    const fb = fakeBroker(5, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(5));
    });
    try {
      const c = await connectWatched(local(fb.port, "acks", { protocolVersion: 5 }));
      try {
        const conn = fb.conns[0]!;
        const count = (cmd: string) => conn.packets.filter((p) => p.cmd === cmd).length;
        const state1: { now: "pending" | "ok" | Error } = { now: "pending" };
        const p1 = outcome(c.client.publishAsync("t", "one", 1)).then((r) => (state1.now = r));
        await fb.w.until(() => count("publish") === 1);
        const id1 = conn.packets.find((p) => p.cmd === "publish")!.messageId!;
        conn.send(gen({ cmd: "puback", messageId: id1 + 100 }, 5)); // someone else's id: ignored
        conn.send(gen({ cmd: "pingresp" }, 5));
        expect(state1.now).toBe("pending");
        conn.send(gen({ cmd: "puback", messageId: id1 }, 5));
        await p1;
        expect(state1.now).toBe("ok");

        const state2: { now: "pending" | "ok" | Error } = { now: "pending" };
        const p2 = outcome(c.client.publishAsync("t", "two", 2)).then((r) => (state2.now = r));
        await fb.w.until(() => count("publish") === 2);
        const pub2 = conn.packets.filter((p) => p.cmd === "publish")[1]!;
        expect(pub2.messageId).not.toBe(id1);
        conn.send(gen({ cmd: "pubrec", messageId: pub2.messageId }, 5));
        await fb.w.until(() => count("pubrel") === 1);
        expect(conn.packets.find((p) => p.cmd === "pubrel")!.messageId).toBe(pub2.messageId);
        expect(state2.now).toBe("pending");
        conn.send(gen({ cmd: "pubcomp", messageId: pub2.messageId }, 5));
        await p2;
        expect(state2.now).toBe("ok");

        // MQTT 5 refusal in the PUBACK fails that publish, not the connection
        const p3 = outcome(c.client.publishAsync("t", "three", 1));
        await fb.w.until(() => count("publish") === 3);
        const id3 = conn.packets.filter((p) => p.cmd === "publish")[2]!.messageId;
        conn.send(gen({ cmd: "puback", messageId: id3, reasonCode: 0x97, properties: { reasonString: "quota exceeded" } }, 5));
        const r3 = await p3;
        expect(r3).toBeInstanceOf(Error);
        expect((r3 as Error).message).toContain("0x97");
        expect((r3 as Error).message).toContain("quota exceeded");
        expect(c.client.connected).toBe(true);
        expect(c.errors).toEqual([]);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("the broker's receive maximum bounds the publishes in flight (fake broker, maximum 1)", async () => {
    let unacked = 0;
    let most = 0;
    const fb = fakeBroker(5, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(5, { receiveMaximum: 1 }));
      if (p.cmd === "publish") {
        unacked++;
        most = Math.max(most, unacked);
        // answered from a later turn, so further publishes the client wrongly sent would be counted first
        setImmediate(() => {
          unacked--;
          conn.send(gen({ cmd: "puback", messageId: p.messageId }, 5));
        });
      }
    });
    try {
      const c = await connectWatched(local(fb.port, "rm1", { protocolVersion: 5 }));
      try {
        expect(c.connacks[0]!.receiveMaximum).toBe(1);
        const order: number[] = [];
        await Promise.all(Array.from({ length: 10 }, (_, i) => c.client.publishAsync("t", String(i), 1).then(() => order.push(i))));
        expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(most).toBe(1);
        expect(fb.conns[0]!.packets.filter((p) => p.cmd === "publish").map((p) => String((p as { payload: Buffer }).payload))).toEqual(order.map(String));
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("a QoS 2 publish refused at PUBREC frees its slot: the publish queued behind it goes out (receive maximum 1)", async () => {
    const fb = fakeBroker(5, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(5, { receiveMaximum: 1 }));
      if (p.cmd === "publish" && p.qos === 2) conn.send(gen({ cmd: "pubrec", messageId: p.messageId, reasonCode: 0x97, properties: { reasonString: "quota" } }, 5));
      if (p.cmd === "publish" && p.qos === 1) conn.send(gen({ cmd: "puback", messageId: p.messageId }, 5));
    });
    try {
      const c = await connectWatched(local(fb.port, "pubrec-refused", { protocolVersion: 5 }));
      try {
        const refused = outcome(c.client.publishAsync("t", "two", 2));
        const queued = outcome(c.client.publishAsync("t", "one", 1));
        const r = await refused;
        expect(r instanceof Error && r.message).toBe("broker refused the publish: reason 0x97 (quota)");
        expect(await queued).toBe("ok");
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("MQTT 5 receive maximum from Mosquitto (max_inflight_messages 2): 50 QoS 1 publishes complete in order", async () => {
    await withBroker({ extraConfig: "max_inflight_messages 2" }, async (broker, cleanup) => {
      const peer = await mqttjsPeer(broker, 4, "rm/#");
      cleanup.push(theirs(peer));
      const c = await connectWatched(local(broker.port, "rm-v5", { protocolVersion: 5 }));
      cleanup.push(ours(c));
      expect(c.connacks[0]!.receiveMaximum).toBe(2);
      const order: number[] = [];
      await Promise.all(Array.from({ length: 50 }, (_, i) => c.client.publishAsync("rm/x", `n${i}`, 1).then(() => order.push(i))));
      expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
      await peer.w.until(() => peer.received.length >= 50);
      expect(peer.received.map((r) => r.payload.toString())).toEqual(order.map((i) => `n${i}`));
      expect(c.errors).toEqual([]);
    });
  });
});

describe("receiving from an mqtt.js publisher through Mosquitto", () => {
  for (const v of VERSIONS) {
    test(`v${v}: QoS 0/1/2 arrive exactly, in order per topic`, async () => {
      await withBroker({}, async (broker, cleanup) => {
        const c = await connectWatched(local(broker.port, `sub-v${v}`, { protocolVersion: v }));
        cleanup.push(ours(c));
        expect(await c.client.subscribe([{ topic: "in/#", qos: 2 }])).toEqual([2]);
        const peer = await mqttjsPeer(broker, 4);
        cleanup.push(theirs(peer));
        const sent: Array<{ topic: string; payload: Buffer; qos: number }> = [];
        for (let i = 0; i < 30; i++) {
          const qos = (i % 3) as QoS;
          const topic = `in/q${qos}/🌡`;
          const payload = i % 2 ? Buffer.from(`wert ${i} ✓`) : Buffer.from([0, i, 0xff, 0xfe]);
          sent.push({ topic, payload, qos });
          await peer.client.publishAsync(topic, payload, { qos });
        }
        await c.w.until(() => c.messages.length >= 30);
        for (const qos of [0, 1, 2]) {
          const topic = `in/q${qos}/🌡`;
          const got: Array<{ topic: string; payload: Buffer; qos: number }> = c.messages.filter((m) => m.topic === topic).map((m) => ({ topic: m.topic, payload: m.payload, qos: m.qos }));
          expect(got).toEqual(sent.filter((s) => s.topic === topic));
        }
        // unsubscribed: a marker published afterwards to a topic still subscribed arrives alone
        await c.client.unsubscribe(["in/#"]);
        await c.client.subscribe([{ topic: "marker", qos: 1 }]);
        await peer.client.publishAsync("in/q1/🌡", "after unsubscribe", { qos: 1 });
        await peer.client.publishAsync("marker", "m", { qos: 1 });
        await c.w.until(() => c.messages.length >= 31);
        expect(c.messages.slice(30).map((m) => m.topic)).toEqual(["marker"]);
      });
    });
  }

  test("v5: response topic and correlation data reach the message", async () => {
    await withBroker({}, async (broker, cleanup) => {
      const c = await connectWatched(local(broker.port, "rr-v5", { protocolVersion: 5 }));
      cleanup.push(ours(c));
      await c.client.subscribe([{ topic: "req", qos: 1 }]);
      const peer = await mqttjsPeer(broker, 5);
      cleanup.push(theirs(peer));
      await peer.client.publishAsync("req", "ping", { qos: 1, properties: { responseTopic: "resp/ü", correlationData: Buffer.from([9, 0, 8]), userProperties: { a: "b" } } });
      await c.w.until(() => c.messages.length >= 1);
      expect(c.messages[0]!.responseTopic).toBe("resp/ü");
      expect(c.messages[0]!.correlationData).toEqual(Buffer.from([9, 0, 8]));
    });
  });

  for (const v of [4, 5] as ProtocolVersion[]) {
    test(`v${v} manualAck: an unacknowledged QoS 1 message is redelivered to the persistent session, an acknowledged one is not`, async () => {
      await withBroker({}, async (broker, cleanup) => {
        const opts = local(broker.port, `keeper-v${v}`, { protocolVersion: v, clean: false, manualAck: true, sessionExpirySeconds: v === 5 ? 300 : undefined });
        const peer = await mqttjsPeer(broker, 4);
        cleanup.push(theirs(peer));
        const first = await connectWatched(opts);
        cleanup.push(ours(first));
        await first.client.subscribe([{ topic: "ack/#", qos: 1 }]);
        await peer.client.publishAsync("ack/unacked", "1", { qos: 1 });
        await peer.client.publishAsync("ack/acked", "2", { qos: 1 });
        await first.w.until(() => first.messages.length >= 2);
        expect(first.messages.map((m) => m.topic)).toEqual(["ack/unacked", "ack/acked"]);
        first.messages[1]!.ack();
        await first.client.end();
        await waitForLog(broker, new RegExp(`Client keeper-v${v} disconnected\\.`));
        // acknowledging on a connection that is gone does nothing (the broker will redeliver)
        first.messages[0]!.ack();

        const second = await connectWatched(opts);
        cleanup.push(ours(second));
        expect(second.connacks[0]!.sessionPresent).toBe(true);
        await peer.client.publishAsync("ack/marker", "3", { qos: 1 });
        await second.w.until(() => second.messages.some((m) => m.topic === "ack/marker"));
        expect(second.messages.map((m) => [m.topic, m.payload.toString()])).toEqual([
          ["ack/unacked", "1"],
          ["ack/marker", "3"],
        ]);
        for (const m of second.messages) m.ack();
        expect(first.errors).toEqual([]);
        expect(second.errors).toEqual([]);
      });
    });
  }

  test("pauseReading stops delivery, resumeReading delivers what waited, in order", async () => {
    await withBroker({}, async (broker, cleanup) => {
      const c = await connectWatched(local(broker.port, "pauser"));
      cleanup.push(ours(c));
      await c.client.subscribe([{ topic: "p/#", qos: 1 }]);
      // a second subscriber shows when the broker has sent the messages out
      const witness = await mqttjsPeer(broker, 4, "p/#");
      cleanup.push(theirs(witness));
      const peer = await mqttjsPeer(broker, 4);
      cleanup.push(theirs(peer));
      c.client.pauseReading();
      for (let i = 0; i < 20; i++) await peer.client.publishAsync("p/x", `m${i}`, { qos: 1 });
      await witness.w.until(() => witness.received.length >= 20);
      // absence can only be shown by waiting: the messages are in our socket's receive buffer by now
      await Bun.sleep(300);
      expect(c.messages.length).toBe(0);
      c.client.resumeReading();
      await c.w.until(() => c.messages.length >= 20);
      expect(c.messages.map((m) => m.payload.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    });
  });
});

describe("large payloads", () => {
  test("three 5 MB publishes go out through the socket's backpressure, a 5 MB message comes in", async () => {
    await withBroker({}, async (broker, cleanup) => {
      const peer = await mqttjsPeer(broker, 4, "big/out");
      cleanup.push(theirs(peer));
      const c = await connectWatched(local(broker.port, "big"));
      cleanup.push(ours(c));
      const payloads = [1, 2, 3].map((k) => {
        const b = Buffer.alloc(5 * 1024 * 1024);
        for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * k) >>> 0, i);
        return b;
      });
      const done = payloads.map((p) => c.client.publishAsync("big/out", p, 1));
      await macrotask();
      // 15 MB does not fit in one non-blocking write: the rest waits for `drain`
      expect(c.client.bufferedBytes).toBeGreaterThan(0);
      await Promise.all(done);
      expect(c.client.bufferedBytes).toBe(0);
      await peer.w.until(() => peer.received.length >= 3);
      for (let i = 0; i < 3; i++) expect(peer.received[i]!.payload.equals(payloads[i]!)).toBe(true);

      await c.client.subscribe([{ topic: "big/in", qos: 1 }]);
      const incoming = Buffer.alloc(5 * 1024 * 1024 + 17, "é");
      await peer.client.publishAsync("big/in", incoming, { qos: 1 });
      await c.w.until(() => c.messages.length >= 1);
      expect(c.messages[0]!.payload.equals(incoming)).toBe(true);
      expect(c.errors).toEqual([]);
    });
  });
});

describe("connection loss and shutdown", () => {
  test("the broker dying fails pending and queued publishes and subscribes, close is emitted once", async () => {
    await withBroker({ extraConfig: "max_inflight_messages 2" }, async (broker, cleanup) => {
      const c = await connectWatched(local(broker.port, "doomed", { protocolVersion: 5 }));
      cleanup.push(ours(c));
      expect(c.connacks[0]!.receiveMaximum).toBe(2);
      // a stopped broker takes the bytes (kernel) but acknowledges nothing
      const pid = broker.pid!;
      process.kill(pid, "SIGSTOP");
      cleanup.push(() => process.kill(pid, "SIGCONT"));
      const pubs = [...Array.from({ length: 6 }, (_, i) => outcome(c.client.publishAsync("d", `q1 ${i}`, 1))), outcome(c.client.publishAsync("d", "q2", 2))];
      const sub = outcome(c.client.subscribe([{ topic: "d/#", qos: 1 }]));
      await macrotask();
      expect(c.client.bufferedBytes).toBe(0);
      process.kill(pid, "SIGKILL");
      await c.w.until(() => c.closes > 0);
      const results = await Promise.all([...pubs, sub]);
      for (const r of results) {
        expect(r).toBeInstanceOf(Error);
        expect((r as Error).message).toContain("connection lost");
      }
      expect(c.client.connected).toBe(false);
      expect((await outcome(c.client.publishAsync("d", "late", 1))) as Error).toBeInstanceOf(Error);
      // a later end() (a caller shutting down after the drop) is no second close
      await c.client.end();
      expect(c.closes).toBe(1);
    });
  });

  test("end() sends DISCONNECT and waits for pending publishes; close once; the broker logs a clean disconnect", async () => {
    await withBroker({}, async (broker, cleanup) => {
      const peer = await mqttjsPeer(broker, 4, "bye");
      cleanup.push(theirs(peer));
      const c = await connectWatched(local(broker.port, "leaver"));
      cleanup.push(ours(c));
      const pub = outcome(c.client.publishAsync("bye", "last words", 1));
      await c.client.end();
      expect(await pub).toBe("ok");
      expect(c.closes).toBe(1);
      expect(c.client.ended).toBe(true);
      await waitForLog(broker, /Client leaver (disconnected\.|closed its connection)/);
      expect(broker.output()).toContain("Client leaver disconnected.");
      expect(broker.output()).not.toContain("Client leaver closed its connection");
      await peer.w.until(() => peer.received.length >= 1);
      expect(peer.received[0]!.payload.toString()).toBe("last words");
      await c.client.end();
      expect(c.closes).toBe(1);
    });
  });

  test("openConnection reconnects after the broker restarts, and not after close()", async () => {
    await withBroker({}, async (broker, cleanup) => {
      const w = new Waiter();
      let connects = 0;
      const disconnects: string[] = [];
      const conn = openConnection(local(broker.port, "managed"), new Logger("test", "NONE"), "test", {
        onConnect: () => (connects++, w.notify()),
        onDisconnect: (r) => (disconnects.push(r), w.notify()),
      }, { minMs: 10, maxMs: 20 });
      cleanup.push(() => conn.close(true));
      await w.until(() => connects === 1);
      await broker.stop();
      await w.until(() => disconnects.length === 1);
      await broker.start();
      await w.until(() => connects === 2);
      await conn.close();
      expect(conn.client.ended).toBe(true);
      await waitForLog(broker, /Client managed disconnected\./);
      // absence of a reconnect needs a wait: 10 times the longest backoff
      await Bun.sleep(200);
      expect(connects).toBe(2);
      expect(broker.output().match(/New client connected from \S+ as managed /g)?.length).toBe(2);
    });
  });

  for (const v of VERSIONS) {
    test(`v${v}: a refused CONNECT (anonymous not allowed) is a ConnectRefusedError with the broker's code`, async () => {
      await withBroker({ extraConfig: "allow_anonymous false" }, async (broker) => {
        const err = await connectOnce(local(broker.port, `refused-v${v}`, { protocolVersion: v })).then(
          (c) => (c.end(true), new Error("accepted")),
          (e: Error) => e,
        );
        expect(err).toBeInstanceOf(ConnectRefusedError);
        const code = (err as ConnectRefusedError).code;
        if (v === 5) expect([0x86, 0x87]).toContain(code);
        else expect(code).toBe(5);
      });
    });
  }
});

describe("misbehaving brokers", () => {
  test("no PINGRESP: error and close after about two keepalive intervals", async () => {
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(4));
    });
    try {
      const started = Date.now();
      const c = await connectWatched(local(fb.port, "lonely", { keepaliveSeconds: 1 }));
      try {
        await c.w.until(() => c.closes > 0);
        const took = Date.now() - started;
        expect(c.errors.length).toBe(1);
        expect(c.errors[0]!.message).toContain("keepalive");
        expect(fb.conns[0]!.packets.filter((p) => p.cmd === "pingreq").length).toBeGreaterThanOrEqual(1);
        // generous bound: one interval to send PINGREQ, one more to give up
        expect(took).toBeGreaterThanOrEqual(1900);
        expect(took).toBeLessThan(5000);
        await fb.w.until(() => fb.conns[0]!.closed);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("PINGRESPs keep the connection up", async () => {
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(4));
      if (p.cmd === "pingreq") conn.send(gen({ cmd: "pingresp" }, 4));
    });
    try {
      const c = await connectWatched(local(fb.port, "pinger", { keepaliveSeconds: 1 }));
      try {
        await fb.w.until(() => fb.conns[0]!.packets.filter((p) => p.cmd === "pingreq").length >= 3);
        expect(c.errors).toEqual([]);
        expect(c.client.connected).toBe(true);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("a server keepalive in CONNACK (v5) replaces ours", async () => {
    const fb = fakeBroker(5, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(5, { serverKeepAlive: 1 }));
    });
    try {
      const c = await connectWatched(local(fb.port, "told", { protocolVersion: 5, keepaliveSeconds: 600 }));
      try {
        await c.w.until(() => c.closes > 0);
        expect(c.errors[0]!.message).toContain("keepalive");
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("garbage bytes: a protocol error, then close", async () => {
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(Buffer.concat([connack(4), Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61])]));
    });
    try {
      const c = watch(new MqttClient(local(fb.port, "garbage")));
      c.client.connect();
      try {
        await c.w.until(() => c.closes > 0);
        expect(c.errors.length).toBe(1);
        expect(c.errors[0]!.message).toContain("QoS 3");
        expect(c.client.connected).toBe(false);
        await fb.w.until(() => fb.conns[0]!.closed);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("incoming QoS 2 redelivered after our PUBREC is handed over once; PUBREL completes it", async () => {
    const publish = (dup: boolean) => gen({ cmd: "publish", topic: "q2/x", payload: Buffer.from("once"), qos: 2, messageId: 7, dup, retain: false }, 4);
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(Buffer.concat([connack(4), publish(false)]));
      // the broker did not see our PUBREC in time (as after a hiccup) and sends the message again
      else if (p.cmd === "pubrec" && conn.packets.filter((x) => x.cmd === "pubrec").length === 1) conn.send(publish(true));
      else if (p.cmd === "pubrec") conn.send(gen({ cmd: "pubrel", messageId: 7 }, 4));
    });
    try {
      const c = watch(new MqttClient(local(fb.port, "qos2-dup")));
      c.client.connect();
      try {
        const conn = await fb.w.until(() => fb.conns.length > 0).then(() => fb.conns[0]!);
        await fb.w.until(() => conn.packets.some((p) => p.cmd === "pubcomp"));
        const cmds = conn.packets.map((p) => p.cmd);
        expect(cmds.filter((x) => x === "pubrec").length).toBe(2);
        expect(conn.packets.find((p) => p.cmd === "pubcomp")!.messageId).toBe(7);
        expect(c.messages.map((m) => m.payload.toString())).toEqual(["once"]);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("no CONNACK within connectTimeoutMs: an error naming it, then close", async () => {
    const fb = fakeBroker(4); // accepts the TCP connection, never answers
    try {
      const c = watch(new MqttClient(local(fb.port, "silent", { connectTimeoutMs: 300 })));
      c.client.connect();
      try {
        await c.w.until(() => c.closes > 0);
        expect(c.errors.map((e) => e.message)).toEqual(["no CONNACK within 0.3 s"]);
        expect(c.client.connected).toBe(false);
        await fb.w.until(() => fb.conns[0]?.closed === true);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("packets after a DISCONNECT in the same chunk belong to no connection: not delivered", async () => {
    const fb = fakeBroker(5, (conn, p) => {
      if (p.cmd !== "connect") return;
      const publish = gen({ cmd: "publish", topic: "late/one", payload: Buffer.from("x"), qos: 0, retain: false, dup: false }, 5);
      conn.send(Buffer.concat([connack(5), publish, gen({ cmd: "disconnect", reasonCode: 0x8b }, 5), publish]));
    });
    try {
      const c = watch(new MqttClient(local(fb.port, "after-disconnect", { protocolVersion: 5 })));
      c.client.connect();
      try {
        await c.w.until(() => c.closes > 0);
        expect(c.messages.length).toBe(1);
        expect(c.errors[0]!.message).toContain("0x8b");
        expect(c.closes).toBe(1);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  for (const [v, code] of [[4, 4], [4, 2], [5, 0x86], [5, 0x9c]] as Array<[ProtocolVersion, number]>) {
    test(`v${v}: CONNACK refusal code ${code}`, async () => {
      const fb = fakeBroker(v, (conn, p) => {
        if (p.cmd !== "connect") return;
        conn.send(v === 5 ? gen({ cmd: "connack", reasonCode: code, sessionPresent: false, properties: { reasonString: "go away" } }, 5) : gen({ cmd: "connack", returnCode: code, sessionPresent: false }, 4));
      });
      try {
        const err = await connectOnce(local(fb.port, "refusee", { protocolVersion: v })).then(
          (c) => (c.end(true), new Error("accepted")),
          (e: Error) => e,
        );
        expect(err).toBeInstanceOf(ConnectRefusedError);
        expect((err as ConnectRefusedError).code).toBe(code);
        if (v === 5) expect(err.message).toContain("go away");
      } finally {
        fb.stop();
      }
    });
  }

  test("a broker writing one byte at a time: CONNACK, SUBACK, PUBLISH QoS 2 and DISCONNECT all understood", async () => {
    const v = 5;
    const dribble = async (conn: { send(b: Buffer): void }, b: Buffer) => {
      for (const byte of b) {
        conn.send(Buffer.from([byte]));
        await macrotask();
      }
    };
    const fb = fakeBroker(v, (conn, p) => {
      if (p.cmd === "connect") void dribble(conn, connack(v, { receiveMaximum: 5, reasonString: "slow" }));
      if (p.cmd === "subscribe") {
        void dribble(
          conn,
          Buffer.concat([
            gen({ cmd: "suback", messageId: p.messageId, granted: [2] }, v),
            gen({ cmd: "publish", topic: "s/ü", payload: "dribbled ✓", qos: 2, messageId: 42, dup: false, retain: false, properties: { responseTopic: "r" } }, v),
          ]),
        );
      }
      if (p.cmd === "pubcomp") void dribble(conn, gen({ cmd: "disconnect", reasonCode: 0x8b, properties: { reasonString: "shutting down" } }, v));
    });
    try {
      const c = await connectWatched(local(fb.port, "dribble", { protocolVersion: v }));
      try {
        expect(c.connacks[0]).toMatchObject({ receiveMaximum: 5, reasonString: "slow" });
        expect(await c.client.subscribe([{ topic: "s/#", qos: 2 }])).toEqual([2]);
        await c.w.until(() => c.messages.length >= 1);
        const m = c.messages[0]!;
        expect([m.topic, m.payload.toString(), m.qos, m.responseTopic]).toEqual(["s/ü", "dribbled ✓", 2, "r"]);
        const conn = fb.conns[0]!;
        // the client answered the QoS 2 PUBLISH with PUBREC; the broker releases it
        await fb.w.until(() => conn.packets.some((p) => p.cmd === "pubrec"));
        void dribble(conn, gen({ cmd: "pubrel", messageId: 42 }, v));
        await c.w.until(() => c.closes > 0);
        expect(conn.packets.find((p) => p.cmd === "pubcomp")?.messageId).toBe(42);
        expect(c.errors.length).toBe(1);
        expect(c.errors[0]!.message).toContain("0x8b");
        expect(c.errors[0]!.message).toContain("shutting down");
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });
});

describe("TLS", () => {
  const pki = makeTestPki();
  const ca = readFileSync(pki.caCert, "utf8");
  const otherCa = readFileSync(pki.otherCaCert, "utf8");
  afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));
  const tlsBroker = async (fn: (b: Broker, tlsPort: number, cleanup: Array<() => unknown>) => Promise<void>) => {
    const tlsPort = await freePort();
    const listener = [`listener ${tlsPort} 127.0.0.1`, `cafile ${pki.caCert}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`].join("\n");
    await withBroker({ extraConfig: listener }, (b, cleanup) => fn(b, tlsPort, cleanup));
  };
  /**
   * A CONNECT the failed client sent would have reached the broker before this later client's
   * (it would have been written before the client gave up): once the broker logs the marker, it
   * has seen everything the failed client sent.
   */
  const brokerCaughtUp = async (b: Broker, tlsPort: number) => {
    const marker = await connectWatched(local(tlsPort, "tls-marker", { tls: { ca } }));
    await marker.client.end();
    await waitForLog(b, /as tls-marker \(/);
  };

  test("with the right CA: connects, publishes and receives", async () => {
    await tlsBroker(async (broker, tlsPort, cleanup) => {
      const c = await connectWatched(local(tlsPort, "tls-ok", { tls: { ca } }));
      cleanup.push(ours(c));
      await c.client.subscribe([{ topic: "tls/#", qos: 1 }]);
      await c.client.publishAsync("tls/x", "secret ✓", 1);
      await c.w.until(() => c.messages.length >= 1);
      expect(c.messages[0]!.payload.toString()).toBe("secret ✓");
      await waitForLog(broker, /as tls-ok \(/);
    });
  });

  test("a server certificate from another CA: a verification error code, and the broker never got a CONNECT", async () => {
    await tlsBroker(async (broker, tlsPort) => {
      const err = await connectOnce(local(tlsPort, "tls-wrong-ca", { tls: { ca: otherCa }, username: "would-leak" })).then(
        (c) => (c.end(true), new Error("accepted")),
        (e: Error & { code?: unknown }) => e,
      );
      expect(["SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_SIGNATURE_FAILURE"]).toContain(String((err as { code?: unknown }).code));
      await brokerCaughtUp(broker, tlsPort);
      expect(broker.output()).not.toContain("tls-wrong-ca");
      expect(broker.output()).not.toContain("would-leak");
    });
  });

  test("a certificate for another host name: ERR_TLS_CERT_ALTNAME_INVALID, no CONNECT", async () => {
    await tlsBroker(async (broker, tlsPort) => {
      const err = await connectOnce(local(tlsPort, "tls-wrong-name", { tls: { ca, serverName: "not-this-broker.example" } })).then(
        (c) => (c.end(true), new Error("accepted")),
        (e: Error & { code?: unknown }) => e,
      );
      expect((err as { code?: string }).code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
      await brokerCaughtUp(broker, tlsPort);
      expect(broker.output()).not.toContain("tls-wrong-name");
    });
  });

  test("rejectUnauthorized false accepts the unverifiable certificate", async () => {
    await tlsBroker(async (broker, tlsPort, cleanup) => {
      const c = await connectWatched(local(tlsPort, "tls-lax", { tls: { ca: otherCa, rejectUnauthorized: false } }));
      cleanup.push(ours(c));
      await waitForLog(broker, /as tls-lax \(/);
    });
  });
});

test("refusedFilters names the filters a SUBACK refused, with their codes", () => {
  const subs = [{ topic: "a/#" }, { topic: "b" }, { topic: "c/+" }];
  expect(refusedFilters(subs, [1, 0x80, 0x87])).toEqual([
    { topic: "b", code: 0x80 },
    { topic: "c/+", code: 0x87 },
  ]);
  expect(refusedFilters(subs, [0, 1, 2])).toEqual([]);
});
