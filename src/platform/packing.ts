// Group stored records per device and pack them into gateway-API publishes under the payload
// limit (spec platform-api.md §3–4). Telemetry entries are concatenated, never merged by ts.

import { exactJson, parseExact, type StoredRecordShape } from "../core/records.ts";
import { GATEWAY_SELF, T } from "./topics.ts";

export interface Publish {
  topic: string;
  payload: string;
  datapoints: number;
  telemetry: boolean;
}

interface DeviceGroup {
  attributes?: Record<string, unknown>;
  /** Serialised {ts,values} entries and their value counts, in arrival order. */
  telemetry: string[];
  counts: number[];
}

/** `perDevice`, when given, receives the datapoints of each (connector-side) device name in `records`. */
export function buildPublishes(records: string[], maxBytes: number, platformName: (d: string) => string, perDevice?: Map<string, number>): Publish[] {
  const groups = new Map<string, DeviceGroup>();
  for (const r of records) {
    let rec: StoredRecordShape;
    try {
      rec = parseExact(r) as StoredRecordShape;
    } catch {
      continue; // a corrupt record cannot be sent; storage kinds already skip undecodable lines
    }
    if (!rec || typeof rec.deviceName !== "string") continue;
    let g = groups.get(rec.deviceName);
    if (!g) {
      g = { telemetry: [], counts: [] };
      groups.set(rec.deviceName, g);
    }
    if (rec.attributes) {
      g.attributes = g.attributes ? Object.assign(g.attributes, rec.attributes) : { ...rec.attributes };
    }
    for (const e of rec.telemetry ?? []) {
      let n = 0;
      for (const _ in e.values) n++;
      g.telemetry.push(exactJson(e));
      g.counts.push(n);
    }
  }
  const out: Publish[] = [];
  // Telemetry of several devices shares a publish (the gateway API takes an object keyed by
  // device): a batch spanning many devices then needs few publishes, not one per device.
  const packer = new TelemetryPacker(out, maxBytes);
  for (const [device, g] of groups) {
    if (perDevice) {
      let n = 0;
      if (g.attributes) for (const _ in g.attributes) n++;
      for (const c of g.counts) n += c;
      perDevice.set(device, (perDevice.get(device) ?? 0) + n);
    }
    const self = device === GATEWAY_SELF;
    const name = self ? device : platformName(device);
    if (g.attributes) packAttributes(out, self ? undefined : name, g.attributes, maxBytes);
    if (!g.telemetry.length) continue;
    if (self) packTelemetry(out, undefined, g.telemetry, g.counts, maxBytes);
    else {
      const nameJson = JSON.stringify(name);
      for (let i = 0; i < g.telemetry.length; i++) packer.add(nameJson, g.telemetry[i]!, g.counts[i]!);
    }
  }
  packer.flush();
  return out;
}

/**
 * Attributes of one device, merged over the batch's records, in publishes of at most maxBytes:
 * each record was under the limit, but their union may not be (one key may exceed it alone).
 */
function packAttributes(out: Publish[], device: string | undefined, attributes: Record<string, unknown>, maxBytes: number): void {
  const wrap = (kv: string) => (device === undefined ? `{${kv}}` : `{${JSON.stringify(device)}:{${kv}}}`);
  const topic = device === undefined ? T.meAttributes : T.attributes;
  const overhead = Buffer.byteLength(wrap(""));
  let parts: string[] = [];
  let size = overhead;
  const flush = () => {
    if (parts.length) out.push({ topic, payload: wrap(parts.join(",")), datapoints: parts.length, telemetry: false });
    parts = [];
    size = overhead;
  };
  for (const [k, v] of Object.entries(attributes)) {
    const kv = `${JSON.stringify(k)}:${exactJson(v)}`;
    const len = Buffer.byteLength(kv) + 1;
    if (parts.length && size + len > maxBytes) flush();
    parts.push(kv);
    size += len;
  }
  flush();
}

/** Chunk serialised {ts,values} entries into payloads of at most maxBytes (one entry may exceed it alone). */
function packTelemetry(out: Publish[], device: string | undefined, entries: string[], counts: number[], maxBytes: number): void {
  const head = device === undefined ? "[" : `{${JSON.stringify(device)}:[`;
  const tail = device === undefined ? "]" : "]}";
  const topic = device === undefined ? T.meTelemetry : T.telemetry;
  let parts: string[] = [];
  let size = head.length + tail.length;
  let dps = 0;
  const flush = () => {
    if (!parts.length) return;
    out.push({ topic, payload: head + parts.join(",") + tail, datapoints: dps, telemetry: true });
    parts = [];
    size = head.length + tail.length;
    dps = 0;
  };
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const len = Buffer.byteLength(e) + 1;
    if (parts.length && size + len > maxBytes) flush();
    parts.push(e);
    size += len;
    dps += counts[i]!;
  }
  flush();
}

/** Builds v1/gateway/telemetry payloads `{"dev":[e,..],"dev2":[..]}` of at most maxBytes each. */
class TelemetryPacker {
  private sections: string[] = [];
  private entries: string[] = [];
  private device = "";
  private size = 2;
  private dps = 0;

  constructor(
    private readonly out: Publish[],
    private readonly maxBytes: number,
  ) {}

  add(nameJson: string, entry: string, count: number): void {
    const len = Buffer.byteLength(entry) + 1;
    const opening = this.entries.length > 0 && this.device === nameJson ? 0 : Buffer.byteLength(nameJson) + 4;
    if ((this.sections.length > 0 || this.entries.length > 0) && this.size + opening + len > this.maxBytes) this.flush();
    if (this.device !== nameJson || this.entries.length === 0) {
      this.closeSection();
      this.device = nameJson;
      this.size += Buffer.byteLength(nameJson) + 4;
    }
    this.entries.push(entry);
    this.size += len;
    this.dps += count;
  }

  private closeSection(): void {
    if (this.entries.length === 0) return;
    this.sections.push(`${this.device}:[${this.entries.join(",")}]`);
    this.entries = [];
  }

  flush(): void {
    this.closeSection();
    if (this.sections.length > 0) this.out.push({ topic: T.telemetry, payload: `{${this.sections.join(",")}}`, datapoints: this.dps, telemetry: true });
    this.sections = [];
    this.device = "";
    this.size = 2;
    this.dps = 0;
  }
}
