// The fixed-bucket latency histogram against exact nearest-rank percentiles of the same samples.
import { expect, test } from "bun:test";
import { LatencyRecorder } from "./measure.ts";

function exact(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

test("percentiles match exact ones to the millisecond below 10 s", () => {
  const rec = new LatencyRecorder();
  const samples: number[] = [];
  let x = 12345;
  for (let i = 0; i < 50_000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const ms = (x % 3000) * (i % 7 === 0 ? 3 : 1);
    samples.push(ms);
    rec.add(ms);
  }
  expect(rec.count).toBe(samples.length);
  for (const p of [1, 50, 95, 99, 99.9]) expect(rec.percentiles([p])[0]).toBe(exact(samples, p));
  expect(rec.percentiles([100])[0]).toBe(Math.max(...samples));
});

test("long latencies land in 100 ms buckets, negatives count as 0, empty gives 0", () => {
  const rec = new LatencyRecorder();
  expect(rec.percentiles([50, 99])).toEqual([0, 0]);
  rec.add(-3);
  for (let i = 0; i < 98; i++) rec.add(5);
  rec.add(12_345);
  expect(rec.percentiles([1, 50, 99, 100])).toEqual([0, 5, 5, 12_345]);
  rec.add(12_399);
  rec.add(12_399);
  expect(rec.percentiles([99])[0]).toBe(12_300);
});

test("recordBatch reads each record's ts", () => {
  const rec = new LatencyRecorder();
  rec.recordBatch(['{"deviceName":"a","deviceType":"default","telemetry":[{"ts":1000,"values":{"k":1}}]}', '{"deviceName":"b","deviceType":"default","telemetry":[{"ts":1040,"values":{"k":1}}]}'], 1050);
  expect(rec.count).toBe(2);
  expect(rec.percentiles([50, 100])).toEqual([10, 50]);
});
