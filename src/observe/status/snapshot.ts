// Builds the status object from the gateway's own counters (pipeline stats, sender stats,
// registries) plus what only events tell (platform and connector state, recent errors).
// Rates come from one sample per second; nothing here runs per message.

import pkg from "../../../package.json" with { type: "json" };
import { buildTarget } from "../../build-info.ts";
import type { Gateway } from "../../core/gateway.ts";
import type { Connector } from "../../core/connector.ts";
import type { GatewayEvent } from "../events.ts";
import { addLogSink } from "../logger.ts";
import type { ConnectorStatus, StatusSnapshot } from "./protocol.ts";

const RATE_WINDOW_S = 5;
const MAX_ERRORS = 20;

interface Sample {
  at: number;
  received: number;
  converted: number;
  sentMsgs: number;
  ackedDatapoints: number;
}

export class StatusTracker {
  private platformState: StatusSnapshot["platform"]["state"] = "connecting";
  private platformEndpoint = "";
  private connectorState = new Map<string, string>();
  private storageFull = false;
  private readonly errors: StatusSnapshot["errors"] = [];
  private samples: Sample[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly gw: Gateway) {}

  start(): void {
    this.platformState = this.gw.platform.ready ? "connected" : "connecting";
    this.unsubscribe.push(this.gw.events.on((e) => this.onEvent(e), ["platform", "connector", "storage"]));
    this.unsubscribe.push(
      addLogSink((r) => {
        if (r.level !== "ERROR" && r.level !== "CRITICAL" && r.level !== "WARNING") return;
        this.remember(r.ts, `${r.level} [${r.scope}] ${r.message}`);
      }),
    );
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }

  private remember(at: number, message: string): void {
    this.errors.push({ at, message: message.slice(0, 500) });
    if (this.errors.length > MAX_ERRORS) this.errors.shift();
  }

  private onEvent(e: GatewayEvent): void {
    switch (e.kind) {
      case "platform":
        this.platformState = e.state;
        if (e.detail && e.state === "connecting") this.platformEndpoint = e.detail;
        break;
      case "connector":
        this.connectorState.set(e.name, e.state);
        if (e.state === "failed") this.remember(Date.now(), `connector ${e.name} failed${e.detail ? `: ${e.detail}` : ""}`);
        break;
      case "storage":
        this.storageFull = e.state === "full";
        break;
    }
  }

  private totals(): StatusSnapshot["totals"] {
    const t = { received: 0, converted: 0, stored: 0, sent: 0, acked: 0, dropped: 0, sentMessages: 0 };
    for (const s of this.gw.pipeline.stats.values()) {
      t.received += s.messagesReceived;
      t.converted += s.datapointsReceived;
      t.stored += s.recordsStored;
      t.dropped += s.dropped;
    }
    const snd = this.gw.senderStats;
    t.sent = snd.datapointsSent;
    t.acked = snd.datapointsAcked;
    t.sentMessages = snd.messagesSent;
    return t;
  }

  private sample(): void {
    const t = this.totals();
    this.samples.push({ at: Date.now(), received: t.received, converted: t.converted, sentMsgs: t.sentMessages, ackedDatapoints: t.acked });
    if (this.samples.length > RATE_WINDOW_S + 1) this.samples.shift();
  }

  private rates(): StatusSnapshot["rates"] {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at === first.at) return { receivedMsgs: 0, convertedDatapoints: 0, sentMsgs: 0, ackedDatapoints: 0 };
    const s = (last.at - first.at) / 1000;
    const r = (k: keyof Omit<Sample, "at">) => Math.round(((last[k] - first[k]) / s) * 10) / 10;
    return { receivedMsgs: r("received"), convertedDatapoints: r("converted"), sentMsgs: r("sentMsgs"), ackedDatapoints: r("ackedDatapoints") };
  }

  connectors(): ConnectorStatus[] {
    const out: ConnectorStatus[] = [];
    const running = new Map(this.gw.connectors.all().map((c) => [c.name, c]));
    const sent = this.gw.senderStats.perConnector;
    const names = new Set<string>([...this.gw.opts.connectors.map((c) => c.entry.name), ...running.keys(), ...this.gw.pipeline.stats.keys(), ...sent.keys()]);
    for (const name of names) {
      const cfg = this.gw.opts.connectors.find((c) => c.entry.name === name);
      const st = this.gw.pipeline.stats.get(name);
      const state = this.connectorState.get(name) ?? (running.has(name) ? "running" : cfg ? "not running" : "internal");
      out.push({
        name,
        type: running.get(name)?.type ?? cfg?.entry.type ?? "",
        state,
        received: st?.messagesReceived ?? 0,
        converted: st?.datapointsReceived ?? 0,
        stored: st?.recordsStored ?? 0,
        dropped: st?.dropped ?? 0,
        sent: sent.get(name)?.datapointsSent ?? 0,
        acked: sent.get(name)?.datapointsAcked ?? 0,
        ...countersOf(running.get(name)?.connector),
      });
    }
    return out;
  }

  snapshot(): StatusSnapshot {
    const devices = [...this.gw.devices.all()].map((d) => ({ name: d.name, connector: d.connectorName, type: d.deviceType, lastSeen: d.lastActivity }));
    devices.sort((a, b) => b.lastSeen - a.lastSeen);
    const tb = this.gw.opts.config.thingsboard;
    return {
      kind: "status",
      at: Date.now(),
      pid: process.pid,
      version: pkg.version,
      target: buildTarget ?? "source",
      configPath: this.gw.opts.configPath,
      uptimeSeconds: Math.round((Date.now() - this.gw.startedAt) / 1000),
      platform: { state: this.gw.platform.ready ? "connected" : this.platformState === "connected" ? "disconnected" : this.platformState, endpoint: this.platformEndpoint || `${tb.host}:${tb.port}` },
      storage: { kind: this.gw.storage.kind, depth: this.gw.storage.depth(), full: this.storageFull },
      connectors: this.connectors(),
      devices,
      deviceCount: this.gw.devices.size,
      totals: this.totals(),
      rates: this.rates(),
      errors: [...this.errors],
    };
  }
}

/** A connector's own counters for its status row; none when it keeps none or they cannot be read. */
function countersOf(connector: Connector | undefined): { counters?: Record<string, number> } {
  try {
    const c = connector?.ownCounters?.();
    return c ? { counters: { ...c } } : {};
  } catch {
    return {};
  }
}
