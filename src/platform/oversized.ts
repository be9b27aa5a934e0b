// Publishes the platform would refuse by size. The packer gives a value larger than the payload
// limit a publish of its own; when that publish is larger than the platform accepts at all,
// ThingsBoard (like Mosquitto above max_packet_size) closes the connection. Sent anyway, the
// gateway reconnected, sent the same batch again and was dropped again, for ever: the rows before
// the value reached the platform over and over, nothing after it ever did. Such a publish is not
// sent; its value is dropped with an error naming the device, keys, size and the settings to raise.

import type { Logger } from "../observe/logger.ts";
import type { Publish } from "./packing.ts";
import { GATEWAY_SELF, T } from "./topics.ts";

/** MQTT PUBLISH bytes besides topic and payload: fixed header (at most 5), topic length (2), packet id (2). */
const PUBLISH_OVERHEAD = 9;
/** One error line per device at most this often; the drops in between are counted in the next. */
const LOG_EVERY_MS = 60_000;

/** Whether the whole PUBLISH packet is larger than `limit` bytes (payload counted exactly only when it matters). */
export function tooLarge(p: Publish, limit: number): boolean {
  const fixed = p.topic.length + PUBLISH_OVERHEAD;
  if (p.payload.length + fixed > limit) return true;
  if (p.payload.length * 3 + fixed <= limit) return false;
  return Buffer.byteLength(p.payload) + fixed > limit;
}

/** The devices and keys an oversized publish carries (it holds one entry or attribute set as packed). */
export function describe(p: Publish): Array<{ device: string; keys: string[] }> {
  let body: unknown;
  try {
    body = JSON.parse(p.payload);
  } catch {
    return [{ device: "(unreadable)", keys: [] }];
  }
  const keysOf = (v: unknown): string[] => {
    if (Array.isArray(v)) return [...new Set(v.flatMap(keysOf))];
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if ("values" in o && o.values && typeof o.values === "object") return Object.keys(o.values);
      return Object.keys(o);
    }
    return [];
  };
  if (p.topic === T.meTelemetry || p.topic === T.meAttributes) return [{ device: GATEWAY_SELF, keys: keysOf(body) }];
  return Object.entries(body as Record<string, unknown>).map(([device, v]) => ({ device, keys: keysOf(v) }));
}

export class OversizedLog {
  private readonly last = new Map<string, { at: number; since: number }>();

  constructor(private readonly log: Logger) {}

  /** Log the drop of `p` (limit = what the platform accepts), at most once a minute per device; returns its devices. */
  dropped(p: Publish, limit: number): string[] {
    const now = performance.now();
    const bytes = Buffer.byteLength(p.payload);
    const carried = describe(p);
    for (const { device, keys } of carried) {
      const seen = this.last.get(device);
      if (seen && now - seen.at < LOG_EVERY_MS) {
        seen.since++;
        continue;
      }
      const more = seen && seen.since > 0 ? ` (and ${seen.since} more of this device's messages in the last minute)` : "";
      this.last.set(device, { at: now, since: 0 });
      this.log.error(
        `dropped ${keys.length === 1 ? "the value" : "the values"} of ${keys.map((k) => `'${k}'`).join(", ") || "(no keys)"} of device '${device}': ` +
          `${bytes} bytes in one message, larger than the platform accepts (${limit} bytes: its session limit; without one 65536 or thingsboard.maxPayloadSizeBytes if higher)${more}; ` +
          `sending it would make the platform close the connection. To send such values raise the platform's MQTT payload limit and thingsboard.maxPayloadSizeBytes`,
      );
    }
    return carried.map((c) => c.device);
  }
}
