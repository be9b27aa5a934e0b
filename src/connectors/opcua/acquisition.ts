// Data acquisition: polling (read all key nodes in batches) and subscriptions (one per device,
// monitored items created in chunks, notifications converted in batches). Both hand ConvertedData
// to `emit`. A key whose node reports BadNodeIdUnknown is marked missing (logged once) and is left
// to the connector's repair loop, which re-resolves and re-monitors it when it returns.

import {
  AttributeIds,
  StatusCodes,
  TimestampsToReturn,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
} from "node-opcua-client";
import type { ConvertedData } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { Device, DeviceKey } from "./devices.ts";
import type { OpcuaServer } from "./schema.ts";
import { dataValueToJson } from "./values.ts";

export interface Sample {
  device: Device;
  key: DeviceKey;
  dv: DataValue;
}

const GONE = new Set<number>([StatusCodes.BadNodeIdUnknown.value, StatusCodes.BadNodeIdInvalid.value]);

export function isGone(dv: DataValue): boolean {
  return GONE.has(dv.statusCode.value);
}

function tsOf(key: DeviceKey, dv: DataValue | undefined, now: number): number | undefined {
  if (!dv || key.tsLocation === "gateway") return now;
  const d = key.tsLocation === "sourcetimestamp" ? dv.sourceTimestamp : dv.serverTimestamp;
  return d ? d.getTime() : now;
}

/** Samples → what goes to storage; the connector routes devices with a custom converter through it. */
export type SampleConverter = (samples: Array<{ device: Device; key: DeviceKey; dv?: DataValue }>) => Promise<ConvertedData[]>;

export const builtInConversion: SampleConverter = async (samples) => convertSamples(samples);

/** Convert samples into one ConvertedData per device (telemetry grouped by timestamp). */
export function convertSamples(samples: Array<{ device: Device; key: DeviceKey; dv?: DataValue }>, now = Date.now()): ConvertedData[] {
  const byDevice = new Map<Device, ConvertedData>();
  for (const { device, key, dv } of samples) {
    let out = byDevice.get(device);
    if (!out) {
      out = { deviceName: device.name, deviceType: device.type, attributes: {}, telemetry: [] };
      if (device.mapping.reportStrategy) out.deviceStrategy = device.mapping.reportStrategy as ConvertedData["deviceStrategy"];
      byDevice.set(device, out);
    }
    const value = dv ? dataValueToJson(dv, key.nodeId?.toString() ?? key.refText) : key.constant;
    if (key.strategy) (out.keyStrategies ??= {})[key.key] = key.strategy;
    if (key.section === "attributes") {
      out.attributes![key.key] = value;
      continue;
    }
    const ts = tsOf(key, dv, now);
    let entry = out.telemetry!.find((e) => e.ts === ts);
    if (!entry) out.telemetry!.push((entry = { ts, values: {} }));
    entry.values[key.key] = value;
  }
  return [...byDevice.values()];
}

/** Read every resolved key of every device, in chunks of `maxPerRead`. */
export async function pollOnce(session: ClientSession, devices: Device[], maxPerRead: number, log: Logger, convert: SampleConverter = builtInConversion): Promise<ConvertedData[]> {
  const targets: Array<{ device: Device; key: DeviceKey }> = [];
  const samples: Array<{ device: Device; key: DeviceKey; dv?: DataValue }> = [];
  for (const device of devices) {
    for (const key of device.keys) {
      if (key.constant !== undefined) samples.push({ device, key });
      else if (key.nodeId && !key.missing) targets.push({ device, key });
    }
  }
  for (let i = 0; i < targets.length; i += maxPerRead) {
    const chunk = targets.slice(i, i + maxPerRead);
    const dvs = await session.read(chunk.map((t) => ({ nodeId: t.key.nodeId!, attributeId: AttributeIds.Value })));
    dvs.forEach((dv, j) => {
      const t = chunk[j]!;
      if (isGone(dv)) return markGone(t.device, t.key, dv, log);
      samples.push({ ...t, dv });
    });
  }
  return convert(samples);
}

export function markGone(device: Device, key: DeviceKey, dv: DataValue, log: Logger): void {
  if (!key.missing) log.warn(`device "${device.name}": node ${key.nodeId?.toString() ?? key.refText} for key "${key.key}" is gone (${dv.statusCode.name}); will pick it up when it returns`);
  key.missing = true;
  // Path references are resolved again (the node may come back with another id); node ids stay.
  if (key.ref && key.ref.kind !== "nodeId") key.nodeId = undefined;
}

/** Subscriptions for a set of devices, with batched conversion of notifications. */
export class SubscriptionSet {
  private subs = new Map<Device, ClientSubscription>();
  private queue: Sample[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly session: ClientSession,
    private readonly server: OpcuaServer,
    private readonly emit: (data: ConvertedData[]) => void,
    private readonly log: Logger,
    private readonly convert: SampleConverter = builtInConversion,
  ) {}

  /** Monitor the given keys of a device (creating its subscription on first use). */
  async monitor(device: Device, keys: DeviceKey[]): Promise<void> {
    const live = keys.filter((k) => k.nodeId && !k.missing);
    if (live.length === 0) return;
    let sub = this.subs.get(device);
    if (!sub) {
      sub = await this.session.createSubscription2({
        requestedPublishingInterval: this.server.subCheckPeriodInMillis,
        requestedLifetimeCount: 1000,
        requestedMaxKeepAliveCount: 10,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 1,
      });
      this.subs.set(device, sub);
    }
    const size = this.server.subscriptionProcessBatchSize;
    for (let i = 0; i < live.length; i += size) {
      const chunk = live.slice(i, i + size);
      const group = await sub.monitorItems(
        chunk.map((k) => ({ nodeId: k.nodeId!, attributeId: AttributeIds.Value })),
        { samplingInterval: this.server.subCheckPeriodInMillis, discardOldest: true, queueSize: 10 },
        TimestampsToReturn.Both,
      );
      group.on("changed", (_item, dv, index) => this.onChange(device, chunk[index]!, dv));
      group.monitoredItems.forEach((item, j) => {
        const code = item.statusCode;
        if (code && GONE.has(code.value)) markGone(device, chunk[j]!, { statusCode: code } as DataValue, this.log);
      });
    }
  }

  private onChange(device: Device, key: DeviceKey, dv: DataValue): void {
    if (this.closed) return;
    if (isGone(dv)) return markGone(device, key, dv, this.log);
    this.queue.push({ device, key, dv });
    if (this.queue.length >= this.server.subDataMaxBatchSize) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.server.subDataMinBatchCreationTimeMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0 || this.closed) return;
    this.convert(batch).then(
      (data) => this.closed || this.emit(data),
      (e) => this.log.error(`converting ${batch.length} notification(s) failed: ${errorText(e)}`),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.queue = [];
    const subs = [...this.subs.values()];
    this.subs.clear();
    await Promise.allSettled(subs.map((s) => s.terminate()));
  }
}
