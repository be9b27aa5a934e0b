import { expect, test } from "bun:test";
import { waitUntil } from "../../test/support/poll.ts";
import { shrinkAfterStart } from "./shrink-after-start.ts";

test("shrinks once, after the delay", async () => {
  let calls = 0;
  shrinkAfterStart(20, () => calls++);
  expect(calls).toBe(0);
  await waitUntil(() => calls === 1, 10_000, "the shrink");
  await Bun.sleep(50);
  expect(calls).toBe(1);
});

test("a cancelled shrink never runs", async () => {
  let calls = 0;
  const cancel = shrinkAfterStart(20, () => calls++);
  cancel();
  let other = 0;
  shrinkAfterStart(40, () => other++);
  await waitUntil(() => other === 1, 10_000, "the other shrink");
  expect(calls).toBe(0);
});

test("this Bun has the shrink the gateway relies on", () => {
  expect(typeof (Bun as unknown as { shrink?: unknown }).shrink).toBe("function");
});
