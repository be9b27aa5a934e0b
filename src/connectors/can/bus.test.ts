import { expect, test } from "bun:test";
import { NoteLimiter } from "./bus.ts";

test("bus notes: one a minute passes, the ones between are counted in the next", () => {
  const seen: string[] = [];
  let now = 1_000_000;
  const notes = new NoteLimiter({ note: (t) => seen.push(t) }, () => now);
  notes.note("error frame: bus off");
  now += 1_000;
  notes.note("error frame: bus off");
  now += 30_000;
  notes.note("unreadable line");
  expect(seen).toEqual(["error frame: bus off"]);
  now += 30_000;
  notes.note("error frame: bus warning");
  expect(seen).toEqual(["error frame: bus off", "error frame: bus warning (and 2 more such line(s) since the last report)"]);
  now += 60_000;
  notes.note("unreadable line");
  expect(seen.at(-1)).toBe("unreadable line");
});
