// An idle sender sleeps until storage announces data: it does not poll storage on a short timer
// (upstream polls every minPackSendDelayMS, 50 ms, which woke an idle gateway 20 times a second),
// and a record put after a long idle spell still goes out at once.

import { expect, test } from "bun:test";
import { toRecords } from "../core/records.ts";
import { EventBus } from "../observe/events.ts";
import { Logger } from "../observe/logger.ts";
import { MemoryStorage } from "../storage/memory.ts";
import type { PlatformClient } from "./client.ts";
import { IDLE_CHECK_MS, Sender } from "./sender.ts";

test("idle: storage is read about once per safety-net period, and new data is sent without waiting for it", async () => {
  const log = new Logger("test", "NONE");
  const storage = new MemoryStorage({ maxRecords: 100, log });
  let reads = 0;
  const next = storage.next.bind(storage);
  storage.next = (n) => {
    reads++;
    return next(n);
  };
  const published: Array<{ topic: string; at: number }> = [];
  const client = {
    ready: true,
    limits: { maxInflight: 10, maxPayloadBytes: 65_536, platformPayloadBytes: 65_536, rateLimits: {} },
    publishRaw: (topic: string, _payload: Buffer, settle: (ok: boolean) => void) => {
      published.push({ topic, at: performance.now() });
      queueMicrotask(() => settle(true));
    },
  } as unknown as PlatformClient;
  const sender = new Sender(storage, client, { batchRecords: 512, idleDelayMs: IDLE_CHECK_MS, gatherMs: 15, platformName: (n) => n }, new EventBus(), log);
  try {
    sender.start();
    await Bun.sleep(600);
    // one read at start, and none while idle (a 50 ms poll read 12 times here)
    expect(reads).toBeLessThanOrEqual(2);

    const putAt = performance.now();
    storage.put(toRecords({ deviceName: "d", telemetry: [{ ts: 1_700_000_000_000, values: { v: 1 } }] }, "default", 0, 400));
    const until = performance.now() + 5_000;
    while (published.length === 0 && performance.now() < until) await Bun.sleep(5);
    expect(published.map((p) => p.topic)).toEqual(["v1/gateway/telemetry"]);
    // well before the safety net would have found it
    expect(published[0]!.at - putAt).toBeLessThan(IDLE_CHECK_MS / 2);
  } finally {
    await sender.stop();
    await storage.close();
  }
});
