// Rate limits as the platform states them: "count:seconds" pairs, e.g. "10:1,300:60,".
// "0:0," (or empty) means no limit. The DEFAULT_* placeholders resolve by host like upstream.
// When a limit is reached the sender waits (never drops).

export interface Window {
  count: number;
  ms: number;
}

const CLOUD_LIMITS: Record<string, string> = {
  DEFAULT_TELEMETRY_RATE_LIMIT: "10:1,60:60,",
  DEFAULT_MESSAGES_RATE_LIMIT: "10:1,60:60,",
  DEFAULT_TELEMETRY_DP_RATE_LIMIT: "10:1,300:60,",
};

function isCloudHost(host: string): boolean {
  return host.includes("thingsboard.cloud") || host.includes("demo.thingsboard.io") || (host.includes("tb") && host.includes("cloud"));
}

export function resolveRateLimit(spec: string | undefined, host: string): string {
  if (!spec) return "0:0,";
  if (spec in CLOUD_LIMITS) return isCloudHost(host) ? CLOUD_LIMITS[spec]! : "0:0,";
  return spec;
}

export function parseRateLimit(spec: string, percentage = 100): Window[] {
  const out: Window[] = [];
  for (const part of spec.split(",")) {
    const [c, s] = part.trim().split(":");
    const count = Number(c);
    const secs = Number(s);
    if (!Number.isFinite(count) || !Number.isFinite(secs) || count <= 0 || secs <= 0) continue;
    out.push({ count: Math.max(1, Math.floor((count * percentage) / 100)), ms: secs * 1000 });
  }
  return out;
}

/** Fixed windows per limit; `delayFor(n)` says how long to wait before n more units may go. */
export class RateLimiter {
  private used: number[];
  private starts: number[];

  constructor(
    private windows: Window[],
    private readonly now: () => number = Date.now,
  ) {
    this.used = windows.map(() => 0);
    this.starts = windows.map(() => 0);
  }

  get unlimited(): boolean {
    return this.windows.length === 0;
  }

  set(windows: Window[]): void {
    this.windows = windows;
    this.used = windows.map(() => 0);
    this.starts = windows.map(() => 0);
  }

  /** 0 when n units may go now (and they are counted); otherwise ms to wait (nothing counted). */
  take(n: number): number {
    if (this.windows.length === 0) return 0;
    const t = this.now();
    let wait = 0;
    for (let i = 0; i < this.windows.length; i++) {
      const w = this.windows[i]!;
      if (t - this.starts[i]! >= w.ms) {
        this.starts[i] = t;
        this.used[i] = 0;
      }
      // A single request larger than the whole window may still go alone in a fresh window.
      if (this.used[i]! > 0 && this.used[i]! + n > w.count) wait = Math.max(wait, this.starts[i]! + w.ms - t);
    }
    if (wait > 0) return wait;
    for (let i = 0; i < this.windows.length; i++) this.used[i] = this.used[i]! + n;
    return 0;
  }
}
