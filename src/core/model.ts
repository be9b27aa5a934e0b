// The protocol-free data model every connector produces and the core consumes.
// Shapes follow the upstream "converted data" dict so stored records stay compatible.

export type ReportStrategyType =
  | "ON_RECEIVED"
  | "ON_CHANGE"
  | "ON_REPORT_PERIOD"
  | "ON_CHANGE_OR_REPORT_PERIOD"
  | "DISABLED";

export interface ReportStrategyConfig {
  type: ReportStrategyType;
  /** Period in ms for the periodic types. */
  reportPeriod?: number;
  /** Seconds a cached key lives in the report-strategy cache. */
  ttl?: number;
  aggregationFunction?: string;
}

export type DataValue = unknown;

/** One set of telemetry values sharing a timestamp. `ts` absent = stamp on receipt. */
export interface TelemetryEntry {
  ts?: number;
  values: Record<string, DataValue>;
}

/** What a converter hands to the core for one device. */
export interface ConvertedData {
  deviceName: string;
  deviceType?: string;
  attributes?: Record<string, DataValue>;
  telemetry?: TelemetryEntry[];
  /** Per-key report strategy that overrides the connector's (key > connector > gateway). */
  keyStrategies?: Record<string, ReportStrategyConfig>;
  /** Device-level strategy (e.g. set per mapping entry); below keyStrategies, above connector. */
  deviceStrategy?: ReportStrategyConfig;
}

/** Shared-attribute update delivered to the connector owning `device`. */
export interface AttributeUpdate {
  device: string;
  data: Record<string, DataValue>;
}

/**
 * Server-side RPC. `device` is set for RPC to a device behind the gateway, absent for a
 * connector-level RPC (gateway RPC method prefixed with the connector type, e.g. `modbus_read`).
 */
export interface RpcRequest {
  device?: string;
  id: number | string;
  method: string;
  params: unknown;
  /** Seconds the platform waits; the core replies 408 after it. */
  timeoutSeconds?: number;
}

/** What goes back to the platform as the RPC reply `data` (or the whole reply for gateway RPC). */
export type RpcReply = unknown;

/**
 * Returned by `onRpc` when the RPC is handled and, by configuration, gets no reply (upstream's
 * `withResponse: false`, e.g. OCPP): the core sends nothing back.
 */
export const NO_REPLY: unique symbol = Symbol("no reply");

export function isEmptyData(d: ConvertedData): boolean {
  const attrs = d.attributes ? Object.keys(d.attributes).length : 0;
  if (attrs > 0) return false;
  for (const e of d.telemetry ?? []) if (Object.keys(e.values).length > 0) return false;
  return true;
}
