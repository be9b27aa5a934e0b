// Prometheus text exposition (format 0.0.4) of the status counters. Hand-written: it is a few
// lines of text from numbers we already keep, so a metrics registry (prom-client) would only
// duplicate the counters and add a second source of truth.

import type { StatusSnapshot } from "./protocol.ts";

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Label of sent/acked datapoints no connector owns. */
export const GATEWAY_LABEL = "(gateway)";

export function renderMetrics(s: StatusSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string, rows: Array<[Record<string, string>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(",");
      out.push(`${name}${l ? `{${l}}` : ""} ${Number.isFinite(v) ? v : 0}`);
    }
  };
  const per = (pick: (c: StatusSnapshot["connectors"][number]) => number) => s.connectors.map((c) => [{ connector: c.name }, pick(c)] as [Record<string, string>, number]);
  family("tbgw_received_messages_total", "counter", "Messages received from connectors.", per((c) => c.received));
  family("tbgw_converted_datapoints_total", "counter", "Datapoints converted (attributes and telemetry values).", per((c) => c.converted));
  family("tbgw_stored_records_total", "counter", "Records written to event storage.", per((c) => c.stored));
  family("tbgw_dropped_total", "counter", "Messages or records dropped (bad data, device filter, storage full).", per((c) => c.dropped));
  // Sent/acked per connector; what no connector owns (the gateway's own statistics, devices
  // removed meanwhile) under connector="(gateway)", so the series of a family sum to the total.
  const perWithRest = (pick: (c: StatusSnapshot["connectors"][number]) => number, total: number) => {
    const rows = per(pick);
    const rest = total - rows.reduce((a, [, v]) => a + v, 0);
    if (rest > 0) rows.push([{ connector: GATEWAY_LABEL }, rest]);
    return rows;
  };
  family("tbgw_sent_datapoints_total", "counter", "Datapoints published to the platform.", perWithRest((c) => c.sent, s.totals.sent));
  family("tbgw_acked_datapoints_total", "counter", "Datapoints the platform acknowledged.", perWithRest((c) => c.acked, s.totals.acked));
  family("tbgw_sent_messages_total", "counter", "Publishes to the platform (one may carry several connectors' data).", [[{}, s.totals.sentMessages]]);
  // Connectors' own counters (e.g. CAN frames received/converted/dropped), one series per name.
  const own = s.connectors.flatMap((c) => Object.entries(c.counters ?? {}).map(([counter, v]) => [{ connector: c.name, counter }, v] as [Record<string, string>, number]));
  if (own.length) family("tbgw_connector_counter_total", "counter", "A connector's own counters since it started (what happens on its wire).", own);
  family("tbgw_connector_up", "gauge", "1 when the connector runs.", s.connectors.map((c) => [{ connector: c.name, type: c.type }, c.state === "running" ? 1 : 0]));
  family("tbgw_devices", "gauge", "Devices known to the gateway.", [[{}, s.deviceCount]]);
  family("tbgw_storage_depth_records", "gauge", "Records waiting in storage for the platform.", [[{ storage: s.storage.kind }, s.storage.depth]]);
  family("tbgw_platform_connected", "gauge", "1 when the platform session is up.", [[{}, s.platform.state === "connected" ? 1 : 0]]);
  family("tbgw_uptime_seconds", "gauge", "Seconds since the gateway started.", [[{}, s.uptimeSeconds]]);
  return `${out.join("\n")}\n`;
}
