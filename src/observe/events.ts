// Typed gateway events. Everything a user can see happening is one of these; logs, counters,
// statistics, the status socket and `tb-gw tail` all subscribe to the same stream.

export type GatewayEvent =
  | { kind: "uplink"; connector: string; device: string; telemetry: number; attributes: number; data?: unknown; /** the time stamped on values without their own ts */ at?: number }
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
  private listeners = new Map<Listener, ReadonlySet<GatewayEventKind> | undefined>();
  /** Listeners of every kind, and per kind the listeners that asked for it. */
  private unfiltered = 0;
  private perKind = new Map<GatewayEventKind, number>();

  /** Listen to every event, or only to `kinds` (hot paths skip building events nobody wants). */
  on(l: Listener, kinds?: readonly GatewayEventKind[]): () => void {
    if (this.listeners.has(l)) return () => this.off(l);
    const set = kinds ? new Set(kinds) : undefined;
    this.listeners.set(l, set);
    if (set) for (const k of set) this.perKind.set(k, (this.perKind.get(k) ?? 0) + 1);
    else this.unfiltered++;
    return () => this.off(l);
  }

  private off(l: Listener): boolean {
    if (!this.listeners.has(l)) return false;
    const set = this.listeners.get(l);
    this.listeners.delete(l);
    if (set) for (const k of set) this.perKind.set(k, (this.perKind.get(k) ?? 1) - 1);
    else this.unfiltered--;
    return true;
  }

  /** Cheap when nobody listens: hot paths may call this per message. */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  /** Someone listens to events of this kind. */
  wants(kind: GatewayEventKind): boolean {
    return this.unfiltered > 0 || (this.perKind.get(kind) ?? 0) > 0;
  }

  emit(e: GatewayEvent): void {
    for (const [l, kinds] of this.listeners) {
      if (kinds && !kinds.has(e.kind)) continue;
      try {
        l(e);
      } catch {
        // a broken listener must never break the data path
      }
    }
  }
}
