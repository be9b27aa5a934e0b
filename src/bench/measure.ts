// Measurements for the bench: intake→PUBACK latency from the acknowledged records' timestamps,
// peak RSS, CPU share, and storage size on disk.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Latency histogram with fixed buckets: 1 ms up to 10 s, then 100 ms up to 10 min, then one
 * overflow bucket. Its size does not grow with the run (a sample array of a 10 s run at 100,000
 * records/s was 8–16 MB, doubled while growing and copied again to sort), and 1 ms resolution is
 * what the report prints.
 */
export class LatencyRecorder {
  private static readonly FINE = 10_000;
  private static readonly COARSE = 5_900;
  private readonly buckets = new Float64Array(LatencyRecorder.FINE + LatencyRecorder.COARSE + 1);
  private n = 0;
  private max = 0;

  /** The bench stamps each message's telemetry ts with its intake time; read it back. */
  recordBatch(records: readonly string[], now: number): void {
    for (const r of records) {
      const i = r.indexOf('"ts":');
      if (i < 0) continue;
      let ts = 0;
      for (let j = i + 5; j < r.length; j++) {
        const c = r.charCodeAt(j) - 48;
        if (c < 0 || c > 9) break;
        ts = ts * 10 + c;
      }
      this.add(now - ts);
    }
  }

  add(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const fine = LatencyRecorder.FINE;
    const b = v < fine ? Math.floor(v) : Math.min(fine + LatencyRecorder.COARSE, fine + Math.floor((v - fine) / 100));
    this.buckets[b]!++;
    this.n++;
    if (v > this.max) this.max = v;
  }

  get count(): number {
    return this.n;
  }

  /** Nearest-rank percentiles, each the lower edge of its bucket (the largest sample for 100). */
  percentiles(ps: number[]): number[] {
    return ps.map((p) => {
      if (this.n === 0) return 0;
      const rank = Math.min(this.n, Math.max(1, Math.ceil((p / 100) * this.n)));
      if (rank === this.n) return Math.floor(this.max);
      let seen = 0;
      for (let b = 0; b < this.buckets.length; b++) {
        seen += this.buckets[b]!;
        if (seen >= rank) return b < LatencyRecorder.FINE ? b : LatencyRecorder.FINE + (b - LatencyRecorder.FINE) * 100;
      }
      return Math.floor(this.max);
    });
  }
}

/** Peak resident set of this process in bytes (VmHWM on Linux, else the largest sample seen). */
export class PeakRss {
  private max = 0;
  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.max) this.max = rss;
    return rss;
  }
  peak(): number {
    try {
      const m = readFileSync("/proc/self/status", "utf8").match(/VmHWM:\s+(\d+) kB/);
      if (m) return Math.max(this.max, Number(m[1]) * 1024);
    } catch {
      // not Linux: the sampled maximum is what we have
    }
    return this.max;
  }
}

export function dirBytes(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) {
      try {
        total += statSync(p).size;
      } catch {
        // removed while we looked (rotation)
      }
    }
  }
  return total;
}
