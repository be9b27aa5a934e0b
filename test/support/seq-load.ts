// Device load with per-device sequence numbers, and a light platform-side counter of what
// arrived, for the fault tests and the long-run benches (test/gateway/long-outage.test.ts,
// kill-loop, bench/outage.ts). The counter keeps one byte per (device, seq) instead of every
// message, so a 10-minute run at thousands of datapoints/s does not fill this process's memory.

import mqtt, { type MqttClient } from "mqtt";
import { readFileSync } from "node:fs";

/** Datapoints per device message: seq, k1..k4 (the sensorConnector's keys). */
export const DATAPOINTS_PER_MESSAGE = 5;

export interface SeqCounter {
  /** Distinct (device, seq) pairs delivered (seq ≥ 1). */
  readonly distinct: number;
  /** Deliveries of a (device, seq) already delivered. */
  readonly duplicates: number;
  /** First deliveries of a seq lower than one already delivered for that device. */
  readonly outOfOrder: number;
  /** Time (ms, Date.now) of the last telemetry message. */
  readonly lastAt: number;
  /** Called on every telemetry message (after counting). */
  onMessage?: () => void;
  /** Has `device` delivered every seq 1..upTo? */
  complete(upTo: number[]): boolean;
  /** Seqs of 1..upTo[d] never delivered, as ranges per device ("dev-3 missing 10-12"). */
  missing(upTo: number[]): string;
  /** Distinct seqs delivered for device d that are ≤ limit. */
  deliveredUpTo(d: number, limit: number): number;
  /** What a scenario reports once the load sent seqs 1..sent[d] per device: sent, lost, which, duplicates, out of order. */
  tally(sent: number[]): Tally;
  /** Resolves once `pred` holds (checked on every message), rejects after timeoutMs. */
  until(pred: () => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Subscribes to the gateway's telemetry on the platform broker with a lasting session (so what the
 * gateway sends while this client reconnects after a broker restart is kept for it) and answers
 * getSessionLimits (with `sessionLimits` over the defaults). Devices are named `${prefix}${d}`, d in
 * 0..devices-1; others are ignored.
 */
export interface Tally {
  sent: number;
  lost: number;
  missing: string;
  duplicates: number;
  outOfOrder: number;
}

export async function startSeqCounter(url: string, devices: number, prefix = "dev-", sessionLimits: Record<string, unknown> = {}): Promise<SeqCounter> {
  const client = await mqtt.connectAsync(url, { clientId: `seq-counter-${Math.random().toString(16).slice(2)}`, clean: false, reconnectPeriod: 200 });
  const seen: Uint8Array[] = Array.from({ length: devices }, () => new Uint8Array(1024));
  const maxSeq = new Array<number>(devices).fill(0);
  const have = new Array<number>(devices).fill(0);
  const waiters = new Set<() => void>();
  let distinct = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let lastAt = 0;
  const mark = (d: number, seq: number) => {
    let s = seen[d]!;
    if (seq >= s.length) {
      const bigger = new Uint8Array(Math.max(seq + 1, s.length * 2));
      bigger.set(s);
      seen[d] = s = bigger;
    }
    if (s[seq]) {
      duplicates++;
      return;
    }
    s[seq] = 1;
    distinct++;
    have[d]!++;
    if (seq < maxSeq[d]!) outOfOrder++;
    else maxSeq[d] = seq;
  };
  client.on("message", (topic, payload) => {
    if (topic.startsWith("v1/devices/me/rpc/request/")) {
      const body = JSON.parse(payload.toString()) as { method?: string };
      if (body.method === "getSessionLimits") {
        client.publish(`v1/devices/me/rpc/response/${topic.split("/").pop()}`, JSON.stringify({ maxPayloadSize: 65536, maxInflightMessages: 100, rateLimits: {}, gatewayRateLimits: {}, ...sessionLimits }), { qos: 1 });
      }
      return;
    }
    if (topic !== "v1/gateway/telemetry") return;
    lastAt = Date.now();
    const body = JSON.parse(payload.toString()) as Record<string, Array<{ values: Record<string, unknown> }>>;
    for (const [device, entries] of Object.entries(body)) {
      if (!device.startsWith(prefix)) continue;
      const d = Number(device.slice(prefix.length));
      if (!Number.isInteger(d) || d < 0 || d >= devices) continue;
      for (const e of entries) {
        const seq = Number(e.values.seq);
        if (Number.isInteger(seq) && seq >= 1) mark(d, seq);
      }
    }
    counter.onMessage?.();
    for (const w of [...waiters]) w();
  });
  await client.subscribeAsync({ "v1/gateway/telemetry": { qos: 1 }, "v1/devices/me/rpc/request/+": { qos: 1 } });
  const deliveredUpTo = (d: number, limit: number) => {
    if (have[d]! === maxSeq[d]! && limit >= maxSeq[d]!) return have[d]!;
    const s = seen[d]!;
    let n = 0;
    for (let i = 1; i <= limit && i < s.length; i++) n += s[i]!;
    return n;
  };
  const counter: SeqCounter = {
    get distinct() {
      return distinct;
    },
    get duplicates() {
      return duplicates;
    },
    get outOfOrder() {
      return outOfOrder;
    },
    get lastAt() {
      return lastAt;
    },
    complete: (upTo) => upTo.every((n, d) => deliveredUpTo(d, n) >= n),
    deliveredUpTo,
    tally(sentSeqs) {
      const sent = sentSeqs.reduce((a, b) => a + b, 0);
      const lost = sent - sentSeqs.reduce((sum, n, d) => sum + deliveredUpTo(d, n), 0);
      return { sent, lost, missing: counter.missing(sentSeqs), duplicates, outOfOrder };
    },
    missing(upTo) {
      const lines: string[] = [];
      upTo.forEach((n, d) => {
        const s = seen[d]!;
        const ranges: string[] = [];
        let start = 0;
        for (let i = 1; i <= n + 1; i++) {
          const gone = i <= n && !s[i];
          if (gone && !start) start = i;
          if (!gone && start) {
            ranges.push(start === i - 1 ? `${start}` : `${start}-${i - 1}`);
            start = 0;
          }
        }
        if (ranges.length) lines.push(`${prefix}${d} missing ${ranges.slice(0, 20).join(",")}${ranges.length > 20 ? ", …" : ""}`);
      });
      return lines.join("\n") || "nothing missing";
    },
    until(pred, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pred()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${distinct} delivered, ${duplicates} duplicates)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => client.endAsync(true).catch(() => {}),
  };
  return counter;
}

/**
 * Publish `{"seq":0}` on sensors/warm-up until the counter sees telemetry: the gateway's connector
 * is then subscribed and its platform session up.
 */
export async function warmUpThrough(client: MqttClient, counter: SeqCounter): Promise<void> {
  for (let i = 0; counter.lastAt === 0; i++) {
    if (i === 100) throw new Error("no warm-up telemetry reached the platform");
    await client.publishAsync("sensors/warm-up", '{"seq":0}', { qos: 1 });
    await counter.until(() => counter.lastAt > 0, 300, "warm-up").catch(() => {});
  }
}

export interface SeqLoad {
  /** Messages published so far. */
  readonly sent: number;
  /** Per device, the last seq published (seqs run 1..n per device). */
  lastSeq(): number[];
  /** Stop publishing; resolves once every publish was acknowledged by the device broker. */
  stop(): Promise<void>;
}

/**
 * Publish `{seq, k1..k4}` round-robin to `${topicPrefix}${d}` at `rate` messages/s (QoS 1) until
 * stopped. Paced against the clock from the start, so a busy moment is caught up, not lost.
 */
export function startSeqLoad(client: MqttClient, devices: number, rate: number, topicPrefix = "sensors/dev-"): SeqLoad {
  const started = Date.now();
  let sent = 0;
  let acked = 0;
  let stopped = false;
  let seq = 0;
  const last = new Array<number>(devices).fill(0);
  const settled: Array<() => void> = [];
  const onAck = () => {
    acked++;
    if (stopped && acked === sent) for (const s of settled.splice(0)) s();
  };
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    // whole rounds over the devices, so every device's seq advances together
    while (sent + devices <= due) {
      seq++;
      for (let d = 0; d < devices; d++) {
        client.publish(`${topicPrefix}${d}`, `{"seq":${seq},"k1":${seq},"k2":${d},"k3":${seq * 2},"k4":1}`, { qos: 1 }, onAck);
        last[d] = seq;
        sent++;
      }
    }
    setTimeout(tick, 10);
  };
  tick();
  return {
    get sent() {
      return sent;
    },
    lastSeq: () => [...last],
    stop() {
      stopped = true;
      return acked === sent ? Promise.resolve() : new Promise<void>((r) => settled.push(r));
    },
  };
}

/** Resident memory of a process, MB (Linux /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Sample a process's RSS every `everyMs`; `samples` holds [ms since start, MB]. */
export function sampleRss(pid: number, everyMs = 1000): { samples: Array<[number, number]>; peak(): number; stop(): void } {
  const t0 = Date.now();
  const samples: Array<[number, number]> = [];
  const take = () => {
    try {
      samples.push([Date.now() - t0, rssMb(pid)]);
    } catch {
      // the process is gone (killed by the test)
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return { samples, peak: () => Math.max(0, ...samples.map((s) => s[1])), stop: () => clearInterval(timer) };
}
