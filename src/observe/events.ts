// Typed gateway events. Everything a user can see happening is one of these; logs, counters,
// statistics, the status socket and `tb-gw tail` all subscribe to the same stream.

export type GatewayEvent =
  | { kind: "uplink"; connector: string; device: string; telemetry: number; attributes: number; data?: unknown }
  | { kind: "stored"; records: number }
  | { kind: "dropped"; connector?: string; device?: string; reason: string; count: number }
  | { kind: "sent"; messages: number; datapoints: number; bytes: number }
  | {
      kind: "acked";
      records: number;
      datapoints: number;
      latencyMs?: number;
      /** The acknowledged records, in process only (bench latency); listeners must not keep or change it. */
      batch?: readonly string[];
    }
  | { kind: "platform"; state: "connecting" | "connected" | "disconnected"; detail?: string }
  | { kind: "device"; state: "connected" | "disconnected"; device: string; connector: string; deviceType?: string }
  | { kind: "connector"; name: string; state: "starting" | "running" | "stopped" | "failed"; detail?: string }
  | { kind: "downlink"; what: "attributes" | "rpc" | "rpc-reply"; device?: string; data: unknown }
  | { kind: "storage"; state: "full" | "ok"; depth: number; detail?: string };

export type GatewayEventKind = GatewayEvent["kind"];
export type Listener = (e: GatewayEvent) => void;

export class EventBus {
  private listeners = new Set<Listener>();

  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Cheap when nobody listens: hot paths may call this per message. */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  emit(e: GatewayEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a broken listener must never break the data path
      }
    }
  }
}
