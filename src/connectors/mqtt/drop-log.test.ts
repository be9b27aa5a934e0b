// Dropped device messages are logged once per topic per episode (a clock of our own drives the
// quiet period), counted every time, and the per-episode memory stays bounded.
import { expect, test } from "bun:test";
import { addLogSink, Logger, type LogRecord } from "../../observe/logger.ts";
import { DropLog } from "./drop-log.ts";

function setUp() {
  let now = 1_000_000;
  const lines: string[] = [];
  const remove = addLogSink((r: LogRecord) => lines.push(r.message));
  const counted: string[] = [];
  const drops = new DropLog(new Logger("drop-log-test"), (r) => counted.push(r), 60_000, () => now);
  return { drops, lines, counted, remove, advance: (ms: number) => (now += ms) };
}

test("a garbage flood on one topic: one line at the start, one with the counts when it has been quiet for the period", () => {
  const { drops, lines, counted, remove, advance } = setUp();
  try {
    for (let i = 0; i < 5000; i++) {
      drops.report("dev/a", i % 2 ? "payload is not valid JSON" : "none of the configured keys found in the message");
      advance(10);
    }
    drops.report("dev/b", "payload is not valid JSON");
    expect(lines).toEqual(["dropped message on dev/a: none of the configured keys found in the message", "dropped message on dev/b: payload is not valid JSON"]);
    expect(counted.length).toBe(5001);
    expect(drops.dropped).toBe(5001);
    advance(59_000);
    drops.sweep(); // dev/a quiet for 59 s + 10 ms... not yet 60 s since its last drop
    expect(lines.length).toBe(2);
    advance(1_000);
    drops.sweep();
    // dev/b had no further drops: its episode closes without a line
    expect(lines.slice(2)).toEqual(["dropped 4999 more message(s) on dev/a in 50 s after the first: 2500 × payload is not valid JSON; 2499 × none of the configured keys found in the message"]);
    // a new episode after the quiet period is logged again
    drops.report("dev/a", "payload is not valid JSON");
    expect(lines.at(-1)).toBe("dropped message on dev/a: payload is not valid JSON");
  } finally {
    drops.stop();
    remove();
  }
});

test("reasons that differ per message are kept apart only up to a bound", () => {
  const { drops, lines, remove } = setUp();
  try {
    for (let i = 0; i < 1000; i++) drops.report("dev/c", `custom converter failed: error ${i}`);
    drops.stop();
    expect(lines.length).toBe(2);
    expect(lines[1]).toContain("979 × other reasons");
  } finally {
    remove();
  }
});
