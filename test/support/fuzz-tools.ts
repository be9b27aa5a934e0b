// Byte-level helpers for the parser fuzz tests (test/fuzz/): random bytes, valid input cut into
// random chunks, and small mutations (flip, drop, insert, truncate). Seeded, so a failing case
// replays from its seed.

import { seededRandom } from "./seeded-random.ts";

export interface FuzzTools {
  /** Uniform in [0, 1). */
  random: () => number;
  /** Integer in [0, n). */
  int: (n: number) => number;
  /** `n` random bytes. */
  bytes: (n: number) => Buffer;
  /** `b` cut into 1..5 chunks at random points (a stream as it may arrive). */
  chunks: (b: Buffer) => Buffer[];
  /** A few bytes of `b` flipped, dropped or inserted, or `b` truncated. */
  mutate: (b: Buffer) => Buffer;
}

export function fuzzTools(seed: number): FuzzTools {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const chunks = (b: Buffer): Buffer[] => {
    const cuts = Array.from({ length: int(5) }, () => int(b.length + 1)).sort((x, y) => x - y);
    const out: Buffer[] = [];
    let from = 0;
    for (const c of [...cuts, b.length]) {
      out.push(b.subarray(from, c));
      from = c;
    }
    return out;
  };
  const mutate = (b: Buffer): Buffer => {
    let out = Buffer.from(b);
    for (let n = 1 + int(3); n > 0; n--) {
      const at = int(out.length + 1);
      const kind = int(4);
      if (kind === 0 && out.length > 0) out[Math.min(at, out.length - 1)] = int(256);
      else if (kind === 1) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(4))]);
      else if (kind === 2) out = Buffer.concat([out.subarray(0, at), bytes(1 + int(4)), out.subarray(at)]);
      else if (n === 1) out = out.subarray(0, at); // truncation last, so the cut stays a cut
    }
    return out;
  };
  return { random, int, bytes, chunks, mutate };
}
