// Framing of a TCP stream, offline: every way a stream can be cut into chunks gives the same frames.

import { describe, expect, test } from "bun:test";
import { createFramer, type FramingConfig } from "./framing.ts";

function run(cfg: FramingConfig, max: number, chunks: Array<string | Buffer>) {
  const f = createFramer(cfg, max);
  const frames: string[] = [];
  const oversize: number[] = [];
  for (const c of chunks) f.push(typeof c === "string" ? Buffer.from(c, "latin1") : c, { frame: (b) => frames.push(b.toString("latin1")), oversize: (n) => oversize.push(n) });
  return { frames, oversize, pending: f.pending };
}

/** Every split of `text` into 1..3 chunks. */
function splits(text: string): string[][] {
  const out: string[][] = [[text]];
  for (let i = 1; i < text.length; i++) {
    out.push([text.slice(0, i), text.slice(i)]);
    for (let j = i + 1; j < text.length; j++) out.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
  }
  return out;
}

const lf: FramingConfig = { type: "delimiter", delimiter: Buffer.from("\n"), includeDelimiter: false };
const crlf: FramingConfig = { type: "delimiter", delimiter: Buffer.from("\r\n"), includeDelimiter: false };

describe("delimiter framing", () => {
  test("any chunking of a stream gives the same frames (one- and two-byte delimiters)", () => {
    for (const c of splits("ab\ncde\n\nf")) expect(run(lf, 1024, c)).toEqual({ frames: ["ab", "cde", ""], oversize: [], pending: 1 });
    for (const c of splits("ab\r\nc\rd\r\n\r\nx\r")) expect(run(crlf, 1024, c)).toEqual({ frames: ["ab", "c\rd", ""], oversize: [], pending: 2 });
  });

  test("includeDelimiter keeps it on the frame", () => {
    expect(run({ ...crlf, includeDelimiter: true }, 1024, ["a\r", "\nb\r\n"]).frames).toEqual(["a\r\n", "b\r\n"]);
  });

  test("a frame longer than bufferSize is dropped up to its delimiter, and the next frame is whole", () => {
    for (const c of splits("0123456789\nok\n")) expect(run(lf, 4, c)).toEqual({ frames: ["ok"], oversize: [10], pending: 0 });
    for (const c of splits("abcdefg\r\nxy\r\n")) expect(run(crlf, 4, c)).toEqual({ frames: ["xy"], oversize: [7], pending: 0 });
    // exactly bufferSize passes, even when its delimiter arrives in a later chunk
    expect(run(crlf, 4, ["abcd\r", "\n"]).frames).toEqual(["abcd"]);
  });

  test("nothing is held between frames, and only the unfinished frame while one is open", () => {
    expect(run(lf, 1024, ["abc\n"]).pending).toBe(0);
    expect(run(lf, 1024, ["abc\nde"]).pending).toBe(2);
  });
});

describe("fixed and none framing", () => {
  test("fixed: any chunking gives the same frames; the rest waits", () => {
    for (const c of splits("aaabbbcccd")) expect(run({ type: "fixed", length: 3 }, 1024, c)).toEqual({ frames: ["aaa", "bbb", "ccc"], oversize: [], pending: 1 });
  });

  test("none: each chunk is a frame, cut to bufferSize (upstream's recv size)", () => {
    expect(run({ type: "none" }, 4, ["abcdefghij", "k"]).frames).toEqual(["abcd", "efgh", "ij", "k"]);
  });
});
