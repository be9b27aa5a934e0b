import { expect, test } from "bun:test";
import { waitUntil } from "../../test/support/poll.ts";
import { StartupShrink } from "./shrink-after-start.ts";

test("shrinks once, after the delay, then runs what follows", async () => {
  const calls: string[] = [];
  new StartupShrink(() => calls.push("then"), () => calls.push("shrink")).schedule(20);
  expect(calls).toEqual([]);
  await waitUntil(() => calls.length === 2, 10_000, "the shrink");
  await Bun.sleep(50);
  expect(calls).toEqual(["shrink", "then"]);
});

test("a gateway busy before the delay is shrunk at once, and not again when the delay is over", async () => {
  const calls: string[] = [];
  const s = new StartupShrink(() => calls.push("then"), () => calls.push("shrink"));
  s.schedule(40);
  s.now(); // turned busy: before the normal JIT policy comes back
  expect(calls).toEqual(["shrink", "then"]);
  s.now();
  s.schedule(10);
  await Bun.sleep(100);
  expect(calls).toEqual(["shrink", "then"]);
});

test("busy before it was even scheduled (start-up took long): shrunk then, never again", async () => {
  let calls = 0;
  const s = new StartupShrink(undefined, () => calls++);
  s.now();
  s.schedule(10);
  await Bun.sleep(60);
  expect(calls).toBe(1);
});

test("a cancelled shrink never runs", async () => {
  let calls = 0;
  new StartupShrink(undefined, () => calls++).cancel();
  const s = new StartupShrink(undefined, () => calls++);
  s.schedule(20);
  s.cancel();
  let other = 0;
  new StartupShrink(undefined, () => other++).schedule(40);
  await waitUntil(() => other === 1, 10_000, "the other shrink");
  expect(calls).toBe(0);
});

test("this Bun has the shrink the gateway relies on", () => {
  expect(typeof (Bun as unknown as { shrink?: unknown }).shrink).toBe("function");
});
