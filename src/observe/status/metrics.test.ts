// Connectors' own counters (Connector.ownCounters, e.g. CAN frames) in the Prometheus text.

import { expect, test } from "bun:test";
import { renderMetrics } from "./metrics.ts";
import type { ConnectorStatus, StatusSnapshot } from "./protocol.ts";

const row = (name: string, counters?: Record<string, number>): ConnectorStatus => ({ name, type: "can", state: "running", received: 0, converted: 0, stored: 0, dropped: 0, sent: 0, acked: 0, ...(counters ? { counters } : {}) });

const snapshot = (connectors: ConnectorStatus[]): StatusSnapshot => ({
  kind: "status",
  at: 0,
  pid: 1,
  version: "0",
  configPath: "/x",
  uptimeSeconds: 0,
  platform: { state: "connected", endpoint: "127.0.0.1:1883" },
  storage: { kind: "memory", depth: 0, full: false },
  connectors,
  devices: [],
  deviceCount: 0,
  totals: { received: 0, converted: 0, stored: 0, sent: 0, acked: 0, dropped: 0, sentMessages: 0 },
  rates: { receivedMsgs: 0, convertedDatapoints: 0, sentMsgs: 0, ackedDatapoints: 0 },
  errors: [],
});

test("a connector's own counters are one series each, labelled with connector and counter", () => {
  const text = renderMetrics(snapshot([row("CAN bus", { framesReceived: 1300, framesDropped: 200 }), row("Other")]));
  expect(text).toContain("# TYPE tbgw_connector_counter_total counter");
  expect(text).toContain('tbgw_connector_counter_total{connector="CAN bus",counter="framesReceived"} 1300');
  expect(text).toContain('tbgw_connector_counter_total{connector="CAN bus",counter="framesDropped"} 200');
  expect(text).not.toContain('connector="Other",counter=');
});

test("no connector with own counters: no such family", () => {
  expect(renderMetrics(snapshot([row("Other")]))).not.toContain("tbgw_connector_counter_total");
});
