// StoreUntilTaken against a storage that takes only what fits: a batch larger than the free space
// gets in as space frees, in order, without storing the same first items over and over.

import { expect, test } from "bun:test";
import { recordingContext } from "../../test/support/context.ts";
import type { SendStatus } from "./connector.ts";
import type { ConvertedData } from "./model.ts";
import { StoreUntilTaken } from "./store-until-taken.ts";

const item = (seq: number): ConvertedData => ({ deviceName: "d", telemetry: [{ values: { seq } }] });

/** A context whose storage holds `capacity` items; `free(n)` makes room as the platform would. */
function boundedContext(capacity: number) {
  const ctx = recordingContext();
  let used = 0;
  ctx.sendData = async (data): Promise<SendStatus> => {
    const list = Array.isArray(data) ? data : [data];
    let status: SendStatus = "SUCCESS";
    for (const d of list) {
      if (used >= capacity) {
        status = "NOT_STORED";
        continue;
      }
      used++;
      ctx.sent.push(d);
    }
    return status;
  };
  return { ctx, free: (n: number) => (used = Math.max(0, used - n)) };
}

test("a batch five times the free space is stored whole as space frees, each item once after the first attempt", async () => {
  const { ctx, free } = boundedContext(10);
  const storing = new StoreUntilTaken(ctx, "holding", "dropped");
  const batch = Array.from({ length: 50 }, (_, i) => item(i + 1));
  const freeing = setInterval(() => free(10), 30);
  try {
    expect(await storing.store(batch, "50 messages")).toBe(true);
  } finally {
    clearInterval(freeing);
  }
  const seqs = ctx.sent.map((d) => d.telemetry![0]!.values.seq as number);
  // the first, whole-batch attempt stored 1..10; then every item from 1 in order, once
  expect(seqs).toEqual([...Array.from({ length: 10 }, (_, i) => i + 1), ...Array.from({ length: 50 }, (_, i) => i + 1)]);
});

test("stop() ends a store that storage keeps refusing: it returns false, and says what became of the data", async () => {
  const { ctx } = boundedContext(0);
  const warnings: string[] = [];
  let refused!: () => void;
  const firstRefusal = new Promise<void>((r) => (refused = r));
  ctx.log.warn = (m: string) => {
    warnings.push(m);
    refused();
  };
  const storing = new StoreUntilTaken(ctx, "holding", "left unacknowledged");
  const pending = storing.store([item(1), item(2)], "2 messages");
  await firstRefusal; // refused once, now pausing before the next offer
  storing.stop();
  expect(await pending).toBe(false);
  expect(warnings).toEqual([
    "storage did not take device data (NOT_STORED); holding and offering it again",
    "2 messages not stored at stop (storage did not take them); left unacknowledged",
  ]);
});

test("batches given while one is refused wait behind it: storage gets them in the order they were given", async () => {
  const { ctx, free } = boundedContext(5);
  const storing = new StoreUntilTaken(ctx, "holding", "dropped");
  // twenty batches of four, one every 10 ms (the MQTT connector flushes one per event-loop turn
  // and does not wait for the last), while the platform frees 3 places every 20 ms
  const batches = Array.from({ length: 20 }, (_, b) => Array.from({ length: 4 }, (_, i) => item(b * 4 + i + 1)));
  const freeing = setInterval(() => free(3), 20);
  try {
    const stores: Promise<boolean>[] = [];
    for (const [i, b] of batches.entries()) {
      stores.push(storing.store(b, `batch ${i}`));
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await Promise.all(stores)).every(Boolean)).toBe(true);
  } finally {
    clearInterval(freeing);
  }
  // first occurrences (a refused whole-batch attempt may have stored its head once before) in order
  const seen = new Set<number>();
  const first = ctx.sent.map((d) => d.telemetry![0]!.values.seq as number).filter((s) => !seen.has(s) && seen.add(s));
  expect(first).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
});
