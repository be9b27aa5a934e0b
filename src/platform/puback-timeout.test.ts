// A platform that stops acknowledging: the platform client with the sender and a memory storage,
// against the scriptable fake broker. The first connection never gets a PUBACK (PINGREQ and
// SUBSCRIBE are answered); the client drops it after the bound, reconnects, and the sender sends
// every record again on the next connection.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { connack, fakeBroker, gen } from "../common/mqtt/test-peers.ts";
import { toRecords } from "../core/records.ts";
import { addLogSink, Logger, setStderrLogging, type LogRecord } from "../observe/logger.ts";
import { pubackTimeoutMs, PUBACK_TIMEOUT_ENV } from "./client.ts";
import { senderRig } from "./test-rig.ts";

beforeAll(() => setStderrLogging(false));
afterAll(() => setStderrLogging(true));

const DEVICES = 3;
const PER_DEVICE = 100;

test("no PUBACK on the first connection: dropped after the bound with a warning, every record acknowledged on the next", async () => {
  const fb = fakeBroker(4, (conn, p) => {
    if (p.cmd === "connect") conn.send(connack(4));
    if (p.cmd === "pingreq") conn.send(gen({ cmd: "pingresp" }, 4));
    if (p.cmd === "subscribe") conn.send(gen({ cmd: "suback", messageId: p.messageId, granted: p.subscriptions.map(() => 1) }, 4));
    if (p.cmd === "publish" && p.qos === 1 && conn !== fb.conns[0]) conn.send(gen({ cmd: "puback", messageId: p.messageId }, 4));
  });
  const lines: LogRecord[] = [];
  const removeSink = addLogSink((r) => lines.push(r));
  const rig = senderRig({
    port: fb.port,
    log: new Logger("test"),
    maxRecords: 10_000,
    thingsboard: {
      keep_alive: 1,
      // small publishes and a window of two: the first connection takes two and then waits
      maxPayloadSizeBytes: 400,
      maxInflightPublishes: 2,
      sessionLimitsTimeoutMs: 200,
    },
    sender: { batchRecords: 512, idleDelayMs: 10, platformName: (n) => n },
    env: { [PUBACK_TIMEOUT_ENV]: "600" },
  });
  const { storage } = rig;
  try {
    for (let s = 1; s <= PER_DEVICE; s++) for (let d = 0; d < DEVICES; d++) storage.put(toRecords({ deviceName: `d${d}`, telemetry: [{ ts: 1_700_000_000_000 + s, values: { seq: s } }] }, "default", 0, 400));
    await rig.start();
    await rig.waiter.until(() => storage.depth() === 0);

    const telemetry = (i: number) => fb.conns[i]!.packets.filter((p): p is typeof p & { topic: string; payload: Buffer } => p.cmd === "publish" && p.topic === "v1/gateway/telemetry");
    // the stalled connection got a full window and nothing more, and was dropped
    expect(telemetry(0).length).toBe(2);
    expect(fb.conns[0]!.closed).toBe(true);
    expect(fb.conns.length).toBe(2);
    const warning = lines.find((l) => l.message.includes("no PUBACK"));
    expect(warning?.level).toBe("WARNING");
    expect(warning?.message).toMatch(new RegExp(`^platform 127\\.0\\.0\\.1:${fb.port}: no PUBACK for \\d+\\.\\d s on 3 publishes; dropping the connection to resend; retrying in `));
    // the next connection carried every seq of every device, in order, the first two publishes again
    const seqs = new Map<string, number[]>();
    for (const p of telemetry(1)) {
      for (const [dev, entries] of Object.entries(JSON.parse(p.payload.toString()) as Record<string, Array<{ values: { seq: number } }>>)) {
        seqs.set(dev, [...(seqs.get(dev) ?? []), ...entries.map((e) => e.values.seq)]);
      }
    }
    expect(seqs.size).toBe(DEVICES);
    for (const list of seqs.values()) expect(list).toEqual(Array.from({ length: PER_DEVICE }, (_, i) => i + 1));
    expect(telemetry(1).slice(0, 2).map((p) => p.payload.toString())).toEqual(telemetry(0).map((p) => p.payload.toString()));
  } finally {
    await rig.close();
    removeSink();
    fb.stop();
  }
});

test("the bound: three keep-alive periods, at least 30 s; the environment overrides it", () => {
  const log = new Logger("test", "NONE");
  expect(pubackTimeoutMs(120, {}, log)).toBe(360_000);
  expect(pubackTimeoutMs(60, {}, log)).toBe(180_000);
  expect(pubackTimeoutMs(5, {}, log)).toBe(30_000);
  expect(pubackTimeoutMs(0, {}, log)).toBe(30_000);
  expect(pubackTimeoutMs(120, { [PUBACK_TIMEOUT_ENV]: "1500" }, log)).toBe(1500);
  expect(pubackTimeoutMs(120, { [PUBACK_TIMEOUT_ENV]: "0" }, log)).toBe(0);
  expect(pubackTimeoutMs(120, { [PUBACK_TIMEOUT_ENV]: "soon" }, log)).toBe(360_000);
});
