// ackTimeoutMs against a scriptable fake broker: a broker that keeps the connection up (and answers
// PINGREQ) but stops acknowledging is dropped after the bound; one that acknowledges slowly but
// steadily is not; openConnection reconnects after such a drop and the new connection works.

import { describe, expect, test } from "bun:test";
import { Logger } from "../../observe/logger.ts";
import { AckTimeoutError, awaitingText, type MqttClientOptions } from "./client.ts";
import { openConnection } from "./connection.ts";
import { connack, connectWatched, fakeBroker, gen, outcome, Waiter } from "./test-peers.ts";

const local = (port: number, clientId: string, more: Partial<MqttClientOptions> = {}): MqttClientOptions => ({ host: "127.0.0.1", port, clientId, ...more });

describe("a broker that stops acknowledging", () => {
  test("PINGRESPs keep coming, PUBACKs do not: AckTimeoutError after the bound, pending publishes fail, close", async () => {
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(4));
      if (p.cmd === "pingreq") conn.send(gen({ cmd: "pingresp" }, 4));
    });
    try {
      const limitMs = 2500;
      const c = await connectWatched(local(fb.port, "unacked", { keepaliveSeconds: 1, ackTimeoutMs: limitMs }));
      try {
        const sentAt = performance.now();
        const pubs = Array.from({ length: 37 }, (_, i) => outcome(c.client.publishAsync("t", `m${i}`, 1)));
        await c.w.until(() => c.closes > 0);
        const took = performance.now() - sentAt;
        expect(c.errors.length).toBe(1);
        const err = c.errors[0]!;
        expect(err).toBeInstanceOf(AckTimeoutError);
        const e = err as AckTimeoutError;
        expect([e.publishes, e.subscribes]).toEqual([37, 0]);
        expect(e.message).toMatch(/^the broker acknowledged nothing for \d+\.\d s while 37 publishes awaited it$/);
        // never before the bound; at most a quarter of it late (tick granularity), plus scheduling slack
        expect(e.quietMs).toBeGreaterThanOrEqual(limitMs);
        expect(took).toBeGreaterThanOrEqual(limitMs);
        expect(took).toBeLessThan(limitMs * 1.25 + 1500);
        // the pings were answered all along: the keepalive alone would never have noticed
        expect(fb.conns[0]!.packets.filter((p) => p.cmd === "pingreq").length).toBeGreaterThanOrEqual(2);
        for (const r of await Promise.all(pubs)) expect(r instanceof Error && r.message).toBe("connection lost before the broker acknowledged");
        await fb.w.until(() => fb.conns[0]!.closed);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("no SUBACK: the subscribe counts as awaiting too", async () => {
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(4));
    });
    try {
      const c = await connectWatched(local(fb.port, "unsubacked", { ackTimeoutMs: 400 }));
      try {
        const sub = outcome(c.client.subscribe([{ topic: "x", qos: 1 }]));
        await c.w.until(() => c.closes > 0);
        const e = c.errors[0] as AckTimeoutError;
        expect([e.publishes, e.subscribes]).toEqual([0, 1]);
        expect(e.message).toContain("while 1 subscribe awaited it");
        expect(await sub).toBeInstanceOf(Error);
      } finally {
        await c.client.end(true);
      }
    } finally {
      fb.stop();
    }
  });

  test("a slow broker acknowledging steadily is never dropped, though every publish waits longer than the bound", async () => {
    // One PUBACK per 100 ms, in order; the client keeps 16 publishes waiting, so each waits ~1.6 s:
    // longer than the 1.2 s bound. Only a broker that acknowledges nothing for 1.2 s is stuck.
    const queue: number[] = [];
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(4));
      if (p.cmd === "publish") queue.push(p.messageId!);
    });
    const acker = setInterval(() => {
      const id = queue.shift();
      const conn = fb.conns[0];
      if (id !== undefined && conn) conn.send(gen({ cmd: "puback", messageId: id }, 4));
    }, 100);
    try {
      const limitMs = 1200;
      const c = await connectWatched(local(fb.port, "slow-but-fine", { ackTimeoutMs: limitMs }));
      try {
        const total = 36;
        const window = 16;
        const w = new Waiter();
        const results: Array<"ok" | Error> = [];
        let longestWait = 0;
        let sent = 0;
        const send = (): void => {
          const at = performance.now();
          sent++;
          void outcome(c.client.publishAsync("t", `m${sent}`, 1)).then((r) => {
            longestWait = Math.max(longestWait, performance.now() - at);
            results.push(r);
            if (sent < total) send();
            w.notify();
          });
        };
        for (let i = 0; i < window; i++) send();
        await w.until(() => results.length === total || c.closes > 0);
        expect(c.errors).toEqual([]);
        expect(results).toEqual(Array.from({ length: total }, () => "ok" as const));
        // the premise: publishes waited longer than the bound, yet nothing was dropped
        expect(longestWait).toBeGreaterThan(limitMs);
        expect(c.client.connected).toBe(true);
      } finally {
        await c.client.end(true);
      }
    } finally {
      clearInterval(acker);
      fb.stop();
    }
  });

  test("openConnection: after the drop it reconnects; the next connection acknowledges what is sent again", async () => {
    // the first connection never acknowledges a publish, later ones do
    const fb = fakeBroker(4, (conn, p) => {
      if (p.cmd === "connect") conn.send(connack(4));
      if (p.cmd === "publish" && conn !== fb.conns[0]) conn.send(gen({ cmd: "puback", messageId: p.messageId }, 4));
    });
    const w = new Waiter();
    const disconnects: string[] = [];
    let connects = 0;
    const conn = openConnection(local(fb.port, "resender", { ackTimeoutMs: 500 }), new Logger("test", "NONE"), "test", {
      onConnect: () => (connects++, w.notify()),
      onDisconnect: (r) => (disconnects.push(r), w.notify()),
    }, { minMs: 10, maxMs: 20 });
    try {
      await w.until(() => connects === 1);
      // the caller's part: resend whatever failed (the gateway's sender rewinds its storage)
      const outcomes: Array<"ok" | Error> = [];
      const publish = (payload: string): void => {
        void outcome(conn.client.publishAsync("t", payload, 1)).then((r) => {
          if (r === "ok") outcomes.push(r);
          else w.until(() => conn.client.connected).then(() => publish(payload));
          w.notify();
        });
      };
      for (let i = 0; i < 5; i++) publish(`m${i}`);
      await w.until(() => outcomes.length === 5);
      expect(connects).toBe(2);
      expect(disconnects.length).toBe(1);
      expect(disconnects[0]).toMatch(/^the broker acknowledged nothing for \d+\.\d s while 5 publishes awaited it$/);
      expect(fb.conns[1]!.packets.filter((p) => p.cmd === "publish").map((p) => (p as { payload: Buffer }).payload.toString()).sort()).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    } finally {
      await conn.close(true);
      fb.stop();
    }
  });
});

test("awaitingText counts publishes and subscribes", () => {
  expect(awaitingText(37, 0)).toBe("37 publishes");
  expect(awaitingText(1, 0)).toBe("1 publish");
  expect(awaitingText(0, 2)).toBe("2 subscribes");
  expect(awaitingText(3, 1)).toBe("3 publishes and 1 subscribe");
});
