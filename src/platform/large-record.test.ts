// Records larger than one publish (stored under a larger payload limit than the session uses now,
// e.g. before the platform's session limits arrived or from an older configuration): the sender
// spreads their rows over several publishes, acknowledges the batch to storage only when every
// publish of it was acknowledged, and never sends a row twice on one connection. Against the
// scriptable fake broker (a real broker cannot be told to drop the connection mid-record).

import { afterAll, beforeAll, expect, test } from "bun:test";
import type mp from "mqtt-packet";
import { connack, fakeBroker, gen, type FakeConn } from "../common/mqtt/test-peers.ts";
import { toRecords } from "../core/records.ts";
import { Logger, setStderrLogging } from "../observe/logger.ts";
import type { MemoryStorage } from "../storage/memory.ts";
import type { Sender } from "./sender.ts";
import { senderRig } from "./test-rig.ts";

beforeAll(() => setStderrLogging(false));
afterAll(() => setStderrLogging(true));

const DEVICES = 4;
const ROWS = 1000;
/** What the records were cut for (90 % of 65,536); the session now allows 90 % of 20,000. */
const STORED_LIMIT = Math.floor(65536 * 0.9);
const T0 = 1_765_000_000_000;

type Publish = mp.IPublishPacket & { payload: Buffer };
const telemetry = (c: FakeConn) => c.packets.filter((p): p is Publish => p.cmd === "publish" && p.topic === "v1/gateway/telemetry");

/** Rows per `device@ts` in the telemetry of `conns`, each row's values checked whole. */
function rows(conns: FakeConn[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const c of conns) {
    for (const p of telemetry(c)) {
      for (const [device, entries] of Object.entries(JSON.parse(p.payload.toString()) as Record<string, Array<{ ts: number; values: Record<string, number> }>>)) {
        for (const e of entries) {
          if (device === "Camera") {
            seen.set(`Camera ${Object.keys(e.values).join(",")}`, (seen.get(`Camera ${Object.keys(e.values).join(",")}`) ?? 0) + 1);
            continue;
          }
          const i = e.ts - T0;
          expect(e.values).toEqual({ seq: i, temperature: i / 10 });
          seen.set(`${device}@${e.ts}`, (seen.get(`${device}@${e.ts}`) ?? 0) + 1);
        }
      }
    }
  }
  return seen;
}

async function withSender(
  dropOnFirst: (conn: FakeConn, publishNo: number) => boolean,
  body: (ctx: { storage: MemoryStorage; sender: Sender; conns: FakeConn[]; records: number; dropped: Array<[string, number]> }) => Promise<void>,
  extra: (storage: MemoryStorage) => number = () => 0,
) {
  const fb = fakeBroker(4, (conn, p) => {
    if (p.cmd === "connect") conn.send(connack(4));
    if (p.cmd === "pingreq") conn.send(gen({ cmd: "pingresp" }, 4));
    if (p.cmd === "subscribe") conn.send(gen({ cmd: "suback", messageId: p.messageId, granted: p.subscriptions.map(() => 1) }, 4));
    if (p.cmd === "publish" && p.qos === 1) {
      if (conn === fb.conns[0] && p.topic === "v1/gateway/telemetry" && dropOnFirst(conn, telemetry(conn).length)) {
        conn.socket.end();
        return;
      }
      conn.send(gen({ cmd: "puback", messageId: p.messageId }, 4));
    }
  });
  const dropped: Array<[string, number]> = [];
  const rig = senderRig({
    port: fb.port,
    log: new Logger("test", "NONE"),
    maxRecords: 100_000,
    // a small window: a record's publishes wait for acknowledgements of the same record
    thingsboard: { maxPayloadSizeBytes: 20_000, maxInflightPublishes: 2, sessionLimitsTimeoutMs: 100 },
    sender: { batchRecords: 3, idleDelayMs: 10, platformName: (n) => n, onDropped: (d, n) => dropped.push([d, n]) },
  });
  const { storage, sender } = rig;
  try {
    let records = 0;
    for (let d = 0; d < DEVICES; d++) {
      const telemetryRows = Array.from({ length: ROWS }, (_, i) => ({ ts: T0 + i, values: { seq: i, temperature: i / 10 } }));
      const recs = toRecords({ deviceName: `Meter ${d}`, telemetry: telemetryRows }, "meter", 0, STORED_LIMIT);
      expect(Math.max(...recs.map((r) => Buffer.byteLength(r)))).toBeGreaterThan(2 * 18_000);
      expect(storage.put(recs)).toBe("stored");
      records += recs.length;
    }
    records += extra(storage);
    await rig.start();
    await rig.waiter.until(() => storage.depth() === 0);
    await body({ storage, sender, conns: fb.conns, records, dropped });
  } finally {
    await rig.close();
    fb.stop();
  }
}

test("a record larger than a publish goes in several, the batch is acknowledged once all are; every row once, whole, each publish under the limit", async () => {
  await withSender(
    () => false,
    async ({ sender, conns, records, dropped }) => {
      expect(conns.length).toBe(1);
      const pubs = telemetry(conns[0]!);
      for (const p of pubs) expect(p.payload.length).toBeLessThanOrEqual(18_000);
      // the largest records needed three publishes or more
      expect(pubs.length).toBeGreaterThan(records);
      const seen = rows(conns);
      expect(seen.size).toBe(DEVICES * ROWS);
      expect(dropped).toEqual([]);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(sender.stats.recordsAcked).toBe(records);
      expect(sender.stats.datapointsAcked).toBe(DEVICES * ROWS * 2);
    },
  );
}, 30_000);

test("the connection drops after part of a record's publishes were acknowledged: the next connection carries every row not acknowledged, each once; nothing lost", async () => {
  await withSender(
    (_conn, n) => n === 2, // the first publish of the first record acknowledged, its second never
    async ({ conns, records, sender }) => {
      expect(conns.length).toBe(2);
      const second = rows([conns[1]!]);
      // on one connection no row comes twice
      expect([...second.values()].every((n) => n === 1)).toBe(true);
      const all = rows(conns);
      expect(all.size).toBe(DEVICES * ROWS);
      // rows of the first connection come again only when their record was not acknowledged as a whole
      const repeated = [...all.values()].filter((n) => n > 1).length;
      expect(repeated).toBeGreaterThan(0);
      expect(repeated).toBeLessThan(2 * ROWS);
      expect(sender.stats.recordsAcked).toBe(records);
    },
  );
}, 30_000);

test("a value larger than the platform accepts (no session answer: 65536) is not sent: counted as dropped, the batch acknowledged, no reconnect, every other row once", async () => {
  await withSender(
    () => false,
    async ({ conns, records, sender, dropped }) => {
      expect(conns.length).toBe(1);
      for (const p of telemetry(conns[0]!)) expect(p.payload.length).toBeLessThanOrEqual(65536);
      const seen = rows(conns);
      // the row's small key still arrives; the image does not
      expect(seen.get("Camera frame")).toBe(1);
      expect(seen.size).toBe(DEVICES * ROWS + 1);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(dropped).toEqual([["Camera", 1]]);
      expect(sender.stats.recordsAcked).toBe(records);
    },
    (storage) => {
      // after the meters' records: a camera row with a 100 KB image and a small key
      const recs = toRecords({ deviceName: "Camera", telemetry: [{ ts: T0, values: { image: "x".repeat(100_000), frame: 1 } }] }, "camera", 0, STORED_LIMIT);
      storage.put(recs);
      return recs.length;
    },
  );
}, 30_000);
