// Measurements for the bench: intake→PUBACK latency from the acknowledged records' timestamps,
// peak RSS, CPU share, and storage size on disk.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Latency samples, one per acknowledged record (each record carries one device message). */
export class LatencyRecorder {
  private samples = new Float64Array(1 << 16);
  private n = 0;

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
    if (this.n === this.samples.length) {
      const next = new Float64Array(this.samples.length * 2);
      next.set(this.samples);
      this.samples = next;
    }
    this.samples[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  percentiles(ps: number[]): number[] {
    if (this.n === 0) return ps.map(() => 0);
    const sorted = this.samples.slice(0, this.n).sort();
    return ps.map((p) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))]!);
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
