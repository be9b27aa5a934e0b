// The position ledger against a plain Set model, with batches acked in random order, repeated
// acks, and rewinds (a seeded generator, so a failure reproduces).
import { expect, test } from "bun:test";
import { Ledger, rangeSize, type Range } from "./ledger.ts";

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

for (const seed of [1, 7, 42, 1234]) {
  test(`random in-flight batches, out-of-order and repeated acks, rewinds (seed ${seed})`, () => {
    const rand = rng(seed);
    const ledger = new Ledger();
    const acked = new Set<number>();
    const inflight: Range[][] = [];
    let end = 0;
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      if (r < 0.3) {
        const n = 1 + Math.floor(rand() * 20);
        ledger.append(n);
        end += n;
      } else if (r < 0.6) {
        const taken = ledger.take(1 + Math.floor(rand() * 15));
        // Never hands out an acknowledged position, and ranges are ascending and disjoint.
        let last = -1;
        for (const t of taken) {
          expect(t.start).toBeGreaterThan(last);
          for (let p = t.start; p < t.end; p++) expect(acked.has(p)).toBe(false);
          last = t.end - 1;
        }
        if (taken.length > 0) inflight.push(taken);
      } else if (r < 0.9 && inflight.length > 0) {
        const i = Math.floor(rand() * inflight.length);
        const batch = inflight[i]!;
        if (rand() < 0.8) inflight.splice(i, 1); // sometimes the same batch is acked again later
        let fresh = 0;
        for (const t of batch) for (let p = t.start; p < t.end; p++) if (!acked.has(p) && acked.add(p)) fresh++;
        expect(ledger.ack(batch)).toBe(fresh);
      } else if (r < 0.93) {
        ledger.rewind();
      }
      expect(ledger.unacked).toBe(end - acked.size);
      let prefix = 0;
      while (acked.has(prefix)) prefix++;
      expect(ledger.ackedUpTo).toBe(prefix);
    }
    // After a rewind, exactly the unacked positions come again, in order.
    ledger.rewind();
    const again = ledger.take(Number.MAX_SAFE_INTEGER);
    const positions = again.flatMap((t) => Array.from({ length: t.end - t.start }, (_, k) => t.start + k));
    expect(positions).toEqual(Array.from({ length: end }, (_, p) => p).filter((p) => !acked.has(p)));
    expect(rangeSize(again)).toBe(end - acked.size);
  });
}
