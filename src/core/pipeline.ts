// Uplink: connector data → device filter → report strategy → device registry → storage.
// Everything here is on the hot path: no per-datapoint allocation beyond the record itself.

import type { SendStatus } from "./connector.ts";
import type { ConvertedData } from "./model.ts";
import { toRecords } from "./records.ts";
import type { ReportStrategyService } from "./report-strategy.ts";
import type { DeviceInfo, DeviceRegistry } from "./devices.ts";
import type { DeviceFilter } from "./device-filter.ts";
import type { EventStorage } from "../storage/types.ts";
import type { EventBus } from "../observe/events.ts";
import type { Logger } from "../observe/logger.ts";

export interface PipelineDeps {
  storage: EventStorage;
  devices: DeviceRegistry;
  strategies: ReportStrategyService;
  filter: DeviceFilter;
  events: EventBus;
  log: Logger;
  /** Current record size limit (platform payload limit). */
  maxRecordBytes: () => number;
  /** A device is new or moved connector: announce it to the platform. */
  announce: (d: DeviceInfo, connectorType: string) => void;
  now?: () => number;
}

export interface ConnectorStats {
  messagesReceived: number;
  datapointsReceived: number;
  recordsStored: number;
  dropped: number;
}

/** The answer once storage holds the data (one function for every message, not a closure each). */
const stored = (): SendStatus => "SUCCESS";

export class Pipeline {
  readonly stats = new Map<string, ConnectorStats>();
  private fullSince = 0;
  private refused = 0;

  constructor(private readonly d: PipelineDeps) {}

  statsFor(connector: string): ConnectorStats {
    let s = this.stats.get(connector);
    if (!s) {
      s = { messagesReceived: 0, datapointsReceived: 0, recordsStored: 0, dropped: 0 };
      this.stats.set(connector, s);
    }
    return s;
  }

  /**
   * Accept data from a connector. Resolves once the data is in storage (durably for sqlite/file),
   * so a connector may acknowledge its source then.
   */
  send(connectorName: string, connectorId: string, connectorType: string, data: ConvertedData | ConvertedData[]): Promise<SendStatus> {
    const status = Array.isArray(data) ? this.putMany(connectorName, connectorId, connectorType, data) : this.putOne(connectorName, connectorId, connectorType, data);
    if (status !== "SUCCESS") return Promise.resolve(status);
    return this.d.storage.whenDurable().then(stored);
  }

  /** Data produced by the core itself (periodic report-strategy resends). */
  inject(connectorName: string, data: ConvertedData): void {
    this.putOne(connectorName, "", "", data, true);
  }

  private putMany(connectorName: string, connectorId: string, connectorType: string, list: ConvertedData[]): SendStatus {
    let status: SendStatus = "SUCCESS";
    for (const item of list) {
      const s = this.putOne(connectorName, connectorId, connectorType, item);
      // NOT_STORED wins: part of the batch must be kept by its source (duplicates over loss)
      if (s === "NOT_STORED" || (s === "FAILURE" && status === "SUCCESS")) status = s;
    }
    return status;
  }

  private putOne(connectorName: string, connectorId: string, connectorType: string, raw: ConvertedData, periodic = false): SendStatus {
    const stats = this.statsFor(connectorName);
    stats.messagesReceived++;
    if (!raw || typeof raw.deviceName !== "string" || raw.deviceName === "") {
      this.drop(connectorName, undefined, "data without a device name", 1);
      return "FAILURE";
    }
    if (this.d.filter.denied(connectorName, raw.deviceName)) {
      this.drop(connectorName, raw.deviceName, "device denied by the device filter", 1);
      return "FORBIDDEN_DEVICE";
    }
    const data = periodic ? raw : this.d.strategies.filter(connectorName, raw);
    if (!data) return "SUCCESS";
    const now = this.d.now?.() ?? Date.now();
    let known: DeviceInfo | undefined;
    if (periodic) known = this.d.devices.get(data.deviceName);
    else {
      // touch keeps the registered type unless the data names one, so its entry gives the same
      // type as a lookup before it would, without a second lookup per message
      const { info, changed } = this.d.devices.touch(data.deviceName, connectorName, connectorId, data.deviceType, now);
      if (changed || !info.announced) this.d.announce(info, connectorType);
      known = info;
    }
    const deviceType = data.deviceType ?? known?.deviceType ?? "default";
    const records = toRecords(data, deviceType, now, this.d.maxRecordBytes());
    if (records.length === 0) return "SUCCESS";
    const result = this.d.storage.put(records);
    if (result !== "stored") {
      this.drop(connectorName, data.deviceName, result === "full" ? "storage full" : "storage closed", records.length);
      return "NOT_STORED";
    }
    stats.recordsStored += records.length;
    if (this.fullSince) {
      // the storage itself logs the episode (with counts); here only the event
      this.d.events.emit({ kind: "storage", state: "ok", depth: this.d.storage.depth() });
      this.fullSince = 0;
      this.refused = 0;
    }
    // Counted without allocating (for-in), whether or not anyone listens: the status counters
    // need it; the event object is built only for a listener of uplink events.
    let attrs = 0;
    let tele = 0;
    if (data.attributes) for (const _ in data.attributes) attrs++;
    if (data.telemetry) for (const e of data.telemetry) for (const _ in e.values) tele++;
    stats.datapointsReceived += attrs + tele;
    if (this.d.events.wants("uplink")) {
      this.d.events.emit({ kind: "uplink", connector: connectorName, device: data.deviceName, telemetry: tele, attributes: attrs, data, at: now });
    }
    return "SUCCESS";
  }

  /** Messages a connector dropped itself (and logged): counted and announced, not logged again. */
  countDropped(connector: string, device: string | undefined, reason: string, count: number): void {
    this.statsFor(connector).dropped += count;
    this.d.events.emit({ kind: "dropped", connector, device, reason, count });
  }

  private drop(connector: string, device: string | undefined, reason: string, count: number): void {
    this.statsFor(connector).dropped += count;
    this.d.events.emit({ kind: "dropped", connector, device, reason, count });
    if (reason === "storage full") {
      if (!this.fullSince) {
        this.fullSince = Date.now();
        this.d.events.emit({ kind: "storage", state: "full", depth: this.d.storage.depth() });
      }
      this.refused += count;
      return;
    }
    this.d.log.warn(`${connector}: dropped ${count} message(s)${device ? ` of ${device}` : ""}: ${reason}`);
  }
}
