import { expect, test } from "bun:test";
import { join } from "node:path";
import { errorText } from "./logger.ts";

const BUN = join(import.meta.dir, "../../node_modules/.bin/bun");

test("log lines reach a full non-blocking stderr pipe complete and in order (EAGAIN falls back to the buffered stream)", () => {
  const n = 20000; // ~1.8 MB: far more than the pipe holds while nobody reads
  const r = Bun.spawnSync(["/usr/bin/python3", join(import.meta.dir, "test/nonblocking-stderr.py"), BUN, join(import.meta.dir, "test/log-burst.ts"), String(n)]);
  const lines = r.stdout.toString().trimEnd().split("\n");
  expect(lines.pop()).toBe("exit 0");
  expect(lines.length).toBe(n);
  const numbers = lines.map((l) => Number(/\[burst\] line (\d+) /.exec(l)?.[1]));
  expect(numbers).toEqual(Array.from({ length: n }, (_, i) => i));
  expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO    \[burst\] line 0 x{50}$/);
}, 30000);

test("errorText never gives empty text: a message-less Error is named with where it was thrown", () => {
  class AssertionError extends Error {}
  const bare = new AssertionError("");
  bare.name = "AssertionError";
  const text = errorText(bare);
  expect(text).toMatch(/^AssertionError without a message \(at .*logger\.test\.ts:\d+/);
  expect(errorText(new Error("  "))).toStartWith("Error without a message");
  expect(errorText(new Error("disk full"))).toBe("disk full");
  for (const v of [undefined, null, "", {}, Object.create(null)]) {
    const t = errorText(v);
    expect(t.trim()).not.toBe("");
    expect(t).not.toMatch(/undefined|\(\)|\[object Object\]/);
  }
  expect(errorText({ code: 5, reason: "busy" })).toBe('{"code":5,"reason":"busy"}');
  expect(errorText("timeout")).toBe("timeout");
  expect(errorText(42)).toBe("42");
});
