// What the status socket speaks: newline-delimited JSON both ways. Shared by the server in
// `tb-gw run` and by `tb-gw tail`, so both sides agree on one set of shapes.
//
// Client → server, one object per line:
//   {"cmd":"status"}                        → one StatusSnapshot line, then the server closes
//   {"cmd":"subscribe","kinds":["uplink"]}  → a stream of WireEvent lines until either side closes;
//                                             kind "status" adds a StatusSnapshot line every second
// Server → client errors: {"kind":"error","message":"..."}.

import type { GatewayEvent, GatewayEventKind } from "../events.ts";

export type SubscribeKind = GatewayEventKind | "status";

export type ClientRequest = { cmd: "status" } | { cmd: "subscribe"; kinds?: SubscribeKind[] };

export interface ConnectorStatus {
  name: string;
  type: string;
  state: string;
  received: number;
  converted: number;
  stored: number;
  dropped: number;
  /** Datapoints of this connector's devices published to the platform, and acknowledged by it. */
  sent: number;
  acked: number;
  /** The connector's own counters since it started (Connector.ownCounters), when it keeps any. */
  counters?: Record<string, number>;
}

export interface DeviceStatus {
  name: string;
  connector: string;
  type: string;
  lastSeen: number;
}

export interface StatusSnapshot {
  kind: "status";
  at: number;
  pid: number;
  version: string;
  /** What the executable was built for ("linux-arm64"), or "source" when run from source. */
  target?: string;
  configPath: string;
  uptimeSeconds: number;
  platform: { state: "connecting" | "connected" | "disconnected"; endpoint: string };
  storage: { kind: string; depth: number; full: boolean };
  connectors: ConnectorStatus[];
  devices: DeviceStatus[];
  deviceCount: number;
  totals: { received: number; converted: number; stored: number; sent: number; acked: number; dropped: number; sentMessages: number };
  /** Per second, over the last few seconds. */
  rates: { receivedMsgs: number; convertedDatapoints: number; sentMsgs: number; ackedDatapoints: number };
  errors: Array<{ at: number; message: string }>;
}

/** A gateway event as sent on the wire: the event plus the time the gateway saw it. */
export type WireEvent = GatewayEvent & { at: number };

export type ServerLine = StatusSnapshot | WireEvent | { kind: "error"; message: string } | { kind: "lost"; count: number };
